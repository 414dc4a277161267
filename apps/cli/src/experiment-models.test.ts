import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';
import { axesStrategyModule, peerOnCore, writePluginPackage } from './test-support/plugin-package.js';
import { tinyGrid } from './test-support/tiny-runs.js';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..');
const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-models-'));
const cli = (args: string[]) => runCli(args, scratch);

/** 3 classes, tiny sizes, 2 seeds: a softmax and an HPN whose prototypes come from a third-party package. */
const tiny = tinyGrid(
  'tiny-models',
  2,
  [
    { id: 'softmax', head: 'softmax' },
    { id: 'axes-4', head: 'hpn', prototypes: { strategy: 'tiny-axes', dims: 4 } },
  ],
  { perClass: [30, 10, 10], batchSize: 16, maxEpochs: 3, patience: 2 },
);
const experiment = (out: string, ...more: string[]) =>
  cli(['experiment', '--grid', 'tiny.json', '--plugin', 'tiny-axes-plugin', '--out', out, '--workers', '2', '--json', ...more]);

interface Epoch {
  epoch: number;
  validationAccuracy: number;
  validationLoss: number;
}
interface Record {
  key: string;
  dataset: string;
  model: string;
  seed: number;
  bestEpoch: number;
  history: Epoch[];
  plugins: unknown[];
  git: unknown;
}
const records = (out: string): Record[] =>
  readFileSync(join(scratch, out, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
/** Saved run directories, hidden entries included (a leftover staging directory would show). */
const saved = (out: string) => {
  const models = join(scratch, out, 'models');
  if (!existsSync(models)) return [];
  return readdirSync(models)
    .filter((d) => d !== 'save-models.json')
    .flatMap((d) => readdirSync(join(models, d)).flatMap((m) => readdirSync(join(models, d, m)).map((s) => `${d}/${m}/${s}`)))
    .sort();
};
/** Per cell, the seed a `best` run must keep: highest validation accuracy of the kept epoch, then lowest loss. */
const bestByValidation = (rs: Record[]) => {
  const best = new Map<string, { key: string; accuracy: number; loss: number }>();
  for (const r of rs) {
    const kept = r.history.find((e) => e.epoch === r.bestEpoch)!;
    const cell = `${r.dataset}/${r.model}`;
    const now = best.get(cell);
    if (!now || kept.validationAccuracy > now.accuracy || (kept.validationAccuracy === now.accuracy && kept.validationLoss < now.loss)) {
      best.set(cell, { key: r.key, accuracy: kept.validationAccuracy, loss: kept.validationLoss });
    }
  }
  return [...best.values()].map((b) => b.key).sort();
};

beforeAll(() => {
  writeFileSync(join(scratch, 'tiny.json'), JSON.stringify(tiny));
  // A third-party plugin package, installed where `--plugin tiny-axes-plugin` finds it.
  writePluginPackage(
    join(scratch, 'node_modules', 'tiny-axes-plugin'),
    { name: 'tiny-axes-plugin', version: '1.2.3', peerDependencies: peerOnCore() },
    axesStrategyModule('tiny-axes'),
  );
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('hyperproto experiment --save-models', () => {
  it('all: every run directory, each one that `export` takes', async () => {
    const run = await experiment('all', '--save-models', 'all');
    expect(run.code, run.stderr).toBe(0);
    const keys = ['c3/axes-4/s0', 'c3/axes-4/s1', 'c3/softmax/s0', 'c3/softmax/s1'];
    expect(saved('all')).toEqual(keys);
    expect(JSON.parse(run.stdout).models).toMatchObject({ dir: join(scratch, 'all', 'models'), mode: 'all', held: keys, removed: [] });
    const dir = join(scratch, 'all', 'models', 'c3', 'axes-4', 's1');
    expect(readdirSync(dir).sort()).toEqual(['history.json', 'metrics.json', 'model', 'prototypes.npy', 'spec.json']);
    expect(readdirSync(join(dir, 'model')).sort()).toEqual(['model.json', 'weights.bin']);
    expect(JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8'))).toMatchObject({
      seed: 1,
      head: { name: 'hpn' },
      prototypes: { strategy: 'tiny-axes', dims: 4 },
    });
    expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'))).toMatchObject({ out: dir, seed: 1, head: 'hpn' });

    for (const [key, file] of [
      ['c3/axes-4/s1', 'hpn.onnx'],
      ['c3/softmax/s0', 'softmax.onnx'],
    ]) {
      const exported = await cli(['export', join('all', 'models', key!), '--out', file!, '--json', '--plugin', 'tiny-axes-plugin']);
      expect(exported.code, exported.stderr).toBe(0);
      expect(JSON.parse(exported.stdout)).toMatchObject({ classes: 3, inputWidth: 300, verified: { rows: 256 } });
    }
  });

  it('--resume keeps the mode of the directory (all), and refuses best over the models all kept', async () => {
    const first = await experiment('kept', '--save-models', 'all', '--only', 'c3/*/s1');
    expect(first.code, first.stderr).toBe(0);
    const human = (...more: string[]) =>
      cli(['experiment', '--grid', 'tiny.json', '--plugin', 'tiny-axes-plugin', '--out', 'kept', '--workers', '2', '--resume', ...more]);
    const resumed = await human();
    expect(resumed.code, resumed.stderr).toBe(0);
    const all = ['c3/axes-4/s0', 'c3/axes-4/s1', 'c3/softmax/s0', 'c3/softmax/s1'];
    expect(saved('kept')).toEqual(all);
    expect(resumed.stdout).toContain(`  models  ${join(scratch, 'kept', 'models')} (--save-models all): 4 held`);
    expect(resumed.stderr).toContain('note: --save-models all, as the earlier sessions of kept ran');

    const refused = await human('--save-models', 'best');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`--save-models best would remove models that earlier sessions of ${join(scratch, 'kept')} kept`);
    expect(refused.stderr).toContain('give --save-models all');
    expect(saved('kept')).toEqual(all);
  });

  it('says in the human summary which models best removed, and where', async () => {
    const first = await experiment('said', '--only', 'c3/*/s0');
    expect(first.code, first.stderr).toBe(0);
    const resumed = await cli([
      'experiment',
      '--grid',
      'tiny.json',
      '--plugin',
      'tiny-axes-plugin',
      '--out',
      'said',
      '--workers',
      '2',
      '--resume',
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const expected = bestByValidation(records('said'));
    const removed = ['c3/axes-4/s0', 'c3/softmax/s0'].filter((key) => !expected.includes(key));
    const dir = join(scratch, 'said', 'models');
    expect(resumed.stdout).toContain(`  models  ${dir} (--save-models best): 2 held`);
    // Every removed model named with its path, in whatever order the runs settled.
    const line = resumed.stdout.split('\n').find((l) => l.includes('each replaced by a better seed')) ?? '';
    expect(line).toContain(removed.length > 0 ? `removed ${removed.length}, each replaced by a better seed of its cell: ` : '');
    for (const key of removed) expect(line).toContain(join(dir, key));
    if (removed.length === 0) expect(resumed.stdout).not.toContain('removed');
  });

  it('best (the default): the seed of each cell with the best validation score, also across --resume', async () => {
    const first = await experiment('best', '--only', 'c3/*/s0');
    expect(first.code, first.stderr).toBe(0);
    expect(saved('best')).toEqual(['c3/axes-4/s0', 'c3/softmax/s0']);
    const resumed = await experiment('best', '--resume');
    expect(resumed.code, resumed.stderr).toBe(0);
    const expected = bestByValidation(records('best'));
    expect(saved('best')).toEqual(expected);
    const models = JSON.parse(resumed.stdout).models;
    expect(models).toMatchObject({ mode: 'best', held: expected });
    // What a later seed replaced is gone.
    expect([...models.removed].sort()).toEqual(['c3/axes-4/s0', 'c3/softmax/s0'].filter((key) => !expected.includes(key)));
    const [key] = expected;
    const exported = await cli(['export', join('best', 'models', key!), '--out', 'best.onnx', '--json', '--plugin', 'tiny-axes-plugin']);
    expect(exported.code, exported.stderr).toBe(0);
  });

  it('none: no model is kept', async () => {
    const run = await experiment('none', '--save-models', 'none');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).models).toBeNull();
    expect(existsSync(join(scratch, 'none', 'models'))).toBe(false);
    expect(records('none')).toHaveLength(4);
  });

  it('refuses a models directory that cannot be written before any run, with exit 3, changing nothing', async () => {
    const out = join(scratch, 'blocked');
    const first = await experiment('blocked', '--save-models', 'none', '--only', 'c3/softmax/s0');
    expect(first.code, first.stderr).toBe(0);
    writeFileSync(join(out, 'models'), 'in the way');
    const contents = () =>
      Object.fromEntries(
        readdirSync(out).map((name) => [name, statSync(join(out, name)).isDirectory() ? 'dir' : readFileSync(join(out, name), 'utf8')]),
      );
    const before = contents();
    const run = await experiment('blocked', '--resume', '--save-models', 'best');
    expect(run.code).toBe(3);
    // With --json the error may come as a JSON object on stdout rather than as a line on stderr.
    expect(`${run.stdout}${run.stderr}`).toMatch(/cannot save models into .*blocked\/models: it exists and is not a directory/);
    expect(contents()).toEqual(before);
    expect(existsSync(join(out, 'experiment.lock'))).toBe(false);
  });

  it("records name every plugin package that took part, the third-party one included, and the CLI's commit", async () => {
    const rs = records('none');
    const hpn = rs.find((r) => r.model === 'axes-4')!;
    expect(hpn.plugins).toContainEqual({
      kind: 'prototypes',
      name: 'tiny-axes',
      package: 'tiny-axes-plugin',
      version: '1.2.3',
      source: 'tiny-axes-plugin',
    });
    for (const [kind, name, pkg] of [
      ['head', 'hpn', '@hyperproto/head-hpn'],
      ['dataset', 'gaussian', '@hyperproto/data-gaussian'],
    ]) {
      expect(hpn.plugins).toContainEqual({ kind, name, package: pkg, version: expect.stringMatching(/^\d+\.\d+\.\d+/), source: 'builtin' });
    }
    expect(hpn.plugins).toContainEqual(
      expect.objectContaining({ kind: 'engine', package: expect.stringMatching(/^@hyperproto\/engine-/), source: 'builtin' }),
    );
    const softmax = rs.find((r) => r.model === 'softmax')!;
    expect(softmax.plugins.map((p) => (p as { kind: string }).kind)).toEqual(['dataset', 'head', 'engine', 'evaluator']);
    // The CLI runs from this checkout (the results lie outside it): its commit, and whether it has changes.
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' }).trim().length > 0;
    for (const r of rs) expect(r.git).toEqual({ commit: head, dirty });
  });
});
