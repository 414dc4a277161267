import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { runGrid, type RunGridOptions } from './grid-runner.js';
import { parseGrid } from './grid-schema.js';
import { localPool } from './local-pool.js';
import { parseResults, RESULTS_FILE } from './results-store.js';
import type { SchedulerFactory } from './run-scheduler.js';
import { MODELS_DIR, SAVE_MODELS_FILE, SavedModels } from './saved-models.js';
import { softmaxRecord } from './test-support/fake-record.js';
import { validationScore } from './validation-score.js';

const registryModule = fileURLToPath(new URL('./test-support/fake-registry-module.ts', import.meta.url));
const plainModule = fileURLToPath(new URL('./test-support/fake-registry.ts', import.meta.url));
const grid = parseGrid({
  name: 'models',
  seeds: 3,
  datasets: [{ id: 'c4', name: 'blobs', options: { classes: 4 } }],
  models: [
    { id: 'softmax', head: 'softmax' },
    { id: 'axes-4', head: 'hpn', prototypes: { strategy: 'axes', dims: 4 } },
  ],
});

let root: string;
let out: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'hyperproto-models-'));
  out = join(root, 'results');
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  delete process.env.FAKE_ENGINE_TEST_SKILL_BY_SEED;
  delete process.env.FAKE_WRITE_FAIL_SEED;
});

const run = (options: Partial<RunGridOptions>) =>
  runGrid({ grid, out, registryModule, inline: true, workers: 2, onLog: () => {}, ...options });
const records = () => parseResults(readFileSync(join(out, RESULTS_FILE)), 'results').records;
const models = () => join(out, MODELS_DIR);
/** Every entry under models/<dataset>/<model>/, hidden ones included (a leftover staging directory would show). */
const entries = () =>
  existsSync(models())
    ? readdirSync(models())
        .filter((d) => d !== SAVE_MODELS_FILE)
        .flatMap((d) => readdirSync(join(models(), d)).flatMap((m) => readdirSync(join(models(), d, m)).map((e) => `${d}/${m}/${e}`)))
        .sort()
    : [];
const saved = (key: string) => JSON.parse(readFileSync(join(models(), key, 'run.json'), 'utf8')) as { seed: number; target: string };

describe('the save mode a results directory remembers', () => {
  // As the CLI calls it: best for a new directory, the directory's own mode on --resume.
  const resume = (options: Partial<RunGridOptions> = {}) => run({ resume: true, workers: 1, defaultSaveModels: 'best', ...options });
  const mode = () => JSON.parse(readFileSync(join(models(), SAVE_MODELS_FILE), 'utf8'));
  const two = ['c4/axes-4/s1', 'c4/axes-4/s2', 'c4/softmax/s1', 'c4/softmax/s2'];

  it('--resume without a mode keeps all: no model of an earlier session is removed', async () => {
    await run({ saveModels: 'all', only: ['*/*/s1', '*/*/s2'] });
    expect(mode()).toEqual({ saveModels: 'all' });
    const log: string[] = [];
    const resumed = await resume({ onLog: (line) => log.push(line) });
    expect(resumed.models).toMatchObject({ mode: 'all', removed: [] });
    expect(entries()).toEqual(['c4/axes-4/s0', ...two.slice(0, 2), 'c4/softmax/s0', ...two.slice(2)]);
    expect(log).toContain(`note: --save-models all, as the earlier sessions of ${out} ran (give --save-models to change it)`);

    // A directory from before the mode was recorded: several seeds in a cell say all.
    rmSync(join(models(), SAVE_MODELS_FILE));
    expect((await resume()).models).toMatchObject({ mode: 'all', removed: [] });
  });

  it('refuses best over models kept under all before anything is touched, naming them and how to keep them', async () => {
    await run({ saveModels: 'all', only: ['*/*/s1', '*/*/s2'] });
    const results = readFileSync(join(out, RESULTS_FILE), 'utf8');
    await expect(resume({ saveModels: 'best' })).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringContaining(
        `--save-models best would remove models that earlier sessions of ${out} kept under --save-models all: best keeps one seed per cell and removes the others once a run of the cell is saved; 4 model(s) under ${models()}: ${two.join(', ')}`,
      ),
      hint: expect.stringContaining('give --save-models all'),
    });
    expect(entries()).toEqual(two);
    expect(readFileSync(join(out, RESULTS_FILE), 'utf8')).toBe(results);
    expect(mode()).toEqual({ saveModels: 'all' });
  });

  it('none leaves the saved models as they are, and is kept by a later --resume; a new directory under none gets no models/', async () => {
    await run({ saveModels: 'best', only: ['*/*/s1'] });
    const none = await resume({ saveModels: 'none', only: ['*/*/s2'] });
    expect(none.models).toBeNull();
    expect(entries()).toEqual(['c4/axes-4/s1', 'c4/softmax/s1']);
    expect(mode()).toEqual({ saveModels: 'none' });
    expect((await resume()).models).toBeNull();
    expect(entries()).toEqual(['c4/axes-4/s1', 'c4/softmax/s1']);

    rmSync(out, { recursive: true });
    await run({ saveModels: 'none', only: ['*/*/s1'] });
    expect((await resume()).models).toBeNull();
    expect(existsSync(models())).toBe(false);
  });
});

