// Regression tests for the "Reliability and security" probe: requests refused before any long work, bounded flags,
// --force that only replaces a run, --no-config, and model failures reported as the model's.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { afterAll, describe, expect, it } from 'vitest';
import { modelRunFailure } from './commands/predict.js';
import { exitCodeFor } from './exit-codes.js';
import { runCli, type CliRun } from './test-support/run-cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-reliability-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, scratch, env);

function expectRefused(run: CliRun, code: number, message: RegExp): void {
  expect(run.code, run.stderr).toBe(code);
  expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/internal error| {4}at /);
}

const partials = () => readdirSync(scratch, { recursive: true }).filter((name) => String(name).includes('.partial-'));

describe('flags from unset variables and option names that are not keys', () => {
  it('refuses an empty value of a flag or an argument (an unset variable) instead of taking a default, before any work', async () => {
    writeFileSync(join(scratch, 'keep.txt'), 'mine');
    const hint = /\nhint: Give a value; a variable meant to hold it \(e\.g\. --out "\$OUT"\) may be unset\./;
    for (const [args, name] of [
      [['experiment', '--preset', 'seed-quick', '--out', ''], '--out'],
      [['train', '--classes', '3', '--sigma', '1', '--out', ''], '--out'],
      [['prototypes', '--strategy', 'random', '--classes', '3', '--dims', '2', '--out', ''], '--out'],
      [['train', '--classes', '3', '--sigma', '1', '--plugin', './none.mjs', '--plugin', ''], '--plugin'],
      [['report', 'runs/x', '--summary', '--out', ''], '--out'],
      // Not paths: every interface, the default engine, every kind.
      [['serve', 'model.onnx', '--host', ''], '--host'],
      [['train', '--classes', '3', '--sigma', '1', '--engine', ''], '--engine'],
      [['plugins', '--kind', ''], '--kind'],
      [['train', '--classes', '3', '--sigma', '1', '--head-option', 'x=1', '--head-option', ''], '--head-option'],
      // Arguments: the current directory, or a file named ''.
      [['report', ''], '<dirs...>'],
      [['report', 'runs/x', '', '--summary'], '<dirs...>'],
      [['export', '', '--out', 'm.onnx'], '<run-dir>'],
      [['predict', '', '--input', 'x.npy'], '<model.onnx>'],
      [['prototypes', 'inspect', ''], '<file.npy>'],
    ] as const) {
      const run = await cli([...args]);
      expectRefused(run, 2, new RegExp(`^error E_INVALID_OPTIONS: ${name.replace(/\./g, '\\.')} is empty${hint.source}`));
      expect(run.stdout).toBe('');
    }
    // With --json, one error object on stdout and nothing on stderr.
    const json = await cli(['serve', 'model.onnx', '--host', '', '--json']);
    expect(json.code).toBe(2);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'E_INVALID_OPTIONS', message: '--host is empty' } });
    expect(readdirSync(scratch).sort()).toEqual(['keep.txt']);
  }, 120_000);

  it('refuses a path option whose value is the next flag (--out $OUT --force, the variable unset), before any work', async () => {
    const base = join(scratch, 'flag-paths');
    mkdirSync(base);
    const run = (args: string[]) => runCli(args, base);
    for (const [args, name, value] of [
      [['train', '--classes', '3', '--sigma', '1', '--out', '--force'], '--out', '--force'],
      [['prototypes', '--strategy', 'random', '--classes', '3', '--dims', '2', '--out', '--force'], '--out', '--force'],
      [['prototypes', '--strategy', 'spread', '--classes', '3', '--dims', '2', '--start', '--force'], '--start', '--force'],
      [['prototypes', 'inspect', 'p.npy', '--plot', '--bins'], '--plot', '--bins'],
      [['data', 'inspect', '--labels', 'y.txt', '--data', '--verbose'], '--data', '--verbose'],
      [['export', 'run', '--out', '--force'], '--out', '--force'],
      [['predict', 'model.onnx', '--input=--scores'], '--input', '--scores'],
      [['experiment', '--preset', 'seed-quick', '--out', '--resume'], '--out', '--resume'],
      [['report', 'runs/x', '--out', '--verbose'], '--out', '--verbose'],
      [['new', 'plugin', 'x', '--kind', 'head', '--dir', '--quiet'], '--dir', '--quiet'],
      [['plugins', '--config', '--verbose'], '--config', '--verbose'],
      // A plugin specifier names a module: the same.
      [['train', '--classes', '3', '--sigma', '1', '--plugin', '--force'], '--plugin', '--force'],
      [['plugins', '--plugin', './ok.mjs', '--plugin', '--verbose'], '--plugin', '--verbose'],
      // A short flag is the next flag too.
      [['prototypes', '--strategy', 'random', '--classes', '3', '--dims', '2', '--out', '-q'], '--out', '-q'],
    ] as const) {
      const refused = await run([...args]);
      expectRefused(
        refused,
        2,
        new RegExp(
          `^error E_INVALID_OPTIONS: ${name} is missing its value: it got "${value}", the next flag \\(an unset shell variable\\?\\)\nhint: Give ${name} its value; a path that starts with '-' can be written as \\./${value}\\.`,
        ),
      );
    }
    expect(readdirSync(base)).toEqual([]);
    // Written as ./--name, such a path is taken.
    const named = await run(['prototypes', '--strategy', 'random', '--classes', '3', '--dims', '2', '--out', './--force']);
    expect(named.code, named.stderr).toBe(0);
    expect(readdirSync(base)).toEqual(['--force']);
  }, 120_000);

  it('refuses __proto__ as an option name like any unknown option, instead of dropping it', async () => {
    const run = await cli([
      'data',
      'inspect',
      '--classes',
      '4',
      '--sigma',
      '3',
      '--train-per-class',
      '2',
      '--dataset-option',
      '__proto__=1',
    ]);
    expectRefused(run, 2, /E_INVALID_OPTIONS: dataset:gaussian: unknown option "__proto__"/);
    // Through the experiment spec too, whose options records would drop the key before the plugin's check.
    const train = ['train', '--classes', '3', '--sigma', '1', '--train-per-class', '5', '--max-epochs', '1', '--out', 'proto'];
    for (const [flags, plugin] of [
      [['--head-option', '__proto__={"a":1}'], 'head:softmax'],
      [['--head', 'hpn', '--prototypes-option', '__proto__={"a":1}'], 'prototypes:optimized'],
      [['--engine', 'onnxruntime', '--engine-option', '__proto__={"a":1}'], 'engine:onnxruntime'],
    ] as const) {
      expectRefused(await cli([...train, ...flags]), 2, new RegExp(`^error E_INVALID_OPTIONS: ${plugin}: unknown option "__proto__"`));
    }
    expect(existsSync(join(scratch, 'proto'))).toBe(false);
  }, 60_000);
});

