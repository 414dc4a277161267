import { ErrorCode } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { expandGrid } from './grid-expansion.js';
import { gridRunCount, MAX_GRID_RUNS, parseGrid } from './grid-schema.js';
import { fakeGrid } from './test-support/fake-grid.js';
import { refusal } from './test-support/refusal.js';

// Datasets c4 and c8, models softmax and axes-4.
const base = fakeGrid('limits', 1);
const refused = (raw: Record<string, unknown>) => refusal(() => parseGrid(raw, 'grid.json'));
const softmaxModels = (count: number) => Array.from({ length: count }, (_, i) => ({ id: `m${i}`, head: 'softmax' }));
const SEED_RANGE = 'integers from 0 to 9007199254740991';

describe('what a seed count or list must be', () => {
  it('says that a count is a whole number from 1 to 10,000, wherever seeds are given', () => {
    expect(refused({ ...base, seeds: 1.5 }).message).toBe(
      'grid.json: seeds: the number of seeds must be a whole number from 1 to 10,000, got 1.5',
    );
    expect(refused({ ...base, seeds: 10_001 }).message).toBe('grid.json: seeds: the number of seeds must be at most 10,000, got 10001');
    expect(refused({ ...base, seeds: 0 }).message).toBe('grid.json: seeds: the number of seeds must be at least 1, got 0');
    const model = { id: 'own', head: 'softmax' };
    expect(refused({ ...base, models: [{ ...model, seeds: 2.5 }] }).message).toBe(
      'grid.json: models.0.seeds: the number of seeds must be a whole number from 1 to 10,000, got 2.5',
    );
    expect(refused({ ...base, models: [{ ...model, seeds: { c4: 0.5 } }] }).message).toBe(
      'grid.json: models.0.seeds.c4: the number of seeds must be a whole number from 1 to 10,000, got 0.5',
    );
  });

  it('names each seed of a list that is not an integer in the range of a seed, once', () => {
    expect(refused({ ...base, seeds: [-1, 0.5, 3] }).message).toBe(
      `grid.json: seeds.0: a seed must be one of the ${SEED_RANGE}, got -1; seeds.1: a seed must be one of the ${SEED_RANGE}, got 0.5`,
    );
    expect(refused({ ...base, seeds: [2 ** 53 + 1] }).message).toBe(
      `grid.json: seeds.0: a seed must be one of the ${SEED_RANGE}, got 9007199254740992`,
    );
    expect(parseGrid({ ...base, seeds: [Number.MAX_SAFE_INTEGER, 0] }).seeds).toEqual([Number.MAX_SAFE_INTEGER, 0]);
  });

  it('caps a seed list at 10,000 seeds, as a count', () => {
    const list = (length: number) => Array.from({ length }, (_, i) => i * 7);
    expect(refused({ ...base, seeds: list(10_001) }).message).toBe(
      'grid.json: seeds: the seed list must have at most 10,000 seeds, got 10,001',
    );
    expect(refused({ ...base, models: [{ id: 'own', head: 'softmax', seeds: { c8: list(200_000) } }] }).message).toBe(
      'grid.json: models.0.seeds.c8: the seed list must have at most 10,000 seeds, got 200,000',
    );
    expect(parseGrid({ ...base, datasets: [base.datasets[0]], models: [base.models[0]], seeds: list(10_000) }).seeds).toHaveLength(10_000);
  });

  it('says what seeds are when they are neither a count nor a list, also for one dataset of a model', () => {
    expect(refused({ ...base, seeds: 'five' }).message).toBe(
      `grid.json: seeds: expected a number of seeds (a whole number from 1 to 10,000) or a list of up to 10,000 distinct seeds (${SEED_RANGE}), got a string`,
    );
    expect(refused({ ...base, models: [{ id: 'own', head: 'softmax', seeds: 'five' }] }).message).toBe(
      'grid.json: models.0.seeds: expected the model\'s seeds as the grid\'s (a number of seeds, or a list of seeds), or one per dataset id (e.g. { "c10": 5 }), got a string',
    );
    expect(refused({ ...base, models: [{ id: 'own', head: 'softmax', seeds: { c4: null } }] }).message).toMatch(
      /^grid\.json: models\.0\.seeds\.c4: expected a number of seeds .*, got null$/,
    );
  });
});

describe('the size of a grid', () => {
  it('refuses at once a grid of more than 100,000 runs, naming the count and how it was made', () => {
    const started = performance.now();
    const error = refused({ ...base, datasets: [base.datasets[0]], models: softmaxModels(1_000), seeds: 1_000 });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toBe(
      'grid.json: the grid expands to 1,000,000 runs (1 dataset x 1,000 models x 1,000 seeds), more than the 100,000 a grid may have',
    );
    expect(error.hint).toMatch(/several grids, each with its own --out/);
    // As many runs as the limit is a grid.
    const largest = parseGrid({ ...base, datasets: [base.datasets[0]], models: softmaxModels(10), seeds: 10_000 });
    expect(gridRunCount(largest).runs).toBe(MAX_GRID_RUNS);
  });

  it('counts per model where models name their own datasets or seeds, as many runs as the grid expands to', () => {
    const models = [
      { id: 'all', head: 'softmax' },
      { id: 'c4-only', head: 'softmax', datasets: ['c4', 'c4'], seeds: [5, 9, 11] },
      { id: 'per-dataset', head: 'softmax', seeds: { c8: 7 } },
    ];
    const grid = parseGrid({ ...base, seeds: 2, models });
    // all: 2 datasets x 2 seeds; c4-only: 3 seeds on c4; per-dataset: 2 on c4 and 7 on c8.
    expect(gridRunCount(grid).runs).toBe(4 + 3 + 9);
    expect(expandGrid(grid)).toHaveLength(16);
    const error = refused({ ...base, seeds: 10_000, models: [...softmaxModels(5), { id: 'one', head: 'softmax', datasets: ['c8'] }] });
    expect(error.message).toBe(
      "grid.json: the grid expands to 110,000 runs (summed over the models, each over the datasets and seeds it names or the grid's), more than the 100,000 a grid may have",
    );
  });
});

describe('ids', () => {
  it('caps an id at 100 characters: it names directories and files of the results', () => {
    const long = 'a'.repeat(300);
    expect(refused({ ...base, models: [{ id: long, head: 'softmax' }] }).message).toBe(
      'grid.json: models.0.id: an id has at most 100 characters (it names directories and files of the results), got 300',
    );
    expect(refused({ ...base, datasets: [{ ...base.datasets[0], id: 'b'.repeat(101) }] }).message).toMatch(
      /^grid\.json: datasets\.0\.id: an id has at most 100 characters .*, got 101$/,
    );
    expect(parseGrid({ ...base, models: [{ id: 'm'.repeat(100), head: 'softmax' }] }).models[0]!.id).toHaveLength(100);
  });
});
