import { copyFile } from 'node:fs/promises';
import { ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseFeatureText } from './feature-text.js';
import { clusteredRows, failure, load, tempDir, warnings, writeNpy, writeText } from './test-support/dataset-files.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

/** `classes` x `perClass` rows of 2 features (class c near c), with a labels file of the class numbers. */
async function numberedFiles(classes: number, perClass: number): Promise<{ data: string; labels: string }> {
  const { rows, labels } = clusteredRows(classes, perClass, 2);
  return {
    data: await writeText(tmp.path('x.csv'), ['a,b', ...rows.map((row) => row.join(','))].join('\n')),
    labels: await writeText(tmp.path('y.txt'), labels.join('\n')),
  };
}

describe('held-out shares far from the fractions asked', () => {
  it('says once, with the shares, the cause and the fix, when 100 classes of 3 rows split 100/100/100', async () => {
    const files = await numberedFiles(100, 3);
    const dataset = await load(files);
    expect([dataset.train.labels.length, dataset.validation.labels.length, dataset.test.labels.length]).toEqual([100, 100, 100]);
    expect(await warnings(files)).toEqual([
      `warning: the rows of ${files.data} are split far from the fractions asked: validation 33.3% (validationFraction 0.1 asks 10%), test 33.3% (testFraction 0.2 asks 20%), leaving 33.3% for training. Each class is split by whole rows, at least 1 in every split, so classes with few rows (the smallest has 3 rows) cannot be split in those shares; give the held-out splits as files, validationData/validationLabels (--validation-data/--validation-labels), testData/testLabels (--test-data/--test-labels), or more rows per class`,
    ]);
  });

  it('warns past both 5 points and a factor of 1.5, and names only the splits that come from fractions', async () => {
    // 6 rows per class: 1 of 6 (16.7%) for validation is 6.7 points and 1.67 times off 10%.
    const six = await numberedFiles(10, 6);
    const test = await writeText(tmp.path('test.csv'), 'a,b\n0,0\n1,1\n');
    const testLabels = await writeText(tmp.path('test.txt'), '0\n1\n');
    expect(await warnings({ ...six, testData: test, testLabels })).toEqual([
      expect.stringContaining(': validation 16.7% (validationFraction 0.1 asks 10%), leaving 83.3% for training.'),
    ]);
    expect((await warnings({ ...six, testData: test, testLabels }))[0]).toContain(
      'give the held-out splits as files, validationData/validationLabels (--validation-data/--validation-labels), or more rows per class',
    );
    // 8 rows per class: 12.5% and 25% are within 5 points of 10% and 20%.
    expect(await warnings(await numberedFiles(10, 8))).toEqual([]);
    // 3 rows per class with 45% asked of each: 33.3% is 11.7 points but only 1.35 times off.
    expect(await warnings({ ...(await numberedFiles(10, 3)), validationFraction: 0.45, testFraction: 0.45 })).toEqual([]);
  });
});

describe('a CSV header that names two columns alike', () => {
  it('is refused in a training file, naming the name and both columns', async () => {
    const data = await writeText(tmp.path('x.csv'), 'x,y,x\n1,2,3\n4,5,6\n');
    const labels = await writeText(tmp.path('y.txt'), 'a\nb\n');
    expect(await failure(load({ data, labels }))).toMatchObject({
      code: ErrorCode.InvalidInput,
      message: `dataset:files: ${data} line 1: columns 1 and 3 are both named "x"; a model takes its features by name, so every column needs a name of its own: rename one`,
    });
  });

  it('counts the label column in the positions, and checks held-out files too', async () => {
    const rows = clusteredRows(2, 5, 2);
    const lines = rows.rows.map((row, i) => `${row[0]},k${rows.labels[i]},${row[1]}`);
    const named = await writeText(tmp.path('x.csv'), ['w,kind,w', ...lines].join('\n'));
    expect((await failure(load({ data: named, labelColumn: 'kind' }))).message).toContain('line 1: columns 1 and 3 are both named "w"');
    const data = await writeText(tmp.path('ok.csv'), ['w,kind,v', ...lines].join('\n'));
    expect((await failure(load({ data, labelColumn: 'kind', testData: named }))).message).toContain(
      `${named} line 1: columns 1 and 3 are both named "w"`,
    );
  });

  it('leaves rows to classify to the comparison with the model', async () => {
    // predict matches names against the model, which says what differs; only training makes feature names.
    await expect(parseFeatureText('x,x\n1,2\n', 'in.csv', 'csv')).resolves.toMatchObject({ columnNames: ['x', 'x'] });
  });
});

