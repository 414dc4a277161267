import { ErrorCode, type HyperprotoError, resolveOptions } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { filesDataset } from './files-dataset.js';
import { FilesOptionsSchema, labelColumnName } from './files-options.js';
import { loadFilesDataset } from './files-loader.js';
import { failure } from './test-support/dataset-files.js';
import { createRng } from '@hyperproto/core';

function resolveError(raw: unknown): HyperprotoError {
  try {
    resolveOptions(filesDataset, raw);
  } catch (error) {
    return error as HyperprotoError;
  }
  throw new Error('expected the options to be refused');
}

describe('files options', () => {
  it('fills in the defaults', () => {
    expect(resolveOptions(filesDataset, { data: 'x.npy', labels: 'y.npy' })).toEqual({
      data: 'x.npy',
      labels: 'y.npy',
      validationFraction: 0.1,
      testFraction: 0.2,
    });
    expect(filesDataset.name).toBe('files');
    expect(filesDataset.kind).toBe('dataset');
  });

  it.each([
    [{}, /data/],
    [{ data: 'x.npy', labels: 'y.npy', extra: 1 }, /extra/],
    [{ data: 'x.npy', labels: 'y.npy', validationFraction: 1 }, /validationFraction/],
    [{ data: 'x.npy', labels: 'y.npy', testFraction: -0.1 }, /testFraction/],
    [
      { data: 'x.npy', labels: 'y.npy', validationFraction: 0.5, testFraction: 0.5 },
      /testFraction: validationFraction \+ testFraction is 1, which leaves no training rows; keep the sum below 1/,
    ],
    [
      { data: 'x.npy', labels: 'y.npy', validationFraction: 0 },
      /validationFraction is 0, which leaves the validation split empty; give a fraction above 0 or validationData \(--validation-data\)/,
    ],
    [{ data: 'x.npy' }, /labels: x\.npy needs labels: give labels \(--labels\), .*a \.npy file has no label column/],
    [{ data: 'x.csv' }, /or set labelColumn \(--dataset-option labelColumn=NAME\) to the header column that holds them/],
    [
      { data: 'x.npy', labelColumn: 'label' },
      /labelColumn: labelColumn \(--dataset-option labelColumn=NAME\) is not used: a \.npy features file has no label column/,
    ],
    [
      { data: 'x.csv', labels: 'y.txt', labelColumn: 'label' },
      /labelColumn \(--dataset-option labelColumn=NAME\) is not used: every features file has its own labels file \(--labels\) or is a \.npy; give either --labels or labelColumn, not both/,
    ],
    [
      { data: 'x.csv', labels: 'y.txt', validationData: 'v.npy', validationLabels: 'vy.txt', labelColumn: 'label' },
      /own labels file \(--labels, --validation-labels\) or is a \.npy; give either --labels or labelColumn, not both/,
    ],
    [
      { data: 'x.csv', labels: 'y.txt', validationData: 'v.csv' },
      /validationLabels: v\.csv needs labels: give validationLabels \(--validation-labels\), a \.npy of integers/,
    ],
    [{ data: 'x.parquet', labels: 'y.txt' }, /data: x\.parquet: unknown features type "\.parquet"; use \.npy, \.csv, \.jsonl/],
    [
      { data: 'x.csv', labelColumn: 'y', testLabels: 't.txt' },
      /testLabels \(--test-labels\) is given without testData \(--test-data\); give the features file too/,
    ],
    [{ data: 'x.csv', labelColumn: 'y', testData: 't.npy' }, /testLabels: t\.npy needs labels/],
    [{ data: 'x.csv', labelColumn: 'y', classNames: ['a', 'b', 'a'] }, /class name "a" appears twice/],
    [{ data: 'x.csv', labelColumn: 'y', classNames: ['a'] }, /classNames/],
  ])('refuses %j naming the option', (raw, pattern) => {
    const error = resolveError(raw);
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(/^dataset:files/);
    expect(error.message).toMatch(pattern);
  });

  it('takes a whole number for labelColumn as the name of that column, as JSON and key=value flags give it', () => {
    expect(resolveOptions(filesDataset, { data: 'x.csv', labelColumn: 4 })).toMatchObject({ labelColumn: '4' });
    expect(resolveOptions(filesDataset, { data: 'x.csv', labelColumn: 0 })).toMatchObject({ labelColumn: '0' });
    for (const labelColumn of [1.5, -1, true]) {
      const error = resolveError({ data: 'x.csv', labelColumn });
      expect(error.code).toBe(ErrorCode.InvalidOptions);
      expect(error.message).toBe(
        'dataset:files labelColumn: expected the name of a column, e.g. "species", or a whole number such as 4 for the column named "4"',
      );
    }
    // As a run's spec keeps the option: the column that a model trained with it keeps too.
    expect([4, '4', 'species', 1.5, '', undefined].map(labelColumnName)).toEqual(['4', '4', 'species', undefined, undefined, undefined]);
  });

  it('accepts a fraction of 0 or a sum of 1 for a split that comes from a file', () => {
    expect(() =>
      resolveOptions(filesDataset, {
        data: 'x.npy',
        labels: 'y.npy',
        testData: 't.npy',
        testLabels: 'ty.npy',
        testFraction: 0,
        validationFraction: 0.9,
      }),
    ).not.toThrow();
  });

  it('refuses bad combinations with E_INVALID_OPTIONS even when validation was skipped', async () => {
    const options = { ...FilesOptionsSchema.parse({ data: 'x.npy', labels: 'y.npy' }), labels: undefined };
    const error = await failure(loadFilesDataset({ seed: 0, rng: createRng(0) }, options));
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(/x\.npy needs labels/);
  });
});
