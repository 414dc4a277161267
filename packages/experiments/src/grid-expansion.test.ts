import { describe, expect, it } from 'vitest';
import { expandGrid, runKey } from './grid-expansion.js';
import { loadPreset, presetNames } from './grid-files.js';
import { type Grid, parseGrid } from './grid-schema.js';
import { fakeGrid } from './test-support/fake-grid.js';

// Datasets c4 and c8, models softmax and axes-4.
const base = fakeGrid('small', 2);

describe('grid expansion', () => {
  it('makes one run per dataset x model x seed, dataset by dataset, then seed, then model', () => {
    const runs = expandGrid(parseGrid(base));
    expect(runs.map((r) => r.key)).toEqual([
      'c4/softmax/s0',
      'c4/axes-4/s0',
      'c4/softmax/s1',
      'c4/axes-4/s1',
      'c8/softmax/s0',
      'c8/axes-4/s0',
      'c8/softmax/s1',
      'c8/axes-4/s1',
    ]);
    expect(runs[1]!.spec).toEqual({
      seed: 0,
      dataset: { name: 'blobs', options: { classes: 4 } },
      head: { name: 'hpn', options: {} },
      prototypes: { strategy: 'axes', dims: 4, options: {} },
      trainer: {},
    });
    expect(runs[0]!.spec.prototypes).toBeUndefined();
  });

  it('expands a long seed list in time linear in its runs (a list of 100,000 seeds, in a grid not parsed)', () => {
    const seeds = Array.from({ length: 100_000 }, (_, i) => 99_999 - i);
    const parsed = parseGrid({ ...base, seeds: 1, datasets: [base.datasets[0]], models: [base.models[0]] });
    const grid: Grid = { ...parsed, seeds };
    const started = performance.now();
    const runs = expandGrid(grid);
    // Looking each seed up in the list made this minutes long; it takes well under a second now.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(runs).toHaveLength(100_000);
    expect([runs[0]!.key, runs.at(-1)!.key]).toEqual(['c4/softmax/s99999', 'c4/softmax/s0']);
  });

  it('takes an explicit seed list', () => {
    const runs = expandGrid(parseGrid({ ...base, seeds: [7, 3] }));
    expect(runs.filter((r) => r.dataset === 'c4' && r.model === 'softmax').map((r) => r.seed)).toEqual([7, 3]);
    expect(runKey('c4', 'softmax', 7)).toBe('c4/softmax/s7');
  });

  it('ships the seed presets: 3 datasets x 10 models, 5 seeds (150 runs) and 1 seed (30 runs)', async () => {
    expect(presetNames()).toEqual(expect.arrayContaining(['seed', 'seed-quick']));
    const seed = await loadPreset('seed');
    const quick = await loadPreset('seed-quick');
    expect(expandGrid(seed)).toHaveLength(150);
    expect(expandGrid(quick)).toHaveLength(30);
    for (const grid of [seed, quick]) {
      expect(grid.datasets.map((d) => d.options.classes)).toEqual([10, 100, 1000]);
      expect(grid.models.map((m) => m.id)).toEqual([
        'softmax',
        'optimized-10',
        'optimized-100',
        'optimized-1000',
        'random-10',
        'random-100',
        'random-1000',
        'tammes-10',
        'tammes-100',
        'tammes-1000',
      ]);
      // The published tables are inlined from presets/published/.
      expect(grid.published?.macroF1.c1000?.softmax).toBe(83.8);
      expect(grid.published?.convergenceEpochs.c100?.['optimized-100']).toBe(147);
    }
    // Every HPN cell uses exactly the settings of the softmax cell of its dataset.
    expect(new Set(expandGrid(seed).map((r) => JSON.stringify([r.dataset, r.spec.dataset, r.spec.trainer]))).size).toBe(3);
  });

  it('refuses unknown presets, naming the known ones', async () => {
    await expect(loadPreset('seeds')).rejects.toThrow(/unknown preset "seeds". Known: .*seed-quick/);
  });
});

describe('parseGrid', () => {
  it('refuses a negative or zero seed count, naming the entry', () => {
    expect(() => parseGrid({ ...base, seeds: -2 }, 'grid.json')).toThrow(
      /grid\.json: seeds: the number of seeds must be at least 1, got -2/,
    );
    expect(() => parseGrid({ ...base, seeds: 0 })).toThrow(/seeds/);
    expect(() => parseGrid({ ...base, seeds: [1, -1] })).toThrow(/seeds/);
    expect(() => parseGrid({ ...base, seeds: [1, 1] })).toThrow(/duplicate/);
  });

  it('names the dotted path of a bad entry', () => {
    const bad = { ...base, models: [base.models[0], { id: 'x', head: 'hpn', prototypes: { strategy: 'axes', dims: 0 } }] };
    expect(() => parseGrid(bad)).toThrow(/models\.1\.prototypes\.dims/);
    expect(() => parseGrid({ ...base, models: [base.models[0], base.models[0]] })).toThrow(
      /models\.1\.id: duplicate id "softmax" \(also models\.0\)/,
    );
    expect(() => parseGrid({ ...base, datasets: [] })).toThrow(/datasets: list at least one dataset/);
    expect(() => parseGrid({ ...base, surprise: 1 })).toThrow(/surprise/);
  });
});