describe('class names that differ only in Unicode normalisation', () => {
  const composed = 'caf\u00e9';
  const decomposed = 'cafe\u0301';

  it('stay two classes, and a warning shows them escaped, with where each is first', async () => {
    const { rows, labels } = clusteredRows(3, 10, 2);
    const data = await writeNpy(tmp.path('x.npy'), '<f4', [30, 2], rows.flat());
    const names = [composed, decomposed, 'tea'];
    const y = await writeText(tmp.path('y.txt'), labels.map((label) => names[label]).join('\n'));
    const said: string[] = [];
    const dataset = await load({ data, labels: y }, 1, { log: (message) => said.push(message) });
    expect(dataset.classNames).toEqual([decomposed, composed, 'tea']);
    expect(said).toEqual([
      `warning: class names "cafe\\u0301" (${y} line 2) and "caf\\u00e9" (${y} line 1) differ only in Unicode normalisation: they look the same but are different texts, so each is a class of its own. If they are meant as one class, normalise the labels to one form (NFC) where they are written, e.g. with uconv -x any-nfc or Python's unicodedata.normalize('NFC', label)`,
    ]);
  });

  it('names at most 3 pairs, and counts the rest', async () => {
    const bases = ['a', 'e', 'i', 'o', 'u'];
    const names = bases.flatMap((base) => [`${base}\u0301`, `${base}\u0301`.normalize('NFC')]);
    const { rows, labels } = clusteredRows(names.length, 3, 2);
    const data = await writeNpy(tmp.path('x.npy'), '<f4', [rows.length, 2], rows.flat());
    const y = await writeNpy(
      tmp.path('y.npy'),
      '<U2',
      [labels.length],
      labels.map((label) => names[label]!),
    );
    // 3 rows per class also drift from the fractions: only the one Unicode warning is looked at.
    const said = await warnings({ data, labels: y });
    const look = said.filter((message) => message.includes('Unicode'));
    expect(look).toHaveLength(1);
    expect(look[0]).toMatch(
      /^warning: class names "a\\u0301" \([^)]+\) and "\\u00e1" \([^)]+\); "e\\u0301" .*; "i\\u0301" .*, and 2 more such pairs differ/,
    );
  });

  it('says nothing of names that are merely alike', async () => {
    const { rows, labels } = clusteredRows(2, 10, 2);
    const data = await writeNpy(tmp.path('x.npy'), '<f4', [20, 2], rows.flat());
    const y = await writeText(tmp.path('y.txt'), labels.map((label) => [composed, 'Caf\u00e9'][label]).join('\n'));
    expect(await warnings({ data, labels: y })).toEqual([]);
  });
});

describe('a feature column that holds the labels of a labels file', () => {
  /**
   * Rows of 3 classes with labels `labelTexts` in a labels file, and a column "target" of each row's label as a
   * number (its class index when the label is a word), but 99 in row `spoil`.
   */
  async function leakyFiles(labelTexts: readonly string[], spoil?: number) {
    const { rows, labels } = clusteredRows(3, 10, 2);
    const asNumber = (label: number) => (Number.isNaN(Number(labelTexts[label])) ? label : labelTexts[label]);
    const target = (i: number) => (i === spoil ? 99 : asNumber(labels[i]!));
    const data = await writeText(tmp.path('x.csv'), ['a,target,b', ...rows.map((row, i) => `${row[0]},${target(i)},${row[1]}`)].join('\n'));
    const y = await writeText(tmp.path('y.txt'), labels.map((label) => labelTexts[label]).join('\n'));
    return { data, labels: y };
  }

  it('warns once, naming the column by name and position and how to read the labels from it', async () => {
    const files = await leakyFiles(['0', '1', '2']);
    expect(await warnings(files)).toEqual([
      `warning: ${files.data} column 2 ("target") holds the label of ${files.labels} on every row: the labels are likely among the features, and a model that reads them there has nothing to read on new rows; drop the column, or read the labels from it with labelColumn=target (--dataset-option labelColumn=target) instead of ${files.labels}`,
    ]);
  });

  it('compares the labels as numbers, also when they are not class indices', async () => {
    expect(await warnings(await leakyFiles(['1.0', '2', '3.5']))).toHaveLength(1);
  });

  it('says nothing when one row differs, when the labels are words, or when the labels come from the file', async () => {
    expect(await warnings(await leakyFiles(['0', '1', '2'], 17))).toEqual([]);
    expect(await warnings(await leakyFiles(['zero', 'one', 'two']))).toEqual([]);
    const { data } = await leakyFiles(['0', '1', '2']);
    expect(await warnings({ data, labelColumn: 'target' })).toEqual([]);
  });

  it('names a .npy column by position and only says to drop it', async () => {
    const { rows, labels } = clusteredRows(3, 10, 2);
    const data = await writeNpy(
      tmp.path('x.npy'),
      '<f4',
      [30, 3],
      rows.flatMap((row, i) => [...row, labels[i]!]),
    );
    const y = await writeNpy(tmp.path('y.npy'), '<i8', [30], labels);
    expect(await warnings({ data, labels: y })).toEqual([
      `warning: ${data} column 3 holds the label of ${y} on every row: the labels are likely among the features, and a model that reads them there has nothing to read on new rows; drop the column`,
    ]);
  });
});

describe('a held-out file that is the training file', () => {
  it('warns when the test file is the data file, and when the validation file is a copy of it', async () => {
    const files = await numberedFiles(3, 10);
    expect(await warnings({ ...files, testData: files.data, testLabels: files.labels })).toEqual([
      `warning: testData ${files.data} is the same file as data ${files.data}: the test scores are then of rows the model trained on, which say nothing of new data; give rows kept out of training, or leave out testData/testLabels (--test-data/--test-labels) to hold out testFraction of data instead`,
    ]);
    const copy = tmp.path('copy.csv');
    await copyFile(files.data, copy);
    const said = await warnings({
      ...files,
      validationData: copy,
      validationLabels: files.labels,
      testData: files.data,
      testLabels: files.labels,
    });
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(
      new RegExp(
        `^warning: validationData ${copy} and testData ${files.data} hold the same bytes \\(sha256 [0-9a-f]{12}\\.\\.\\.\\) as data ${files.data}: the validation and test scores`,
      ),
    );
  });

  it('says nothing of held-out files with other rows', async () => {
    const files = await numberedFiles(3, 10);
    const test = await writeText(tmp.path('test.csv'), 'a,b\n0,0.5\n1,1.5\n2,2.5\n');
    const testLabels = await writeText(tmp.path('test.txt'), '0\n1\n2\n');
    expect(await warnings({ ...files, testData: test, testLabels })).toEqual([]);
  });
});
