import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, type CliRun } from './test-support/run-cli.js';
import { axesStrategyModule, peerOnCore, writePluginPackage } from './test-support/plugin-package.js';
import { tinyTrainFlags } from './test-support/tiny-runs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cliDir = resolve(fileURLToPath(import.meta.url), '../..');
// Inside the package so that a plugin written here resolves @hyperproto/core like an installed package would.
const scratch = join(cliDir, 'test-output');

const cli = (args: string[], cwd = scratch) => runCli(args, cwd);

/** A tiny but real training run: 3 well-separated classes, small network. */
const SMALL = tinyTrainFlags({ batchSize: 16, maxEpochs: 6, patience: 3 });

beforeAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('hyperproto --help', () => {
  it.each([[[]], [['train']], [['prototypes']], [['prototypes', 'inspect']], [['plugins']], [['doctor']]])(
    '%j --help prints usage',
    async (args) => {
      const run = await cli([...args, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: hyperproto/);
    },
  );
});

describe('hyperproto train', () => {
  it('trains, evaluates and saves a softmax model, and the same seed gives the same numbers', async () => {
    const first = await cli(['train', ...SMALL, '--head', 'softmax', '--seed', '3', '--out', 'softmax-a', '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const a = JSON.parse(first.stdout);
    expect(a.test.macroF1).toBeGreaterThan(0.8);
    expect(a.bayes.macroF1).toBeGreaterThan(0.9);
    expect(a.reference).toBe('bayes-optimal');
    expect(a.backend).toMatch(/^(tfjs|onnxruntime)\//);
    expect(a.epochs).toBeGreaterThanOrEqual(a.bestEpoch);
    expect(a.secondsPerEpoch).toBeGreaterThan(0);
    const files = readdirSync(join(scratch, 'softmax-a')).sort();
    expect(files).toEqual(['history.json', 'metrics.json', 'model', 'spec.json']);
    expect(readdirSync(join(scratch, 'softmax-a/model')).sort()).toEqual(['model.json', 'weights.bin']);

    const again = JSON.parse((await cli(['train', ...SMALL, '--head', 'softmax', '--seed', '3', '--out', 'softmax-b', '--json'])).stdout);
    expect(again.test).toEqual(a.test);
    expect(readFileSync(join(scratch, 'softmax-b/history.json'), 'utf8').replace(/"seconds": [\d.e-]+/g, '')).toEqual(
      readFileSync(join(scratch, 'softmax-a/history.json'), 'utf8').replace(/"seconds": [\d.e-]+/g, ''),
    );
  });

  it('trains an HPN with a prototype file and keeps the prototypes it used', async () => {
    const made = await cli(['prototypes', '--strategy', 'random', '--classes', '3', '--dims', '4', '--out', 'p.npy', '--json']);
    expect(made.code).toBe(0);
    const run = await cli(['train', ...SMALL, '--head', 'hpn', '--prototypes', 'p.npy', '--out', 'hpn-file', '--json']);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.prototypes).toEqual({ file: 'p.npy', dims: 4 });
    expect(readFileSync(join(scratch, 'hpn-file/prototypes.npy'))).toEqual(readFileSync(join(scratch, 'p.npy')));
  });

  it('refuses to overwrite a run without --force', async () => {
    const run = await cli(['train', ...SMALL, '--out', 'softmax-a']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/already exists/);
  });
});

describe('bad input', () => {
  const expectOneLineError = (run: CliRun, code: number, pattern: RegExp) => {
    expect(run.code).toBe(code);
    expect(run.stderr).toMatch(pattern);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
  };

  it('names an unknown head and suggests the closest', async () => {
    expectOneLineError(await cli(['train', '--classes', '10', '--head', 'softmx']), 2, /unknown head "softmx". Did you mean "softmax"\?/);
  });

  it('refuses prototype flags that would have no effect, naming them', async () => {
    expectOneLineError(
      await cli(['train', '--classes', '4', '--head', 'softmax', '--prototypes', 'random', '--dims', '3']),
      2,
      /head "softmax" does not use prototypes, so --prototypes, --dims would have no effect/,
    );
    expectOneLineError(
      await cli(['train', '--classes', '4', '--head', 'hpn', '--prototypes', 'never-read.npy', '--dims', '7']),
      2,
      /--prototypes never-read\.npy is a prototype file, so --dims would have no effect/,
    );
  });

  it('refuses fewer than 2 classes and 0 dims', async () => {
    expectOneLineError(await cli(['train', '--classes', '1']), 2, /--classes.*integer from 2/);
    expectOneLineError(await cli(['train', '--classes', '10', '--head', 'hpn', '--dims', '0']), 2, /--dims.*integer from 1/);
  });

  it('refuses an unknown prototype strategy with the known ones', async () => {
    expectOneLineError(
      await cli(['prototypes', '--strategy', 'nope', '--classes', '4', '--dims', '2', '--out', 'x.npy']),
      2,
      /unknown prototype strategy "nope".*Known: .*random/,
    );
  });

  it('refuses .npy files of the wrong dtype, shape or length', async () => {
    const header = (descr: string, shape: string) => {
      let text = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
      text += `${' '.repeat(63 - ((10 + text.length) % 64))}\n`;
      const head = Buffer.alloc(10);
      Buffer.from('\x93NUMPY', 'latin1').copy(head);
      head[6] = 1;
      head.writeUInt16LE(text.length, 8);
      return Buffer.concat([head, Buffer.from(text, 'latin1')]);
    };
    writeFileSync(join(scratch, 'ints.npy'), Buffer.concat([header('<i8', '(3, 4)'), Buffer.alloc(96)]));
    writeFileSync(join(scratch, 'short.npy'), Buffer.concat([header('<f4', '(3, 4)'), Buffer.alloc(10)]));
    writeFileSync(join(scratch, 'flat.npy'), Buffer.concat([header('<f4', '(12,)'), Buffer.alloc(48)]));
    expectOneLineError(await cli(['prototypes', 'inspect', 'ints.npy']), 2, /ints\.npy.*'<i8'/);
    expectOneLineError(await cli(['prototypes', 'inspect', 'short.npy']), 2, /short\.npy.*truncated/);
    expectOneLineError(await cli(['prototypes', 'inspect', 'flat.npy']), 2, /flat\.npy/);
    expectOneLineError(await cli(['prototypes', 'inspect', 'missing.npy']), 3, /missing\.npy/);
    expectOneLineError(await cli(['train', ...SMALL, '--head', 'hpn', '--prototypes', 'ints.npy', '--out', 'bad-npy']), 2, /ints\.npy/);
    expect(existsSync(join(scratch, 'bad-npy'))).toBe(false);
  });

  it('fails before training when --out cannot be written, leaving nothing behind', async () => {
    writeFileSync(join(scratch, 'a-file'), 'not a directory');
    expectOneLineError(await cli(['train', ...SMALL, '--out', 'a-file/run']), 3, /cannot write to --out a-file\/run/);
    expect(readdirSync(scratch).filter((name) => name.includes('partial'))).toEqual([]);
  });
});

describe('plugins', () => {
  it('lists the built-in plugins of every kind with their options', async () => {
    const run = await cli(['plugins', '--json']);
    expect(run.code).toBe(0);
    const byKind = Object.fromEntries(
      JSON.parse(run.stdout).map((k: { kind: string; plugins: { name: string }[] }) => [k.kind, k.plugins.map((p) => p.name)]),
    );
    expect(byKind).toEqual({
      dataset: ['gaussian', 'files'],
      prototypes: ['random', 'optimized', 'tammes', 'spread', 'orthogonal', 'simplex', 'orthoplex', 'codes'],
      head: ['softmax', 'hpn', 'cosine-softmax', 'margin', 'bottleneck-softmax'],
      evaluator: ['classification'],
      engine: ['tfjs', 'onnxruntime'],
    });
  });

  it('registers and uses a prototype strategy from a package outside the workspace', async () => {
    writePluginPackage(
      join(scratch, 'my-plugin'),
      { name: 'hyperproto-prototypes-axes', peerDependencies: peerOnCore() },
      axesStrategyModule('axes'),
    );
    writeFileSync(join(scratch, 'hyperproto.config.json'), JSON.stringify({ plugins: ['./my-plugin'] }));
    try {
      const listed = JSON.parse((await cli(['plugins', '--kind', 'prototypes', '--json'])).stdout);
      expect(listed[0].plugins.map((p: { name: string; source: string }) => `${p.name}@${p.source}`)).toContain('axes@./my-plugin');
      const run = await cli(['train', ...SMALL, '--head', 'hpn', '--prototypes', 'axes', '--dims', '2', '--out', 'hpn-axes', '--json']);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).prototypes).toEqual({ strategy: 'axes', dims: 2, options: {} });
      const inspect = JSON.parse((await cli(['prototypes', 'inspect', 'hpn-axes/prototypes.npy', '--json'])).stdout);
      expect(inspect.maxCosine).toBe(0);
      const refused = await cli(['prototypes', '--strategy', 'axes', '--classes', '9', '--dims', '2', '--out', 'no.npy']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/cannot make 9 prototypes in 2 dimensions: needs dims >= classes \/ 2/);
      expect(refused.stderr).toMatch(/Strategies that can: random/);
    } finally {
      rmSync(join(scratch, 'hyperproto.config.json'));
    }
    // Also by flag, without a config file.
    const byFlag = JSON.parse((await cli(['plugins', '--kind', 'prototypes', '--plugin', './my-plugin', '--json'])).stdout);
    expect(byFlag[0].plugins.map((p: { name: string }) => p.name)).toContain('axes');
  });

  it("keeps a dataset plugin's class names with the trained model, and export writes them into the ONNX file", async () => {
    writeFileSync(
      join(scratch, 'named-data.mjs'),
      `import { gaussianDataset } from '@hyperproto/data-gaussian';
export default { ...gaussianDataset, name: 'named-gaussian', summary: 'gaussian clusters with class names',
  generate: async (ctx, options) => ({ ...(await gaussianDataset.generate(ctx, options)), classNames: ['ant', 'bee', 'cat'] }) };
`,
    );
    const run = await cli(['train', '--plugin', './named-data.mjs', '--dataset', 'named-gaussian', ...SMALL, '--out', 'named', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(scratch, 'named/model/model.json'), 'utf8')).metadata.classNames).toEqual(['ant', 'bee', 'cat']);
    const exported = JSON.parse((await cli(['export', 'named', '--out', 'named.onnx', '--json'])).stdout);
    expect(exported).toMatchObject({ classes: 3, classNames: 3 });
  });

  it('rejects a module that is not a plugin', async () => {
    writeFileSync(join(scratch, 'not-a-plugin.mjs'), 'export default { hello: 1 };');
    const run = await cli(['plugins', '--plugin', './not-a-plugin.mjs']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/not-a-plugin\.mjs is not a valid hyperproto plugin/);
  });
});