describe('saving the models of a grid', () => {
  it("none keeps no model; all keeps every run's directory where it was told it would be", async () => {
    const none = await run({ saveModels: 'none' });
    expect(none.models).toBeNull();
    expect(existsSync(models())).toBe(false);

    rmSync(out, { recursive: true });
    const all = await run({ saveModels: 'all' });
    const keys = ['c4/axes-4/s0', 'c4/axes-4/s1', 'c4/axes-4/s2', 'c4/softmax/s0', 'c4/softmax/s1', 'c4/softmax/s2'];
    expect(entries()).toEqual(keys);
    expect(all.models).toMatchObject({ dir: models(), mode: 'all', removed: [], held: keys });
    expect([...all.models!.saved].sort()).toEqual(keys);
    expect(saved('c4/softmax/s1')).toEqual({ seed: 1, bestEpoch: 3, target: join(models(), 'c4/softmax/s1') });
  });

  it('best keeps the seed with the best validation score of each cell, even where the test split disagrees', async () => {
    // Test skill falls with the seed while the kept validation accuracy rises with it.
    process.env.FAKE_ENGINE_TEST_SKILL_BY_SEED = '0.95,0.6,0.3';
    const outcome = await run({ saveModels: 'best' });
    expect(entries()).toEqual(['c4/axes-4/s2', 'c4/softmax/s2']);
    expect(outcome.models?.held).toEqual(['c4/axes-4/s2', 'c4/softmax/s2']);
    const softmax = records().filter((r) => r.model === 'softmax');
    const byValidation = [...softmax].sort((a, b) => validationScore(b).accuracy - validationScore(a).accuracy)[0]!;
    const byTest = [...softmax].sort((a, b) => b.metrics.accuracy! - a.metrics.accuracy!)[0]!;
    expect(byValidation.seed).toBe(2);
    expect(byTest.seed).toBe(0);
    expect(saved('c4/softmax/s2').seed).toBe(2);
  });

  it("best replaces a saved model when a resumed session's seed beats it, and keeps it when not", async () => {
    await run({ saveModels: 'best', only: ['*/*/s1'] });
    expect(entries()).toEqual(['c4/axes-4/s1', 'c4/softmax/s1']);
    // s0 validates worse than the saved s1 and is dropped; s2 validates better and replaces it.
    const resumed = await run({ saveModels: 'best', resume: true, workers: 1 });
    expect(entries()).toEqual(['c4/axes-4/s2', 'c4/softmax/s2']);
    expect([...resumed.models!.removed].sort()).toEqual(['c4/axes-4/s1', 'c4/softmax/s1']);
    expect([...resumed.models!.saved].sort()).toEqual(['c4/axes-4/s2', 'c4/softmax/s2']);
  });

  it('drops what a failed run wrote, and what an interrupted session left half-done', async () => {
    process.env.FAKE_WRITE_FAIL_SEED = '2';
    const outcome = await run({ saveModels: 'all' });
    expect(outcome.failed.map((f) => f.key).sort()).toEqual(['c4/axes-4/s2', 'c4/softmax/s2']);
    expect(outcome.failed[0]!.failure.message).toMatch(/cannot save the model of c4\/\w+-?\d?\/s2 into .*: disk full/);
    expect(entries()).toEqual(['c4/axes-4/s0', 'c4/axes-4/s1', 'c4/softmax/s0', 'c4/softmax/s1']);

    // A killed session's staging directory, and a saved model moved aside but not yet replaced.
    mkdirSync(join(models(), 'c4/softmax/.s2.partial-99999'));
    writeFileSync(join(models(), 'c4/softmax/.s2.partial-99999/run.json'), '{');
    const { renameSync } = await import('node:fs');
    renameSync(join(models(), 'c4/axes-4/s1'), join(models(), 'c4/axes-4/.s1.old-99999'));
    delete process.env.FAKE_WRITE_FAIL_SEED;
    await run({ saveModels: 'all', resume: true });
    expect(entries()).toEqual(['c4/axes-4/s0', 'c4/axes-4/s1', 'c4/axes-4/s2', 'c4/softmax/s0', 'c4/softmax/s1', 'c4/softmax/s2']);
    expect(saved('c4/axes-4/s1').seed).toBe(1);
  });

  it('refuses a models directory it cannot write before anything starts, leaving nothing behind', async () => {
    mkdirSync(out);
    writeFileSync(join(out, MODELS_DIR), 'not a directory');
    await expect(run({ saveModels: 'best' })).rejects.toMatchObject({
      code: ErrorCode.Io,
      message: expect.stringMatching(/cannot save models into .*models: it exists and is not a directory/),
    });
    expect(readdirSync(out)).toEqual([MODELS_DIR]);

    // Under a file: nothing can be created, and nothing is.
    const blocked = join(root, 'file', 'results');
    writeFileSync(join(root, 'file'), '');
    await expect(run({ saveModels: 'all', out: blocked })).rejects.toMatchObject({ code: ErrorCode.Io });
    expect(readdirSync(root).sort()).toEqual(['file', 'results']);
  });

  it('a writable check leaves no trace: the results directory is created by the run as before', async () => {
    await run({ saveModels: 'best', only: ['c4/softmax/s0'] });
    expect(readdirSync(out).sort()).toEqual(['grid.json', MODELS_DIR, 'results.jsonl', 'sessions.jsonl']);
    expect(entries()).toEqual(['c4/softmax/s0']);
  });

  it('refuses to save with a registry module that cannot write runs', async () => {
    await expect(run({ saveModels: 'best', registryModule: plainModule })).rejects.toThrow(/exports no writeRunDirectory/);
    expect(existsSync(out)).toBe(false);
    // Without saving, such a module runs as before, and its records name the plugins without packages.
    await run({ saveModels: 'none', registryModule: plainModule, only: ['c4/softmax/s0'] });
    expect(records()[0]!.plugins).toContainEqual({ kind: 'head', name: 'softmax', package: null, version: null, source: 'unknown' });
  });
});

