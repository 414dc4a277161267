import { createRng } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stratifiedSplit, TEST, TRAIN, VALIDATION } from './stratified-split.js';
import { load, splitRows, tempDir, unevenLabels, writeNpy, writeText } from './test-support/dataset-files.js';
import { WorkPacer } from './work-pacer.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

const COUNTS = [200, 50, 31, 7, 3];

/** Features that identify their row: row i is [i, -i]. */
async function indexedFiles(counts: readonly number[], seed = 5): Promise<{ data: string; labels: string; truth: number[] }> {
  const truth = unevenLabels(seed, counts);
  const data = await writeNpy(
    tmp.path('x.npy'),
    '<f4',
    [truth.length, 2],
    truth.flatMap((_, i) => [i, -i]),
  );
  const labels = await writeNpy(tmp.path('y.npy'), '<i8', [truth.length], truth);
  return { data, labels, truth };
}

function rowIds(dataset: Awaited<ReturnType<typeof load>>, split: 'train' | 'validation' | 'test'): number[] {
  return splitRows(dataset, split).map(({ row }) => row[0]!);
}

describe('stratified splits from fractions', () => {
  it('puts every class in every split, in proportion, and each row in exactly one split with its own label', async () => {
    const { data, labels, truth } = await indexedFiles(COUNTS);
    const dataset = await load({ data, labels, validationFraction: 0.1, testFraction: 0.2 });
    const perClass = dataset.info.perClass as Record<'train' | 'validation' | 'test', number[]>;
    COUNTS.forEach((n, c) => {
      const validation = Math.max(1, Math.round(n * 0.1));
      const test = Math.max(1, Math.round(n * 0.2));
      expect([perClass.train[c], perClass.validation[c], perClass.test[c]], `class ${c}`).toEqual([
        n - validation - test,
        validation,
        test,
      ]);
    });
    // The smallest class (3 rows) still gives one row to each split.
    expect([perClass.train[4], perClass.validation[4], perClass.test[4]]).toEqual([1, 1, 1]);

    const seen = new Set<number>();
    for (const split of ['train', 'validation', 'test'] as const) {
      for (const { row, label } of splitRows(dataset, split)) {
        expect(row[1]).toBe(-row[0]!);
        expect(label).toBe(truth[row[0]!]);
        expect(seen.has(row[0]!)).toBe(false);
        seen.add(row[0]!);
      }
      // File order is kept inside a split.
      const ids = rowIds(dataset, split);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
    expect(seen.size).toBe(truth.length);
  });

  it('gives the same split for the same seed and another split for another seed', async () => {
    const { data, labels } = await indexedFiles(COUNTS);
    const a = await load({ data, labels }, 7);
    const b = await load({ data, labels }, 7);
    const c = await load({ data, labels }, 8);
    for (const split of ['train', 'validation', 'test'] as const) {
      expect(rowIds(a, split), split).toEqual(rowIds(b, split));
      expect(Buffer.from(a[split].features.data.buffer).equals(Buffer.from(b[split].features.data.buffer))).toBe(true);
    }
    expect(rowIds(a, 'test')).not.toEqual(rowIds(c, 'test'));
    // Another seed draws other rows, never other counts.
    expect(c.info.perClass).toEqual(a.info.perClass);
  });

  it('does not depend on the file format: the same rows and labels split the same way from CSV', async () => {
    const { data, labels, truth } = await indexedFiles(COUNTS);
    const csv = await writeText(tmp.path('x.csv'), truth.map((_, i) => `${i},${-i}`).join('\n'));
    const text = await writeText(tmp.path('y.txt'), truth.join('\n'));
    const fromNpy = await load({ data, labels }, 3);
    const fromCsv = await load({ data: csv, labels: text }, 3);
    for (const split of ['train', 'validation', 'test'] as const) expect(rowIds(fromCsv, split)).toEqual(rowIds(fromNpy, split));
  });

  it('never leaves a class without a training row, whatever the rounding', async () => {
    const labels = unevenLabels(1, [3, 4, 5, 6]);
    const split = await stratifiedSplit(
      Int32Array.from(labels),
      4,
      { validation: 0.45, test: 0.45 },
      createRng(0),
      new WorkPacer(undefined, 'test'),
      () => '',
    );
    for (let c = 0; c < 4; c++) {
      expect(split.perClass[TRAIN][c], `class ${c}`).toBeGreaterThanOrEqual(1);
      expect(split.perClass[VALIDATION][c]).toBeGreaterThanOrEqual(1);
      expect(split.perClass[TEST][c]).toBeGreaterThanOrEqual(1);
    }
    expect(split.sizes.reduce((a, b) => a + b)).toBe(labels.length);
  });
});

describe('splits given as files', () => {
  it('uses testData as the test split whole and splits data into train and validation only', async () => {
    const { data, labels } = await indexedFiles(COUNTS);
    const testData = await writeText(tmp.path('test.csv'), 'f1,f2\n1000,1\n1001,2\n1002,3\n');
    const testLabels = await writeText(tmp.path('test-labels.txt'), '4\n0\n2\n');
    const dataset = await load({ data, labels, testData, testLabels, testFraction: 0 });
    expect(rowIds(dataset, 'test')).toEqual([1000, 1001, 1002]);
    expect(Array.from(dataset.test.labels)).toEqual([4, 0, 2]);
    const total = COUNTS.reduce((a, b) => a + b);
    expect(dataset.train.labels.length + dataset.validation.labels.length).toBe(total);
    expect(dataset.info).toMatchObject({
      rows: { test: 3 },
      perClass: { test: [1, 0, 1, 0, 1] },
      files: { data, labels, testData, testLabels },
      formats: { data: 'npy', testData: 'csv' },
      splitFrom: { validation: 'validationFraction 0.1 of data', test: 'testData' },
    });
  });

  it('uses all of data for training when both held-out splits are files, with string labels shared across files', async () => {
    const data = await writeText(tmp.path('train.jsonl'), '[1, 1]\n[2, 2]\n[3, 3]\n');
    const labels = await writeText(tmp.path('train.txt'), 'b\na\nb\n');
    const validationData = await writeText(tmp.path('val.jsonl'), '{"features": [4, 4], "y": "a"}\n');
    const testData = await writeNpy(tmp.path('test.npy'), '<f8', [2, 2], [5, 5, 6, 6]);
    const testLabels = await writeNpy(tmp.path('test-y.npy'), '<U1', [2], ['a', 'b']);
    const dataset = await load({ data, labels, validationData, labelColumn: 'y', testData, testLabels });
    expect(dataset.classNames).toEqual(['a', 'b']);
    expect(rowIds(dataset, 'train')).toEqual([1, 2, 3]);
    expect(Array.from(dataset.train.labels)).toEqual([1, 0, 1]);
    expect(Array.from(dataset.validation.labels)).toEqual([0]);
    expect(Array.from(dataset.test.labels)).toEqual([0, 1]);
    expect(dataset.info).toMatchObject({ files: { validationLabels: `${validationData} key "y"` } });
  });
});
