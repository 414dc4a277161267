// A study's grid growing under `resume`: runs are added and unfinished runs change, finished runs stay as they were.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { runGrid } from './grid-runner.js';
import { parseGrid, type GridInput } from './grid-schema.js';
import { readResultsDirectory, RESULTS_FILE } from './results-store.js';
import { writeReport } from './report-writer.js';
import { fakeGrid } from './test-support/fake-grid.js';
import { asyncRefusal } from './test-support/refusal.js';

const registryModule = fileURLToPath(new URL('./test-support/fake-registry.ts', import.meta.url));

// One dataset (c4), the softmax model, one seed: the study as it started.
const first = fakeGrid('study', 1, { classes: [4], axesDims: [] });

let out: string;
beforeEach(() => {
  out = join(mkdtempSync(join(tmpdir(), 'hyperproto-growth-')), 'results');
});
afterEach(() => rmSync(join(out, '..'), { recursive: true, force: true }));

const run = (grid: GridInput, options: { resume?: boolean; only?: string[]; log?: string[] } = {}) =>
  runGrid({
    grid: parseGrid(grid),
    gridSource: 'grown.json',
    out,
    registryModule,
    inline: true,
    workers: 1,
    ...(options.resume ? { resume: true } : {}),
    ...(options.only ? { only: options.only } : {}),
    onLog: (message) => options.log?.push(message),
  });
const results = () => readFileSync(join(out, RESULTS_FILE), 'utf8');
const storedGrid = () => JSON.parse(readFileSync(join(out, 'grid.json'), 'utf8'));

