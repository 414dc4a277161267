import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { runGrid, type RunGridOptions } from './grid-runner.js';
import { parseGrid } from './grid-schema.js';
import { parseResults, RESULTS_FILE } from './results-store.js';
import { MODELS_DIR } from './saved-models.js';
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
        .flatMap((d) => readdirSync(join(models(), d)).flatMap((m) => readdirSync(join(models(), d, m)).map((e) => `${d}/${m}/${e}`)))
        .sort()
    : [];
const saved = (key: string) => JSON.parse(readFileSync(join(models(), key, 'run.json'), 'utf8')) as { seed: number; target: string };

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
