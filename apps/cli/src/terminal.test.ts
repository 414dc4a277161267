import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, runCli } from './test-support/run-cli.js';
import { tinyGrid, tinyTrainFlags } from './test-support/tiny-runs.js';

// What a person sees: the CLI on a real terminal (tmux), its screen read back with capture-pane.
const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const ci = process.env.CI === 'true';
if (!hasTmux && !ci) console.warn('terminal.test.ts skipped: tmux is not installed (apt-get install -y tmux); under CI=true this fails');

let scratch = '';
// A server of our own, its socket in the scratch directory, so that the user's tmux sessions are never touched.
const tmux = (...args: string[]) => execFileSync('tmux', ['-S', join(scratch, 'tmux.socket'), ...args], { encoding: 'utf8' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 3 well-separated classes, a small network, 3 epochs. */
const SMALL = tinyTrainFlags({ maxEpochs: 3 });
/** 4 tiny runs: softmax and HPNs over random prototypes in 2, 3 and 4 dimensions. */
const grid = tinyGrid(
  'tiny',
  1,
  [
    { id: 'softmax', head: 'softmax' },
    ...[2, 3, 4].map((dims) => ({ id: `random-${dims}`, head: 'hpn', prototypes: { strategy: 'random', dims } })),
  ],
  { maxEpochs: 3, patience: 2 },
);

interface Session {
  exitCode: number;
  /** The screens seen while the command ran. */
  screens: string[];
  /** The whole final screen and scrollback, wrapped lines joined, trailing blanks removed. */
  lines: string[];
  /** Every byte the command wrote to the terminal. */
  raw: string;
}

let sessions = 0;

/** Types the command into a shell on a 160 x 50 terminal, as a person would, and watches until it exits. */
async function onTerminal(args: string[], env = ''): Promise<Session> {
  const name = `s${++sessions}`;
  const rawFile = join(scratch, `${name}.raw`);
  writeFileSync(rawFile, '');
  // NO_COLOR set: the raw bytes must then hold no colour codes.
  tmux('new-session', '-d', '-s', name, '-x', '160', '-y', '50', '-c', scratch, `env -u CI NO_COLOR=1 PS1='$ ' bash --norc --noprofile`);
  try {
    tmux('pipe-pane', '-t', name, `cat >> ${rawFile}`);
    tmux('send-keys', '-t', name, '-l', `${env}node ${CLI_BIN} ${args.join(' ')}; echo "EXIT=$?"`);
    tmux('send-keys', '-t', name, 'Enter');
    const screens: string[] = [];
    const deadline = Date.now() + 100_000;
    let exit: RegExpExecArray | null = null;
    while (!exit) {
      if (Date.now() > deadline) throw new Error(`no exit within 100 s:\n${screens.at(-1)}`);
      await sleep(100);
      const screen = tmux('capture-pane', '-p', '-t', name);
      screens.push(screen);
      exit = /^EXIT=(\d+)/m.exec(screen);
    }
    const lines = tmux('capture-pane', '-p', '-J', '-S', '-', '-t', name)
      .split('\n')
      .map((line) => line.trimEnd());
    while (lines.at(-1) === '' || lines.at(-1) === '$') lines.pop();
    return { exitCode: Number(exit[1]), screens, lines, raw: readFileSync(rawFile, 'utf8') };
  } finally {
    tmux('kill-session', '-t', name);
  }
}

const barLine = /^(experiment|dataset|prototypes|training) +\[[█░]+\]/;
const etaValue = /\| ETA ([^|]*?)(?: \||$)/;

/** One display: a single bar line, above the summary, and no colour codes. */
function expectCleanScreen(session: Session, summaryStart: number): number {
  const bars = session.lines.flatMap((line, i) => (barLine.test(line) ? [i] : []));
  expect(bars, session.lines.join('\n')).toHaveLength(1);
  expect(bars[0]!).toBeLessThan(summaryStart);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is what an ANSI colour code starts with
  expect(session.raw).not.toMatch(/\x1b\[[\d;]*m/);
  // Every ETA says its unit; cli-progress' own would say `INF` or a bare number.
  for (const screen of session.screens) {
    for (const line of screen.split('\n')) {
      const eta = etaValue.exec(line)?.[1];
      if (eta !== undefined) expect(eta, line).toMatch(/^(\?|\d+s|\d+m \d+s|\d+h \d+m)$/);
    }
  }
  return bars[0]!;
}

/** Skip notes appear only as whole lines: `expected` once each, nothing else. */
function expectSkipNotes(lines: string[], expected: string[]): void {
  const notes = lines.filter((line) => line.includes('skipped ['));
  expect(notes.sort()).toEqual([...expected].sort());
}

describe.skipIf(!hasTmux && !ci)('on a real terminal (tmux)', () => {
  /** The engine skip notes of this machine, as `train --json` reports them. */
  let skipNotes: string[];

  beforeAll(async () => {
    if (!hasTmux) throw new Error('tmux is not installed: under CI=true the terminal tests must run (apt-get install -y tmux)');
    scratch = realpathSync(mkdtempSync(join(tmpdir(), 'hyperproto-terminal-')));
    writeFileSync(join(scratch, 'tiny.json'), JSON.stringify(grid));
    // One server for every test, kept by a session of its own: a server ends with its last session, and a new
    // session asked for while it is still ending fails ("server exited unexpectedly").
    tmux('new-session', '-d', '-s', 'keep', '-c', scratch, 'sleep 3600');
    const reference = await runCli(['train', ...SMALL, '--out', 'reference-json', '--json'], scratch);
    expect(reference.code, reference.stderr).toBe(0);
    skipNotes = (JSON.parse(reference.stdout) as { skipped: string[] }).skipped.map((reason) => `skipped ${reason}`);
  });
  afterAll(() => {
    if (!scratch) return;
    // Also when a test stopped half-way.
    execFileSync('sh', ['-c', `tmux -S '${join(scratch, 'tmux.socket')}' kill-server 2>/dev/null || true`]);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('experiment: the runner ETA with its unit while it runs, the summary intact below the one bar, no skip notes', async () => {
    const run = await onTerminal(['experiment', '--grid', 'tiny.json', '--out', 'plain', '--workers', '1']);
    expect(run.exitCode, run.lines.join('\n')).toBe(0);
    const out = join(scratch, 'plain');
    const summary = run.lines.findIndex((line) => line.startsWith('tiny: '));
    expect(run.lines.slice(summary)).toEqual([
      expect.stringMatching(/^tiny: 4 run\(s\) done now, 0 already finished, 0 failed, of 4; \d+s on 1 worker\(s\)$/),
      `  results ${out}/results.jsonl`,
      `  report  ${out}/report.md`,
      `          ${out}/report.html`,
      expect.stringMatching(new RegExp(`^  models  ${out}/models \\(--save-models best\\): \\d+ held$`)),
      'EXIT=0',
    ]);
    const bar = expectCleanScreen(run, summary);
    expect(run.lines[bar]).toMatch(/^experiment +\[█+\] 4\/4 \| ETA 0s \| /);
    expect(run.lines).toContain('4 of 4 runs to do (0 already finished), on 1 worker thread');
    // While runs were left, the bar said how long they would take.
    const running = run.screens
      .flatMap((screen) => screen.split('\n'))
      .filter((line) => /^experiment +\[.*\] [0-3]\/4 \| ETA \d+(s|m \d+s|h \d+m) \|/.test(line));
    expect(running.length, run.screens.at(-1)).toBeGreaterThan(0);
    expectSkipNotes(run.lines, []);
  });

  it('experiment --verbose: each engine skip note once, whole, above the bar', async () => {
    const run = await onTerminal(['experiment', '--grid', 'tiny.json', '--out', 'verbose', '--workers', '2', '--verbose']);
    expect(run.exitCode, run.lines.join('\n')).toBe(0);
    const bar = expectCleanScreen(
      run,
      run.lines.findIndex((line) => line.startsWith('tiny: ')),
    );
    expectSkipNotes(run.lines, skipNotes);
    for (const note of skipNotes) expect(run.lines.indexOf(note)).toBeLessThan(bar);
  });

  it('train: the summary is the same as off a terminal, whole, below the bar; skip notes only with --verbose', async () => {
    // The summary as a script sees it; seconds and the directory differ from run to run.
    const reference = await runCli(['train', ...SMALL, '--out', 'train-reference'], scratch);
    expect(reference.code, reference.stderr).toBe(0);
    const normalise = (lines: string[]) =>
      lines.map((line) => line.replaceAll(/train-(reference|plain|verbose)/g, 'OUT').replaceAll(/\d+(\.\d+)?/g, '#'));
    const expected = normalise(reference.stdout.trimEnd().split('\n'));

    for (const verbose of [false, true]) {
      const run = await onTerminal([
        'train',
        ...SMALL,
        '--out',
        verbose ? 'train-verbose' : 'train-plain',
        ...(verbose ? ['--verbose'] : []),
      ]);
      expect(run.exitCode, run.lines.join('\n')).toBe(0);
      const summary = run.lines.length - 1 - expected.length;
      expect(normalise(run.lines.slice(summary))).toEqual([...expected, 'EXIT=#']);
      const bar = expectCleanScreen(run, summary);
      expect(run.lines[bar]).toMatch(/^training +\[█+░*\] \d\/3 \| ETA \d+s \| /);
      expectSkipNotes(run.lines, verbose ? skipNotes : []);
    }
  });

  it('draws no progress with --json, --quiet or CI=true', async () => {
    for (const [args, env] of [
      [['--json'], ''],
      [['--quiet'], ''],
      [[], 'CI=true '],
    ] as const) {
      const run = await onTerminal(['train', ...SMALL, '--out', `no-bar-${args.join('') || 'ci'}`, ...args], env);
      expect(run.exitCode, run.lines.join('\n')).toBe(0);
      expect(run.lines.filter((line) => barLine.test(line))).toEqual([]);
      expect(run.raw).not.toMatch(/\[[█░]+\]/);
    }
  });
});