describe('one setting given by two flags', () => {
  it('is refused naming both flags and values when they differ, and taken when they agree', async () => {
    const gaussian = ['--sigma', '3', '--train-per-class', '2', '--validation-per-class', '2', '--test-per-class', '1'];
    for (const [args, message] of [
      [
        ['data', 'inspect', '--classes', '5', ...gaussian, '--dataset-option', 'classes=10'],
        '--classes 5 and --dataset-option classes=10 give classes two values',
      ],
      [
        ['data', 'inspect', '--data', 'x.csv', '--dataset-option', 'data=y.csv'],
        '--data x.csv and --dataset-option data=y.csv give data two values',
      ],
      [
        [
          'prototypes',
          '--strategy',
          'optimized',
          '--classes',
          '3',
          '--dims',
          '2',
          '--out',
          'twice.npy',
          '--option',
          'steps=5',
          '--prototype-option',
          'steps=50',
        ],
        '--prototype-option steps=50 and --option steps=5 give steps two values',
      ],
      [
        [
          'train',
          '--classes',
          '3',
          '--sigma',
          '1',
          '--head',
          'hpn',
          '--out',
          'twice',
          '--prototypes-option',
          'steps=5',
          '--prototype-option',
          'steps=50',
        ],
        '--prototype-option steps=50 and --prototypes-option steps=5 give steps two values',
      ],
    ] as const) {
      const run = await cli([...args]);
      expectRefused(run, 2, new RegExp(`^error E_INVALID_OPTIONS: ${message}\nhint: Give the setting once, or the same value to both.`));
    }
    expect(existsSync(join(scratch, 'twice.npy')) || existsSync(join(scratch, 'twice'))).toBe(false);
    const agreeing = await cli(['data', 'inspect', '--classes', '4', ...gaussian, '--dataset-option', 'classes=4', '--json']);
    expect(agreeing.code, agreeing.stderr).toBe(0);
    expect(JSON.parse(agreeing.stdout)).toMatchObject({ dataset: { options: { classes: 4 } }, classes: 4 });
  }, 60_000);
});

