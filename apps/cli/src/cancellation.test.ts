// Cooperative cancellation: each long command, started as users start it, stops within 2 s of a Ctrl-C with exit
// code 130 and leaves no staged (.partial-*) output behind.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMatrix, createRng } from '@hyperproto/core';
import { parseResults, RESULTS_FILE, SESSIONS_FILE } from '@hyperproto/experiments';
import { encodeNpy } from '@hyperproto/npy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN } from './test-support/run-cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-cancel-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

beforeAll(() => {
  // 20,000 x 300 random rows: inspecting them scans 2e8 pairs, far longer than a second.
  const rows = 20_000;
  const dims = 300;
  writeFileSync(join(scratch, 'big.npy'), encodeNpy(createMatrix(rows, dims, createRng(1).fillNormal(new Float32Array(rows * dims)))));
});

interface Interrupted {
  readonly code: number | null;
  /** The signal that ended the process, when one did (a second Ctrl-C). */
  readonly signal: NodeJS.Signals | null;
  /** Seconds from the last Ctrl-C to the exit. */
  readonly stopSeconds: number;
  readonly stderr: string;
}

/** When to press Ctrl-C: milliseconds after the start, or after text first appears on stderr. */
type Moment = number | { readonly seen: RegExp; readonly thenMs: number };

/**
 * Starts the CLI, presses Ctrl-C (SIGINT) at `moment` and, with `again`, once more as soon as the CLI says it is
 * stopping, and measures how long it takes to exit after the last press.
 */
function interrupt(args: string[], moment: Moment = 1000, again = false): Promise<Interrupted> {
  return new Promise((done, fail) => {
    const child = spawn('node', [CLI_BIN, ...args], { cwd: scratch, env: { ...process.env, CI: 'true' } });
    let stderr = '';
    let sentAt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let pressedAgain = false;
    const press = () => {
      sentAt = performance.now();
      child.kill('SIGINT');
    };
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (typeof moment === 'object' && !timer && moment.seen.test(stderr)) timer = setTimeout(press, moment.thenMs);
      // At once, as a user who reads the line does: a later press could find the run already stopped on its own.
      if (again && !pressedAgain && /press Ctrl-C again/.test(stderr)) {
        pressedAgain = true;
        press();
      }
    });
    child.stdout.resume();
    if (typeof moment === 'number') timer = setTimeout(press, moment);
    // A command that ignores the signal is killed, and the test then fails on its timing.
    const guard = setTimeout(() => child.kill('SIGKILL'), (typeof moment === 'number' ? moment : 30_000) + 20_000);
    child.on('error', fail);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      done({ code, signal, stopSeconds: sentAt ? (performance.now() - sentAt) / 1000 : -1, stderr });
    });
  });
}

const partials = () => readdirSync(scratch, { recursive: true }).filter((name) => String(name).includes('.partial-'));

describe('Ctrl-C stops every long command within 2 s with exit code 130', () => {
  it.each([
    ['train on a big gaussian', ['train', '--classes', '1000', '--head', 'softmax', '--out', 'run-train']],
    ['train with optimized prototypes', ['train', '--classes', '1000', '--head', 'hpn', '--prototypes', 'optimized', '--out', 'run-hpn']],
    ['prototypes --strategy spread', ['prototypes', '--strategy', 'spread', '--classes', '20000', '--dims', '100', '--out', 'spread.npy']],
    [
      'prototypes --strategy optimized',
      ['prototypes', '--strategy', 'optimized', '--classes', '5000', '--dims', '100', '--out', 'opt.npy'],
    ],
    [
      'prototypes --strategy orthogonal',
      ['prototypes', '--strategy', 'orthogonal', '--classes', '4000', '--dims', '4000', '--out', 'orth.npy'],
    ],
    ['prototypes inspect on a big file', ['prototypes', 'inspect', 'big.npy']],
    ['experiment', ['experiment', '--preset', 'seed-quick', '--out', 'grid', '--workers', '1']],
  ])(
    '%s',
    async (_name, args) => {
      const run = await interrupt(args);
      expect(run.stopSeconds, run.stderr).toBeGreaterThan(0);
      expect(run.code, run.stderr).toBe(130);
      // A grid's run stops at its next check, or when the short native call in flight returns.
      expect(run.stopSeconds, run.stderr).toBeLessThan(2);
      expect(run.stderr).not.toMatch(/internal error| {4}at /);
      expect(partials()).toEqual([]);
    },
    40_000,
  );
});