/**
 * This thread's runs, with `remoteWorkers` as a job queue's scheduler says it. `written: false`: the runs write no
 * model (as a worker on a machine without the results directory writes it where this one does not look).
 */
function remotePool({ remoteWorkers = true, written = true } = {}): SchedulerFactory & { readonly remoteWorkers: boolean } {
  const factory: SchedulerFactory = async (context) => {
    const pool = await localPool({ workers: 1, inline: true })(context);
    return {
      description: pool.description,
      parallel: () => pool.parallel(),
      close: () => pool.close(),
      execute: (orders, events, signal) =>
        pool.execute(
          written ? orders : orders.map(({ save: _, ...order }) => order),
          { ...events, finished: (order, record) => events.finished(orders.find((o) => o.key === order.key)!, record) },
          signal,
        ),
    };
  };
  return Object.assign(factory, { remoteWorkers });
}

describe('saving models with runs that go on without the session (a job queue)', () => {
  it('keeps staging directories until a session ends with the whole grid recorded, then removes those left', async () => {
    await run({ saveModels: 'all', only: ['*/*/s0'], scheduler: remotePool() });
    // A worker of an earlier session still writing s1's model, and what one left of s2's.
    const writing = join(models(), `c4/softmax/.s1.partial-99999`);
    mkdirSync(writing);
    writeFileSync(join(writing, 'run.json'), '{');
    mkdirSync(join(models(), `c4/axes-4/.s2.partial-99998`));

    // Not the whole grid: both stay, for --resume.
    await run({ saveModels: 'all', resume: true, only: ['*/*/s2'], scheduler: remotePool() });
    expect(entries()).toEqual([
      'c4/axes-4/.s2.partial-99998',
      'c4/axes-4/s0',
      'c4/axes-4/s2',
      'c4/softmax/.s1.partial-99999',
      'c4/softmax/s0',
      'c4/softmax/s2',
    ]);

    const logs: string[] = [];
    const outcome = await run({ saveModels: 'all', resume: true, scheduler: remotePool(), onLog: (m) => logs.push(m) });
    expect(outcome.models?.held).toEqual([
      'c4/axes-4/s0',
      'c4/axes-4/s1',
      'c4/axes-4/s2',
      'c4/softmax/s0',
      'c4/softmax/s1',
      'c4/softmax/s2',
    ]);
    expect(entries()).toEqual(['c4/axes-4/s0', 'c4/axes-4/s1', 'c4/axes-4/s2', 'c4/softmax/s0', 'c4/softmax/s1', 'c4/softmax/s2']);
    expect(saved('c4/softmax/s1')).toEqual({ seed: 1, bestEpoch: 3, target: join(models(), 'c4/softmax/s1') });
    expect(logs.filter((line) => line.startsWith('removed'))).toEqual([
      `removed 2 model directories no run will settle: ${join(models(), 'c4/axes-4/.s2.partial-99998')}, ${writing}`,
    ]);

    // A session with nothing left to run removes what is left as well.
    mkdirSync(join(models(), `c4/softmax/.s0.partial-99997`));
    await run({ saveModels: 'all', resume: true, scheduler: remotePool() });
    expect(entries()).toEqual(['c4/axes-4/s0', 'c4/axes-4/s1', 'c4/axes-4/s2', 'c4/softmax/s0', 'c4/softmax/s1', 'c4/softmax/s2']);
  });

  it("says a model is missing on a shared file system only when the runs' workers write it", async () => {
    const notSaved = (logs: string[]) => logs.filter((line) => /not saved|^hint:/.test(line)).sort();
    const remote: string[] = [];
    await run({ saveModels: 'all', only: ['*/*/s0'], scheduler: remotePool({ written: false }), onLog: (m) => remote.push(m) });
    expect(notSaved(remote)).toEqual([
      `hint: The queue workers write models there: unless every worker runs on this machine, it must be a file system every worker mounts at the same path.`,
      `the model of c4/axes-4/s0 was not saved: no model was written at ${join(models(), `c4/axes-4/.s0.partial-${process.pid}`)}`,
      `the model of c4/softmax/s0 was not saved: no model was written at ${join(models(), `c4/softmax/.s0.partial-${process.pid}`)}`,
    ]);
    const local: string[] = [];
    await run({
      saveModels: 'all',
      resume: true,
      only: ['*/*/s1'],
      scheduler: remotePool({ remoteWorkers: false, written: false }),
      onLog: (m) => local.push(m),
    });
    expect(notSaved(local)).toEqual([
      `the model of c4/axes-4/s1 was not saved: no model was written at ${join(models(), `c4/axes-4/.s1.partial-${process.pid}`)}`,
      `the model of c4/softmax/s1 was not saved: no model was written at ${join(models(), `c4/softmax/.s1.partial-${process.pid}`)}`,
    ]);
  });

  it("settles and removes only placements of its own directory's models, an earlier session's included", async () => {
    const models = await SavedModels.open(out, 'all', [], { remoteWorkers: true });
    const s1 = { key: 'c4/softmax/s1', dataset: 'c4', model: 'softmax', seed: 1 };
    const s2 = { key: 'c4/softmax/s2', dataset: 'c4', model: 'softmax', seed: 2 };
    const cell = join(out, MODELS_DIR, 'c4/softmax');
    expect(models.placement(s1)).toEqual({ dir: join(cell, `.s1.partial-${process.pid}`), target: join(cell, 's1') });

    // Written for a job a coordinator with pid 99999 queued.
    const earlier = { dir: join(cell, '.s1.partial-99999'), target: join(cell, 's1') };
    mkdirSync(earlier.dir, { recursive: true });
    writeFileSync(join(earlier.dir, 'run.json'), '{"seed":1}');
    await expect(models.settle(s1, softmaxRecord(1), earlier)).resolves.toBe(true);
    expect(readFileSync(join(cell, 's1/run.json'), 'utf8')).toBe('{"seed":1}');

    // Another results directory's, another seed's, or not a staging directory: left as they are.
    const elsewhere = { dir: join(root, 'other/models/c4/softmax/.s2.partial-99999'), target: join(root, 'other/models/c4/softmax/s2') };
    const otherSeed = { dir: join(cell, '.s1.partial-99999'), target: join(cell, 's2') };
    const saved = { dir: join(cell, 's1'), target: join(cell, 's2') };
    mkdirSync(elsewhere.dir, { recursive: true });
    mkdirSync(otherSeed.dir);
    await expect(models.settle(s2, softmaxRecord(2), elsewhere)).rejects.toMatchObject({
      message: `its run was asked to write it at ${elsewhere.dir}, outside ${join(out, MODELS_DIR)}, so it was left there`,
    });
    for (const placement of [elsewhere, otherSeed, saved]) await models.discard(s2, placement);
    expect([existsSync(elsewhere.dir), existsSync(otherSeed.dir), existsSync(saved.dir)]).toEqual([true, true, true]);
    await expect(models.settle(s2, softmaxRecord(2), undefined)).rejects.toMatchObject({
      message: 'its job was queued by an earlier session that saved no models (--save-models none)',
    });
    // A run whose dataset names a path (a job written into the queue by someone else) leads nowhere outside models/.
    const escaping = { key: '../../x/softmax/s0', dataset: '../../x', model: 'softmax', seed: 0 };
    const outside = models.placement(escaping);
    mkdirSync(outside.dir, { recursive: true });
    await models.discard(escaping, outside);
    expect(existsSync(outside.dir)).toBe(true);
    expect(models.summary().held).toEqual(['c4/softmax/s1']);
  });
});
