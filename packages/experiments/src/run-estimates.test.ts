import {
  createRegistry,
  defineDataset,
  defineEvaluator,
  definePrototypeStrategy,
  parseExperimentSpec,
  z,
  type DatasetDescription,
} from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { plannedRunCost, UNDESCRIBED_DATASET } from './run-estimates.js';
import { fakeHead } from './test-support/fake-registry.js';

const never = () => {
  throw new Error('planning never generates');
};

/** A dataset whose option is not called `classes`: only its describe says the sizes. */
const counted = (name: string, describe?: (options: { n: number; rows: number }) => DatasetDescription) =>
  defineDataset({
    name,
    summary: 'test dataset',
    options: z.strictObject({ n: z.number().int().min(2), rows: z.number().int().min(1).default(10) }),
    ...(describe ? { describe } : {}),
    generate: never,
  });

const registry = createRegistry([
  counted('described', ({ n, rows }) => ({ classes: n, trainRows: n * rows, inputWidth: 4 })),
  counted('silent'),
  counted('seed-defaults', () => ({ ...UNDESCRIBED_DATASET })),
  fakeHead('flat', false),
  fakeHead('sphere', true),
  defineEvaluator({ name: 'classification', summary: 'test evaluator', options: z.strictObject({}), evaluate: () => ({}) }),
  definePrototypeStrategy({
    name: 'stepped',
    summary: 'test',
    options: z.strictObject({ steps: z.number().default(100) }),
    generate: never,
  }),
]);

const cost = (dataset: string, options: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  plannedRunCost(
    registry,
    parseExperimentSpec({
      dataset: { name: dataset, options },
      head: { name: 'flat' },
      trainer: { hiddenUnits: 8, hiddenLayers: 2, maxEpochs: 200 },
      ...extra,
    }),
  );

describe('plannedRunCost', () => {
  it("takes the sizes from the dataset's describe, whatever its options are called", () => {
    // Twice the rows per class: twice the training work.
    expect(cost('described', { n: 20, rows: 20 }) / cost('described', { n: 20, rows: 10 })).toBeCloseTo(2, 12);
    // More classes: more rows and a wider output layer.
    expect(cost('described', { n: 40 })).toBeGreaterThan(2 * cost('described', { n: 20 }));
  });

  it('counts what a dataset does not describe as the seed defaults', () => {
    expect(cost('silent', { n: 500 })).toBe(cost('seed-defaults', { n: 2 }));
  });

  it('counts at most maxEpochs epochs, the prototype width as the output width, and a strategy’s steps (defaults included)', () => {
    const base = cost('described', { n: 20 });
    const short = plannedRunCost(
      registry,
      parseExperimentSpec({
        dataset: { name: 'described', options: { n: 20 } },
        head: { name: 'flat' },
        trainer: { hiddenUnits: 8, maxEpochs: 5 },
      }),
    );
    expect(short / base).toBeCloseTo(5 / 50, 12);
    const sphere = (dims: number, options = {}) =>
      cost('described', { n: 20 }, { head: { name: 'sphere' }, prototypes: { strategy: 'stepped', dims, options } });
    // 100 default steps comparing 20 x 20 pairs of 8-dim rows (3 multiply-adds each, forward and backward), and a
    // narrower output layer than 20 classes.
    expect(sphere(8, { steps: 0 })).toBeLessThan(base);
    expect(sphere(8) - sphere(8, { steps: 0 })).toBe(3 * 100 * 20 * 20 * 8);
  });
});