describe('Ctrl-C while an experiment thread is inside an onnxruntime call', () => {
  // Two runs at once on the onnxruntime engine: a tiny one that finishes, and one whose every onnxruntime call takes
  // a second or more (2,048-row batches through 2,000 hidden units into 2,000 classes, one core per thread), so the
  // Ctrl-C that follows the tiny run's record lands inside a native training step. Ending such a thread from outside
  // (Worker.terminate, or process.exit) aborted the whole process when the call returned.
  const grid = {
    name: 'native-steps',
    seeds: 1,
    engine: 'onnxruntime',
    evaluators: [{ name: 'classification', options: { perClass: false } }],
    datasets: [
      { id: 'c3', name: 'gaussian', options: { classes: 3, sigma: 0.5, trainPerClass: 40, validationPerClass: 20, testPerClass: 20 } },
      {
        id: 'c2000',
        name: 'gaussian',
        options: { classes: 2000, sigma: 1, inputWidth: 20, trainPerClass: 2, validationPerClass: 1, testPerClass: 1 },
      },
    ],
    models: [
      { id: 'tiny', head: 'softmax', datasets: ['c3'], trainer: { hiddenUnits: 16, maxEpochs: 3 } },
      {
        id: 'wide',
        head: 'softmax',
        datasets: ['c2000'],
        trainer: { hiddenUnits: 2000, batchSize: 2048, maxEpochs: 200, patience: 200 },
      },
    ],
  };
  const experiment = (out: string) => [
    'experiment',
    '--grid',
    'native-steps.json',
    '--out',
    out,
    '--workers',
    '2',
    '--save-models',
    'none',
  ];
  const tinyRecorded = { seen: /\[1\/2\] c3\/tiny\/s0: macro-F1/, thenMs: 1000 };
  const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

  beforeAll(() => writeFileSync(join(scratch, 'native-steps.json'), JSON.stringify(grid)));

  it('stops once the call returns: exit 130, no native abort, the session recorded as interrupted, results.jsonl whole', async () => {
    const run = await interrupt(experiment('native-stop'), tinyRecorded);
    expect(run.stderr).not.toMatch(/terminate called|Napi/);
    expect(run.code, run.stderr).toBe(130);
    expect(run.stderr).toMatch(/error E_ABORTED: interrupted: 1 of 2 runs are finished/);
    // The call in flight (a second or two here) returns first; nothing waits longer than that.
    expect(run.stopSeconds, run.stderr).toBeLessThan(10);
    const out = join(scratch, 'native-stop');
    const sessions = lines(join(out, SESSIONS_FILE)).map((line) => JSON.parse(line));
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ aborted: true, ran: 1, failed: 0, workers: 2 });
    const results = parseResults(readFileSync(join(out, RESULTS_FILE)), RESULTS_FILE);
    expect(results.torn).toBeUndefined();
    expect(results.records.map((r) => r.key)).toEqual(['c3/tiny/s0']);
    expect(partials()).toEqual([]);
  }, 60_000);

  it('a second Ctrl-C quits at once, by the signal itself, with no native abort', async () => {
    const run = await interrupt(experiment('native-quit'), tinyRecorded, true);
    expect(run.stderr).not.toMatch(/terminate called|Napi/);
    // Ended by SIGINT as if uncaught: a shell reports 130.
    expect(run.signal, run.stderr).toBe('SIGINT');
    expect(run.stopSeconds, run.stderr).toBeLessThan(1);
    expect(parseResults(readFileSync(join(scratch, 'native-quit', RESULTS_FILE)), RESULTS_FILE).records.map((r) => r.key)).toEqual([
      'c3/tiny/s0',
    ]);
  }, 60_000);
});

/**
 * Resolves once process `pid` has onnxruntime loaded (Linux: /proc/PID/maps), i.e. is past its start and in the
 * scan; elsewhere after 3 s.
 */
async function scanning(pid: number): Promise<void> {
  for (let waited = 0; waited < 30_000; waited += 50) {
    let maps: string;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch {
      return new Promise((done) => setTimeout(done, 3000));
    }
    if (maps.includes('onnxruntime')) return;
    await new Promise((done) => setTimeout(done, 50));
  }
}

describe('the stop message on stderr', () => {
  // SIGTERM once the scan has begun (nothing on stderr to wait for with --json or -q).
  const terminate = (flags: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
      const child = spawn('node', [CLI_BIN, 'prototypes', 'inspect', 'big.npy', ...flags], {
        cwd: scratch,
        env: { ...process.env, CI: 'true' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', fail);
      child.on('exit', (code) => {
        clearTimeout(guard);
        done({ code, stdout, stderr });
      });
      void scanning(child.pid!).then(() => child.kill('SIGTERM'));
    });

  it('is said without --json or --quiet, with no blank line before it off a terminal', async () => {
    const run = await terminate([]);
    expect(run.code, run.stderr).toBe(130);
    expect(run.stderr).toMatch(/^SIGTERM: stopping \(press Ctrl-C again to quit at once\)$/m);
    expect(run.stderr).not.toMatch(/^\n/);
  }, 70_000);

  it.each([['--json'], ['-q'], ['--quiet']])(
    'is not said with %s',
    async (flag) => {
      const run = await terminate([flag]);
      expect(run.code, run.stderr).toBe(130);
      expect(run.stderr).not.toMatch(/stopping|Ctrl-C/);
      if (flag === '--json') {
        expect(run.stderr).toBe('');
        expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'E_ABORTED' } });
      }
    },
    70_000,
  );
});