describe('prototypes and doctor', () => {
  it('inspect reports exact statistics as JSON', async () => {
    await cli(['prototypes', '--strategy', 'random', '--classes', '50', '--dims', '8', '--seed', '1', '--out', 'r.npy']);
    const stats = JSON.parse((await cli(['prototypes', 'inspect', 'r.npy', '--json'])).stdout);
    expect(stats).toMatchObject({ classes: 50, dims: 8 });
    expect(stats.maxCosine).toBeGreaterThan(stats.meanNearestCosine);
    expect(stats.maxCosine).toBeLessThanOrEqual(1);
    expect(stats.meanNormDeviation).toBeLessThan(1e-6);
  });

  it('--json and -q given before `inspect` apply to it: the same JSON as after it, success or failure', async () => {
    await cli(['prototypes', '--strategy', 'random', '--classes', '5', '--dims', '3', '--out', 'before.npy']);
    const [after, before, quiet] = await Promise.all([
      cli(['prototypes', 'inspect', 'before.npy', '--json']),
      cli(['prototypes', '--json', 'inspect', 'before.npy']),
      cli(['prototypes', '-q', '--json', 'inspect', 'before.npy', '--plot', 'before.svg']),
    ]);
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout)).toEqual(JSON.parse(after.stdout));
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(JSON.parse(quiet.stdout)).toMatchObject({ classes: 5, dims: 3, plot: 'before.svg' });
    const missing = await cli(['prototypes', '--json', 'inspect', 'no-such.npy']);
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'E_IO' } });
  });

  it('inspect prints the bounds, draws the histogram as SVG, and refuses non-finite values', async () => {
    await cli(['prototypes', '--strategy', 'simplex', '--classes', '20', '--dims', '19', '--out', 's.npy']);
    const stats = JSON.parse((await cli(['prototypes', 'inspect', 's.npy', '--plot', 's.svg', '--bins', '50', '--json'])).stdout);
    expect(stats.maxCosine).toBeCloseTo(-1 / 19, 6);
    // C = D + 1: the simplex meets the Welch bound too.
    expect(stats).toMatchObject({ simplexBound: -1 / 19, plot: 's.svg' });
    expect(stats.welchBound).toBeCloseTo(1 / 19, 12);
    expect(stats.histogram.counts.reduce((a: number, b: number) => a + b, 0)).toBe(190);
    expect(readFileSync(join(scratch, 's.svg'), 'utf8')).toMatch(/^<svg[\s\S]*simplex bound[\s\S]*<\/svg>/);
    const bytes = readFileSync(join(scratch, 's.npy'));
    bytes.writeFloatLE(Number.NaN, bytes.length - 4);
    writeFileSync(join(scratch, 'nan.npy'), bytes);
    const refused = await cli(['prototypes', 'inspect', 'nan.npy']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/nan\.npy has a non-finite value \(NaN\) at row 19, column 18/);
  });

  it('refuses an impossible size naming the strategies that can, and refines a start set', async () => {
    const refused = await cli(['prototypes', '--strategy', 'orthogonal', '--classes', '30', '--dims', '20', '--out', 'o.npy']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/cannot make 30 prototypes in 20 dimensions.*\n.*Strategies that can: .*spread, orthoplex, codes/);
    expect(existsSync(join(scratch, 'o.npy'))).toBe(false);
    const refined = JSON.parse(
      (
        await cli([
          'prototypes',
          '--strategy',
          'spread',
          '--start',
          'codes',
          '--prototype-option',
          'steps=20',
          '--classes',
          '64',
          '--dims',
          '8',
          '--out',
          'sp.npy',
          '--json',
        ])
      ).stdout,
    );
    // train's name for a strategy option works here too.
    expect(refined).toMatchObject({ strategy: 'spread', start: 'codes', classes: 64, dims: 8, options: { steps: 20 } });
  });

  it('doctor names the tfjs backend and lists engines in the order the default is chosen', async () => {
    const report = JSON.parse((await cli(['doctor', '--json'])).stdout);
    expect(['tensorflow', 'wasm', 'cpu']).toContain(report.tfjs.backend);
    const ready = report.engines.filter((e: { ok: boolean }) => e.ok);
    expect(report.engines.slice(0, ready.length)).toEqual(ready);
    const ranks = ready.map((e: { priority: number }) => e.priority);
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
    // tfjs without its native library ranks below onnxruntime, which then trains by default.
    if (report.tfjs.backend !== 'tensorflow') expect(report.engines[0]).toMatchObject({ name: 'onnxruntime', ok: true });
  });
});

describe('--threads of the commands that run inferences', () => {
  it('serve takes at most what predict takes, 4 x the cores, and says so the same way', async () => {
    const most = 4 * availableParallelism();
    const [serve, predict, serveMost] = await Promise.all([
      cli(['serve', 'no-such.onnx', '--threads', String(most + 1)]),
      cli(['predict', 'no-such.onnx', '--input', 'x.npy', '--threads', String(most + 1)]),
      cli(['serve', 'no-such.onnx', '--threads', String(most)]),
    ]);
    expect(serve.code, serve.stderr).toBe(2);
    expect(serve.stderr).toContain(`argument '${most + 1}' is invalid. expected an integer from 1 to ${most}.`);
    expect(predict.stderr).toContain(`argument '${most + 1}' is invalid. expected an integer from 1 to ${most}.`);
    // Within the bound the flag is taken, and the missing model is what is refused.
    expect(serveMost.code, serveMost.stderr).toBe(3);
    expect(serveMost.stderr).not.toMatch(/--threads/);
  });
});