describe('resume with a grown grid', () => {
  it('adds a model: its runs run, the finished ones are skipped byte for byte, and grid.json becomes the new grid', async () => {
    await run(first);
    const before = results();
    const grown = fakeGrid('study', 1, { classes: [4], axesDims: [4, 8] });
    const log: string[] = [];
    const outcome = await run(grown, { resume: true, log });
    expect(outcome).toMatchObject({ total: 3, skipped: 1, ran: 2, failed: [] });
    expect(outcome.gridChange).toEqual({
      added: ['c4/axes-4/s0', 'c4/axes-8/s0'],
      changed: [],
      dropped: [],
      models: ['axes-4', 'axes-8'],
      datasets: [],
      seeds: [],
      description: 'the grid grew: 2 new runs (models axes-4, axes-8)',
    });
    expect(log).toContain('the grid grew: 2 new runs (models axes-4, axes-8); grid.json now holds grown.json');
    expect(results().startsWith(before)).toBe(true);
    expect(storedGrid()).toEqual(parseGrid(grown));
    const read = await readResultsDirectory(out);
    const keys = read.records.map((r) => r.key);
    expect(keys[0]).toBe('c4/softmax/s0');
    expect(keys.slice(1).sort()).toEqual(['c4/axes-4/s0', 'c4/axes-8/s0']);

    // Once grown, the same grid is the directory's grid: nothing changes and nothing is said.
    const again: string[] = [];
    const same = await run(grown, { resume: true, log: again });
    expect(same).toMatchObject({ skipped: 3, ran: 0, gridChange: null });
    expect(again.join('\n')).not.toMatch(/grid grew/);
  });

  it('adds a dataset, and seeds', async () => {
    await run(first);
    const byDataset = await run(fakeGrid('study', 1, { classes: [4, 8], axesDims: [] }), { resume: true });
    expect(byDataset).toMatchObject({ skipped: 1, ran: 1 });
    expect(byDataset.gridChange).toMatchObject({
      added: ['c8/softmax/s0'],
      datasets: ['c8'],
      description: 'the grid grew: 1 new run (dataset c8)',
    });

    const bySeeds = await run(fakeGrid('study', 3, { classes: [4, 8], axesDims: [] }), { resume: true });
    expect(bySeeds).toMatchObject({ skipped: 2, ran: 4 });
    expect(bySeeds.gridChange).toMatchObject({
      added: ['c4/softmax/s1', 'c4/softmax/s2', 'c8/softmax/s1', 'c8/softmax/s2'],
      seeds: [1, 2],
      description: 'the grid grew: 4 new runs (seeds 1, 2)',
    });
    expect((await readResultsDirectory(out)).records).toHaveLength(6);
  });

  it('names added runs that no new entry accounts for, such as a model that now runs on one more dataset', async () => {
    const limited = fakeGrid('study', 1, { classes: [4, 8], axesDims: [4] });
    await run({ ...limited, models: [limited.models[0]!, { ...limited.models[1]!, datasets: ['c4'] }] });
    const outcome = await run(limited, { resume: true });
    expect(outcome).toMatchObject({ skipped: 3, ran: 1 });
    expect(outcome.gridChange?.description).toBe('the grid grew: 1 new run (c8/axes-4/s0)');
  });

  it('lets unfinished runs change or go, and says so', async () => {
    const three = fakeGrid('study', 1, { classes: [4], axesDims: [4, 8] });
    // A first session that ran only softmax: the axes models have no records.
    await run(three, { only: ['*/softmax'] });
    const before = results();
    const changed = {
      ...three,
      models: [three.models[0]!, { ...three.models[1]!, trainer: { hiddenUnits: 64 } }],
    };
    const log: string[] = [];
    const outcome = await run(changed, { resume: true, log });
    expect(outcome).toMatchObject({ total: 2, skipped: 1, ran: 1 });
    expect(outcome.gridChange).toMatchObject({
      added: [],
      changed: ['c4/axes-4/s0'],
      dropped: ['c4/axes-8/s0'],
      description: 'the grid changed: 1 unfinished run changed (c4/axes-4/s0); 1 unfinished run dropped (c4/axes-8/s0)',
    });
    expect(log.join('\n')).toMatch(/the grid changed: 1 unfinished run changed/);
    expect(results().startsWith(before)).toBe(true);
    const axes = (await readResultsDirectory(out)).records.find((r) => r.key === 'c4/axes-4/s0')!;
    expect(axes.spec.trainer.hiddenUnits).toBe(64);
  });

  it('refuses a grid that changes a finished run, naming the run and the setting, and changes nothing', async () => {
    await run(first);
    const gridBefore = readFileSync(join(out, 'grid.json'), 'utf8');
    const before = results();
    // One more model, but softmax itself widened: its finished run is not the run the new grid makes.
    const grown = fakeGrid('study', 1, { classes: [4], axesDims: [4] });
    const widened = { ...grown, models: [{ ...grown.models[0]!, trainer: { hiddenUnits: 64 } }, grown.models[1]!] };
    const error = await asyncRefusal(run(widened, { resume: true }));
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(
      /holds results of a different grid: 1 finished run is not in grown\.json as it was:\n {2}c4\/softmax\/s0: trainer\.hiddenUnits: 300 in .*grid\.json, 64 in grown\.json$/,
    );
    expect(error.hint).toMatch(/Keep those runs as they are in .*grid\.json \(new models, datasets and seeds may be added/);
    expect(error.hint).toMatch(/or use a new --out/);
    expect(readFileSync(join(out, 'grid.json'), 'utf8')).toBe(gridBefore);
    expect(results()).toBe(before);
  });

  it('refuses a grid in which finished runs are gone, naming each', async () => {
    await run(fakeGrid('study', 2, { classes: [4], axesDims: [4] }));
    const gridBefore = readFileSync(join(out, 'grid.json'), 'utf8');
    // Seed 1 dropped, a new dataset added: the growth does not excuse the loss.
    const error = await asyncRefusal(run(fakeGrid('study', 1, { classes: [4, 8], axesDims: [4] }), { resume: true }));
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(/2 finished runs are not in grown\.json as they were:/);
    expect(error.message).toMatch(/\n {2}c4\/softmax\/s1: finished, and not in grown\.json/);
    expect(error.message).toMatch(/\n {2}c4\/axes-4\/s1: finished, and not in grown\.json/);
    expect(readFileSync(join(out, 'grid.json'), 'utf8')).toBe(gridBefore);
  });

  it('without resume refuses a grown grid as a different one', async () => {
    await run(first);
    const error = await asyncRefusal(run(fakeGrid('study', 2, { classes: [4], axesDims: [] })));
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(/holds results of a different grid:\n {2}seeds\.1: \(absent\) in .*grid\.json, 1 in grown\.json/);
    expect(error.hint).toMatch(/--resume continues with a grid that keeps every finished run as it was/);
  });

  it('the report shows the cells of a grown grid as not run yet until they run', async () => {
    await run(first);
    // A session that only continues the finished runs still grows the directory's grid.
    const grown = await run(fakeGrid('study', 1, { classes: [4, 8], axesDims: [4] }), { resume: true, only: ['c4/softmax'] });
    expect(grown).toMatchObject({ total: 1, gridTotal: 4, ran: 0, skipped: 1 });
    expect(grown.gridChange?.description).toBe('the grid grew: 3 new runs (model axes-4; dataset c8)');

    const report = await writeReport(out);
    expect(report.runs).toMatchObject({ finished: 1, expected: 4 });
    const md = readFileSync(report.markdown, 'utf8');
    expect(md).toMatch(/1 of 4 finished \(2 datasets x 2 models x seed 0\)\. Missing: 1 of c4, 2 of c8\./);
    expect(md).toMatch(/3 run\(s\) have no result: c4\/axes-4\/s0, c8\/softmax\/s0, c8\/axes-4\/s0\./);
  });
});