describe('sizes that are refused are refused before any work', () => {
  it('train --prototypes optimized|tammes with 20,001 classes fails at once, before generating data', async () => {
    for (const strategy of ['optimized', 'tammes']) {
      const started = performance.now();
      const run = await cli(['train', '--classes', '20001', '--sigma', '1', '--head', 'hpn', '--prototypes', strategy, '--out', 'big']);
      expectRefused(run, 2, new RegExp(`E_UNSUPPORTED: prototype strategy "${strategy}" cannot make 20001 prototypes`));
      expect(performance.now() - started).toBeLessThan(15_000);
    }
    expect(existsSync(join(scratch, 'big'))).toBe(false);
    expect(partials()).toEqual([]);
  }, 60_000);

  it('prototypes --start with a strategy that takes no start rows is refused before the rows are made', async () => {
    const spec = ['--classes', '20', '--dims', '16', '--out', 'no-start.npy'];
    // A file that is not there: refused for the flag, not for the file; named as typed, with the strategies that take it.
    const missing = await cli(['prototypes', '--strategy', 'random', '--start', 'missing.npy', ...spec]);
    expectRefused(
      missing,
      2,
      /^error E_INVALID_OPTIONS: --start missing\.npy: the random strategy takes no start rows; --start is for spread\nhint: Drop --start, or refine the rows with a strategy that takes them: --strategy spread --start missing\.npy\.\n$/,
    );
    // A strategy's rows: not made (codes says what it made on stderr).
    const codes = await cli(['prototypes', '--strategy', 'orthoplex', '--start', 'codes', ...spec]);
    expectRefused(codes, 2, /^error E_INVALID_OPTIONS: --start codes: the orthoplex strategy takes no start rows; --start is for spread\n/);
    // The same object with --json.
    const json = await cli(['prototypes', '--strategy', 'random', '--start', 'codes', ...spec, '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({
      code: 'E_INVALID_OPTIONS',
      message: '--start codes: the random strategy takes no start rows; --start is for spread',
    });
    expect(existsSync(join(scratch, 'no-start.npy'))).toBe(false);
  }, 30_000);

  it.each(['random', 'orthogonal', 'orthoplex', 'simplex', 'spread', 'codes'])(
    'prototypes --strategy %s with 100,000 x 100,000 says how much memory it would need (exit 2)',
    async (strategy) => {
      const run = await cli(['prototypes', '--strategy', strategy, '--classes', '100000', '--dims', '100000', '--out', `${strategy}.npy`]);
      expectRefused(run, 2, /E_UNSUPPORTED: .* would need [\d.]+ GiB/);
      expect(run.stderr).not.toMatch(/Invalid typed array length/);
    },
    30_000,
  );
});

describe('flags take plain decimal numbers in range', () => {
  it.each([
    [['train', '--classes', '0x10'], /'--classes <n>' argument '0x10' is invalid/],
    [['train', '--classes', '3', '--seed', ''], /'--seed <n>' argument '' is invalid/],
    [['train', '--classes', '1e1'], /'--classes <n>' argument '1e1' is invalid/],
    [['train', '--classes', '3', '--sigma', '0x1'], /'--sigma <s>' argument '0x1' is invalid/],
    [['train', '--classes', '3', '--dropout', '0x0'], /'--dropout <rate>' argument '0x0' is invalid/],
    [
      ['predict', 'model.onnx', '--input', 'rows.csv', '--threads', '1000'],
      /'--threads <n>' argument '1000' is invalid\. expected an integer from 1 to \d+/,
    ],
  ])('refuses %j', async (args, message) => {
    expectRefused(await cli(args), 2, message);
  });
});

