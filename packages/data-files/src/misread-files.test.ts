// Files that are readable but easy to misread: other column names in a split file, pandas' headers and indices,
// other separators and decimal marks, missing values, old Mac line ends. Each is refused with a message that says
// what the file looks like and how to write it, or read as documented.
import { ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseFeatureText } from './feature-text.js';
import type { FilesOptionsInput } from './files-options.js';
import { failure, load, splitRows, tempDir, writeNpy, writeText } from './test-support/dataset-files.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

const file = (name: string, text: string) => writeText(tmp.path(name), text);
const LABELS = 'x\ny\nx\ny\nx\ny\n';
/** Six rows under a header. */
const rows = (header: string) => `${header}\n1,2,3\n4,5,6\n7,8,9\n10,11,12\n13,14,15\n16,17,18\n`;

/** The message of the E_INVALID_INPUT that loading `options` ends in, without the plugin's prefix. */
async function refusal(options: FilesOptionsInput): Promise<string> {
  const error = await failure(load(options));
  expect(error.code, error.message).toBe(ErrorCode.InvalidInput);
  return error.message.replace(/^dataset:files: /, '').replaceAll(`${tmp.dir}/`, '');
}

describe('split files must name the columns of --data', () => {
  it('refuses the same names in another order, naming the first column that differs', async () => {
    const message = await refusal({
      data: await file('x.csv', rows('a,b,c')),
      labels: await file('y.txt', LABELS),
      validationData: await file('v.csv', 'a,c,b\n1,3,2\n4,6,5\n'),
      validationLabels: await file('vy.txt', 'x\ny\n'),
    });
    expect(message).toBe(
      'v.csv line 1 names the columns of x.csv in another order: feature column 2 is "c" in v.csv but "b" in x.csv; write the columns in the order of x.csv (in pandas: df[columns_of_data].to_csv(path, index=False))',
    );
  });

  it('refuses other names, listing them', async () => {
    const message = await refusal({
      data: await file('x.csv', rows('a,b,c')),
      labels: await file('y.txt', LABELS),
      testData: await file('t.csv', 'a,p,q\n1,2,3\n4,5,6\n'),
      testLabels: await file('ty.txt', 'x\ny\n'),
    });
    expect(message).toBe(
      't.csv line 1 names other columns than x.csv: "p", "q" are not in x.csv, and "b", "c" are missing; every split must have the columns of x.csv, in the same order',
    );
  });

  it('places a label column anywhere, and matches a file without a header (or of column positions) by position', async () => {
    const dataset = await load({
      data: await file('x.csv', 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n9,10,x\n11,12,y\n'),
      labelColumn: 'label',
      validationData: await file('v.csv', 'label,a,b\ny,30,40\nx,10,20\n'),
      testData: await file('t.csv', '0,1,label\n50,60,x\n70,80,y\n'),
    });
    expect(splitRows(dataset, 'validation')).toEqual([
      { row: [30, 40], label: 1 },
      { row: [10, 20], label: 0 },
    ]);
    expect(splitRows(dataset, 'test')).toEqual([
      { row: [50, 60], label: 0 },
      { row: [70, 80], label: 1 },
    ]);
    const headerless = await load({
      data: await file('x.csv', rows('a,b,c')),
      labels: await file('y.txt', LABELS),
      validationData: await file('v.csv', '1,3,2\n4,6,5\n'),
      validationLabels: await file('vy.txt', 'x\ny\n'),
    });
    expect(splitRows(headerless, 'validation')).toEqual([
      { row: [1, 3, 2], label: 0 },
      { row: [4, 6, 5], label: 1 },
    ]);
  });
});

describe("a first line of column positions (pandas' header for an array)", () => {
  it('takes labelColumn 4, a number as --dataset-option labelColumn=4 gives it, as the column named "4"', async () => {
    const data = await file('x.csv', '0,1,2,3,4\n1,2,3,4,x\n5,6,7,8,y\n1,2,3,5,x\n5,6,7,9,y\n1,2,3,6,x\n5,6,7,0,y\n');
    const byNumber = await load({ data, labelColumn: 4 });
    const byName = await load({ data, labelColumn: '4' });
    expect(byNumber.classNames).toEqual(['x', 'y']);
    expect(byNumber.inputWidth).toBe(4);
    expect(splitRows(byNumber, 'train')).toEqual(splitRows(byName, 'train'));
    // A number names a column, not a position: a header without that name is refused as for any name.
    expect(await refusal({ data: await file('y.csv', rows('a,b,c')), labelColumn: 2 })).toMatch(/^y\.csv.* "2"/);
  });

  it('says which line was read as a header when the labels are then one more than the rows', async () => {
    const message = await refusal({ data: await file('x.csv', '0\n1.5\n2\n3\n4\n5\n'), labels: await file('y.txt', LABELS) });
    expect(message).toBe(
      'y.txt has 6 labels but x.csv has 5 rows: y.txt line 6 has no feature row; give exactly one label per row, in the same order (x.csv line 1 ("0") was read as a header of column positions, as pandas writes them: if it is a row of data, add a header line naming the columns above it; if y.txt line 1 ("x") is a header, remove it)',
    );
    const pair = await refusal({ data: await file('x.csv', '0,1\n2,3\n4,5\n'), labels: await file('y.txt', 'x\ny\nx\n') });
    expect(pair).toMatch(/\(x\.csv line 1 \("0,1"\) was read as a header of column positions/);
  });

  it('names a header of labels as the likely cause otherwise', async () => {
    const message = await refusal({ data: await file('x.csv', rows('a,b,c')), labels: await file('y.txt', `species\n${LABELS}`) });
    expect(message).toBe(
      'y.txt has 7 labels but x.csv has 6 rows: y.txt line 7 has no feature row; give exactly one label per row, in the same order (if y.txt line 1 ("species") is a header, remove it)',
    );
  });

  it('says that a first line of numbers was read as data when the rows are one more than the labels', async () => {
    const message = await refusal({ data: await file('x.csv', '2019,2020\n1,2\n3,4\n'), labels: await file('y.txt', 'x\ny\n') });
    expect(message).toBe(
      'x.csv has 3 rows but y.txt has only 2 labels: x.csv line 3 has no label; give exactly one label per row, in the same order (if x.csv line 1 is a header, its names must not be numbers other than the column positions 0, 1, 2, ...: it was read as a row of data)',
    );
  });

  it('calls a first line of mostly names with a number among them a header with a numeric column name', async () => {
    const message = await refusal({ data: await file('x.csv', rows('age,income,2020')), labels: await file('y.txt', LABELS) });
    expect(message).toBe(
      'x.csv line 1 looks like a header ("age", "income") but names a column with a number ("2020"); a header names every column with text: rename it (e.g. "x2020") or remove the header line',
    );
    // A row of numbers with one word in it is data with a bad field, as before.
    const row = await refusal({ data: await file('w.csv', '1,2,oops\n4,5,6\n'), labels: await file('y2.txt', 'x\ny\n') });
    expect(row).toMatch(/^w\.csv line 1, column 3: "oops" is not a decimal number/);
  });

  it('is in the dataset info: header is names, column positions or none for a CSV data file', async () => {
    const labels = await file('y.txt', LABELS);
    const header = async (data: string, given = labels) => (await load({ data, labels: given })).info.header;
    expect(await header(await file('names.csv', rows('a,b,c')))).toBe('names');
    expect(await header(await file('positions.csv', rows('0,1,2')))).toBe('column positions');
    expect(await header(await file('none.csv', rows('0.5,1,2')), await file('y7.txt', `${LABELS}y\n`))).toBe('none');
    const npy = await writeNpy(tmp.path('x.npy'), '<f4', [6, 1], [1, 2, 3, 4, 5, 6]);
    expect(await header(npy)).toBeUndefined();
    // predict reads the same header.
    expect((await parseFeatureText('0,1\n2,3\n', 'x.csv', 'csv')).header).toBe('column positions');
  });
});

describe('other separators and decimal marks', () => {
  it.each([
    [
      'tab-separated',
      '1.5\t2\n3\t4\n',
      "x.csv line 1 looks tab-separated (it has tabs and no commas); hyperproto reads comma-separated values only: convert the file, e.g. tr '\\t' ',' < x.csv > converted.csv, or write it with pandas' to_csv(path, index=False), which separates with commas",
    ],
    [
      'tab-separated with a header',
      'a\tb\n3\t4\n',
      "x.csv line 1 looks tab-separated (it has tabs and no commas); hyperproto reads comma-separated values only: convert the file, e.g. tr '\\t' ',' < x.csv > converted.csv, or write it with pandas' to_csv(path, index=False), which separates with commas",
    ],
    [
      'semicolon-separated',
      '1.5;2\n3;4\n',
      "x.csv line 1 looks semicolon-separated (it has semicolons and no commas); hyperproto reads comma-separated values only: convert the file, e.g. tr ';' ',' < x.csv > converted.csv, or write it with pandas' to_csv(path, index=False), which separates with commas",
    ],
    [
      'semicolon-separated with decimal commas',
      '-1,5;2;3,25\n',
      "x.csv line 1 looks semicolon-separated with decimal commas (\"-1,5\"); hyperproto reads comma-separated values with decimal points: convert the file, e.g. tr ',;' '.,' < x.csv > converted.csv, or pandas' read_csv(path, sep=';', decimal=',') and then to_csv(out, index=False)",
    ],
    [
      'tab-separated with decimal commas',
      '1,5\t2,0\n',
      "x.csv line 1 looks tab-separated with decimal commas (\"1,5\"); hyperproto reads comma-separated values with decimal points: convert the file, e.g. tr ',\\t' '.,' < x.csv > converted.csv, or pandas' read_csv(path, sep='\\t', decimal=',') and then to_csv(out, index=False)",
    ],
    ['a quoted decimal comma', 'a,b\n"1,5",2\n', 'x.csv line 2, column 1 ("a"): "1,5" has a decimal comma; write decimal points (1.5)'],
    [
      'a tab inside a field of a later line',
      'a,b\n1,2\n3\t4,5\n',
      'x.csv line 3, column 1 ("a"): "3\\t4" is not a decimal number; features must be plain decimal numbers such as -1.5 or 2e-3 (it holds a tab: hyperproto separates fields with commas only)',
    ],
  ])('%s: says so before reading line 1 as a header or a row (train and predict alike)', async (_, text, expected) => {
    const path = await file('x.csv', text);
    expect(await refusal({ data: path, labels: await file('y.txt', 'x\ny\n') })).toBe(expected);
    const predicted = await failure(parseFeatureText(text, path, 'csv'));
    expect(predicted.message.replaceAll(`${tmp.dir}/`, '')).toBe(expected);
  });
});

describe('labels written by pandas with their row index', () => {
  it('refuses a header with an unnamed index column, and numbered labels, saying how to save them', async () => {
    const fix =
      'pandas writes its row index as a first column (y.to_csv(path)): save the labels with y.to_csv(path, index=False, header=False), or keep them in the features CSV and name their column with labelColumn';
    const data = await file('x.csv', rows('a,b,c'));
    expect(await refusal({ data, labels: await file('y.csv', ',species\n0,x\n1,y\n2,x\n3,y\n4,x\n5,y\n') })).toBe(
      `y.csv line 1 (",species") looks like a header with an unnamed index column; ${fix}`,
    );
    expect(await refusal({ data, labels: await file('y.csv', '0,x\n1,y\n2,x\n3,y\n4,x\n5,y\n') })).toBe(
      `y.csv lines 1 and 2 ("0,x", "1,y") start with a row number and a comma; ${fix}`,
    );
  });

  it('keeps labels that merely hold a comma', async () => {
    const dataset = await load({ data: await file('x.csv', rows('a,b,c')), labels: await file('y.txt', '1,2\n5,6\n1,2\n5,6\n1,2\n5,6\n') });
    expect(dataset.classNames).toEqual(['1,2', '5,6']);
  });
});

describe('a label of a split file that the training labels lack', () => {
  const data = () => file('x.csv', rows('a,b,c'));
  const split = async (labels: string) => ({
    validationData: await file('v.csv', '1,2,3\n4,5,6\n'),
    validationLabels: await file('vy.txt', labels),
  });

  it('is named with its file and line, not as a class too small to split', async () => {
    const message = await refusal({ data: await data(), labels: await file('y.txt', LABELS), ...(await split('x\n7\n')) });
    expect(message).toBe(
      'label "7" at vy.txt line 2 is not a class of the training labels (y.txt); every class needs training rows, so fix the label or add rows of its class to the training data',
    );
  });

  it('says when the files mix integer labels with names', async () => {
    const message = await refusal({ data: await data(), labels: await file('y.txt', LABELS), ...(await split('0\n1\n')) });
    expect(message).toBe(
      'label "0" at vy.txt line 1 is not a class of the training labels (y.txt); every class needs training rows, so fix the label or add rows of its class to the training data; y.txt holds names (e.g. "x", "y") but vy.txt holds integers (e.g. "0", "1"): write the labels of every file the same way',
    );
  });
});

describe('messages in the words of the command line', () => {
  it('names the flags that give the held-out splits as files', async () => {
    const message = await refusal({
      data: await file('x.csv', rows('a,b,c')),
      labels: await file('y.txt', 'x\ny\nx\ny\nx\nrare\n'),
      testData: await file('t.csv', '1,2,3\n'),
      testLabels: await file('ty.txt', 'x\n'),
    });
    expect(message).toBe(
      'class "rare" has only 1 row in x.csv (first at y.txt line 6); each class needs at least 1 training row, 1 validation row (2 rows), so add rows of this class, drop the class, or give the held-out splits as files: validationData/validationLabels (--validation-data/--validation-labels)',
    );
  });

  it('suggests labelColumn for a named column of words beside a labels file', async () => {
    const message = await refusal({
      data: await file('x.csv', 'a,petal kind\n1,setosa\n2,virginica\n'),
      labels: await file('y.txt', 'x\ny\n'),
    });
    expect(message).toBe(
      `x.csv line 2, column 2 ("petal kind"): "setosa" is not a decimal number; features must be plain decimal numbers such as -1.5 or 2e-3; if column "petal kind" holds the labels, read them from it with labelColumn=petal kind (--dataset-option 'labelColumn=petal kind') instead of y.txt, or drop the column`,
    );
  });

  it('counts in the singular for one', async () => {
    expect(await refusal({ data: await file('x.csv', rows('a,b,c')), labels: await file('y.txt', 'x\n') })).toMatch(
      /x\.csv has 6 rows but y\.txt has only 1 label: x\.csv line 3 has no label/,
    );
    expect(
      await refusal({
        data: await file('x.csv', rows('a,b,c')),
        labels: await file('y.txt', LABELS),
        testData: await file('t.csv', '1\n'),
        testLabels: await file('ty.txt', 'x\n'),
      }),
    ).toBe('t.csv has 1 feature per row but x.csv has 3; every split must have the same columns');
  });
});

describe('missing values and line ends', () => {
  it('reports JSON null as a missing value', async () => {
    const message = await refusal({ data: await file('x.jsonl', '[1, 2]\n[3, null]\n'), labels: await file('y.txt', 'x\ny\n') });
    expect(message).toBe(
      'x.jsonl line 2, column 2: null marks a missing value; every feature needs a value (fill in or drop rows with missing values)',
    );
  });

  it('refuses a file whose lines end in \\r alone (old Mac), features or labels', async () => {
    const cr = (name: string) =>
      `${name} line 1 holds carriage returns (\\r) without newlines: its lines end in \\r alone (old Mac line ends), so it would read as one line; convert them, e.g. tr '\\r' '\\n' < ${name} > converted${name.slice(name.indexOf('.'))}`;
    expect(await refusal({ data: await file('x.csv', '1,2\r3,4\r5,6\r'), labels: await file('y.txt', 'x\ny\nx\n') })).toBe(cr('x.csv'));
    expect(await refusal({ data: await file('x.csv', rows('a,b,c')), labels: await file('y.txt', LABELS.replaceAll('\n', '\r')) })).toBe(
      cr('y.txt'),
    );
    // \r\n line ends are fine.
    const crlf = await load({ data: await file('x.csv', rows('a,b,c').replaceAll('\n', '\r\n')), labels: await file('y.txt', LABELS) });
    expect(crlf.inputWidth).toBe(3);
  });
});
