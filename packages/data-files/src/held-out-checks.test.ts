import { copyFile } from 'node:fs/promises';
import { ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusteredRows, failure, load, tempDir, warnings, writeText } from './test-support/dataset-files.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

/** A CSV of `classes` x `perClass` rows of 2 features, and a labels file naming each row's class by `names`. */
async function labelledFiles(name: string, names: readonly string[], perClass: number): Promise<{ data: string; labels: string }> {
  const { rows, labels } = clusteredRows(names.length, perClass, 2);
  return {
    data: await writeText(tmp.path(`${name}.csv`), ['a,b', ...rows.map((row) => row.join(','))].join('\n')),
    labels: await writeText(tmp.path(`${name}.txt`), labels.map((label) => names[label]).join('\n')),
  };
}

describe('a held-out label that is a training class in another Unicode normalisation', () => {
  const composed = 'caf\u00e9';
  const decomposed = 'cafe\u0301';

  it('is refused, showing both spellings escaped and saying to normalise the files to NFC', async () => {
    const train = await labelledFiles('train', [composed, 'tea'], 10);
    const validation = await labelledFiles('validation', ['tea', decomposed], 2);
    const error = await failure(load({ ...train, validationData: validation.data, validationLabels: validation.labels }));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toBe(
      `dataset:files: label "${decomposed}" at ${validation.labels} line 2 is not a class of the training labels (${train.labels}); every class needs training rows, so fix the label or add rows of its class to the training data; it is the class "caf\\u00e9" in another Unicode normalisation (here "cafe\\u0301"): the two look the same but are different texts, so normalise the labels to one form (NFC) in every file, e.g. with uconv -x any-nfc or Python's unicodedata.normalize('NFC', label)`,
    );
  });

  it('says nothing of normalisation when the label is another class that merely looks alike', async () => {
    const train = await labelledFiles('train', [composed, 'tea'], 10);
    const test = await labelledFiles('test', ['tea', 'Caf\u00e9'], 2);
    const error = await failure(load({ ...train, testData: test.data, testLabels: test.labels }));
    expect(error.message).toMatch(/add rows of its class to the training data$/);
  });
});

describe('validation and test files of the same rows', () => {
  it('warns once when the test file is the validation file, and when it is a copy of it', async () => {
    const train = await labelledFiles('train', ['0', '1', '2'], 10);
    const held = await labelledFiles('held', ['0', '1', '2'], 2);
    const options = { ...train, validationData: held.data, validationLabels: held.labels };
    expect(await warnings({ ...options, testData: held.data, testLabels: held.labels })).toEqual([
      `warning: testData ${held.data} is the same file as validationData ${held.data}: the validation and test splits are the same rows, so the test scores are of the rows that chose the model (its best epoch, a grid's best run) and are not held out from that choice; give test rows kept out of both training and validation, or leave out testData/testLabels (--test-data/--test-labels) to hold out testFraction of data instead`,
    ]);
    const copy = tmp.path('copy.csv');
    await copyFile(held.data, copy);
    const said = await warnings({ ...options, testData: copy, testLabels: held.labels });
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(
      new RegExp(`^warning: testData ${copy} holds the same bytes \\(sha256 [0-9a-f]{12}\\.\\.\\.\\) as validationData ${held.data}: `),
    );
  });

  it('says nothing of validation and test files with other rows', async () => {
    const train = await labelledFiles('train', ['0', '1', '2'], 10);
    const validation = await labelledFiles('validation', ['0', '1', '2'], 2);
    const test = await labelledFiles('test', ['0', '1', '2'], 3);
    const options = { ...train, validationData: validation.data, validationLabels: validation.labels };
    expect(await warnings({ ...options, testData: test.data, testLabels: test.labels })).toEqual([]);
  });

  it('leaves validation and test files that are both the data file to the one warning of that', async () => {
    const train = await labelledFiles('train', ['0', '1', '2'], 10);
    const said = await warnings({
      ...train,
      validationData: train.data,
      validationLabels: train.labels,
      testData: train.data,
      testLabels: train.labels,
    });
    expect(said).toEqual([expect.stringMatching(/^warning: validationData .* and testData .* are the same file as data /)]);
  });
});