describe('--force replaces only an earlier run; prototypes --out needs --force', () => {
  it('train --force refuses a directory that is not a run, and keeps its files (exit 3)', async () => {
    const dir = join(scratch, 'precious');
    mkdirSync(dir);
    writeFileSync(join(dir, 'thesis.tex'), 'years of work');
    const run = await cli(['train', '--classes', '3', '--sigma', '1', '--out', 'precious', '--force', '--max-epochs', '1']);
    expectRefused(run, 3, /--out precious is not a hyperproto run directory \(it has no model, spec\.json, metrics\.json\)/);
    expect(readFileSync(join(dir, 'thesis.tex'), 'utf8')).toBe('years of work');
    expect(partials()).toEqual([]);
  }, 30_000);

  it('train --force refuses a run directory that also holds other files, and keeps them (exit 3)', async () => {
    const train = ['train', '--classes', '3', '--sigma', '1', '--max-epochs', '1', '--out', 'earlier'];
    expect((await cli(train)).code).toBe(0);
    writeFileSync(join(scratch, 'earlier', 'notes.md'), 'what I learned');
    const run = await cli([...train, '--force']);
    expectRefused(run, 3, /--out earlier holds files that a run does not write \(notes\.md\); --force would delete them/);
    expect(readFileSync(join(scratch, 'earlier', 'notes.md'), 'utf8')).toBe('what I learned');
    expect(existsSync(join(scratch, 'earlier', 'metrics.json'))).toBe(true);
    rmSync(join(scratch, 'earlier', 'notes.md'));
    expect((await cli([...train, '--force'])).code).toBe(0);
    expect(partials()).toEqual([]);
  }, 60_000);

  it('prototypes --out refuses an existing file unless --force', async () => {
    writeFileSync(join(scratch, 'keep.npy'), 'not mine to replace');
    const args = ['prototypes', '--strategy', 'random', '--classes', '4', '--dims', '3', '--out', 'keep.npy'];
    expectRefused(await cli(args), 3, /--out keep\.npy already exists/);
    expect(readFileSync(join(scratch, 'keep.npy'), 'utf8')).toBe('not mine to replace');
    expect((await cli([...args, '--force'])).code).toBe(0);
    expect(readFileSync(join(scratch, 'keep.npy')).subarray(1, 6).toString()).toBe('NUMPY');
    expect(readdirSync(scratch).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  }, 30_000);
});

describe('--no-config', () => {
  it('keeps a hyperproto.config.mjs in the current directory from running', async () => {
    const dir = join(scratch, 'untrusted');
    mkdirSync(dir);
    const marker = join(dir, 'ran.txt');
    writeFileSync(
      join(dir, 'hyperproto.config.mjs'),
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport default { plugins: [] };\n`,
    );
    const inDir = (args: string[], env: Record<string, string> = {}) => runCli(args, dir, env);
    expect((await inDir(['plugins', '--kind', 'head', '--no-config'])).code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect((await inDir(['plugins', '--kind', 'head'], { HYPERPROTO_NO_CONFIG: '1' })).code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect((await inDir(['plugins', '--kind', 'head'])).code).toBe(0);
    expect(existsSync(marker)).toBe(true);
  }, 30_000);
});

describe('a model that fails inside onnxruntime', () => {
  it('is the model file’s problem (E_INVALID_INPUT naming it, exit 2), not a bug', () => {
    const inOnnxruntime = new HyperprotoError(ErrorCode.Internal, 'onnxruntime failed to run model.onnx (x): Reshape: shape mismatch');
    const reported = modelRunFailure(inOnnxruntime, 'model.onnx');
    expect(reported).toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/^onnxruntime cannot run the model model\.onnx: /),
    });
    expect(exitCodeFor(reported)).toBe(2);
    expect(exitCodeFor(modelRunFailure(new Error('raw onnxruntime error'), 'model.onnx'))).toBe(2);
    // onnxruntime says what it refused on its second line: kept, the stack left out.
    const twoLines = new Error(
      'Got invalid dimensions for input: features for the following indices\n index: 0 Got: 8 Expected: 1\n    at run (session.js:1:2)',
    );
    expect(modelRunFailure(twoLines, 'model.onnx')).toMatchObject({
      message:
        'onnxruntime cannot run the model model.onnx: Got invalid dimensions for input: features for the following indices; index: 0 Got: 8 Expected: 1',
    });
    const wrongWidth = new HyperprotoError(ErrorCode.InvalidInput, 'rows of 3 features; the model expects 4');
    expect(modelRunFailure(wrongWidth, 'model.onnx')).toBe(wrongWidth);
  });
});
