import { mkdir } from 'node:fs/promises';
import { ErrorCode, resolveOptions } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failure, load, tempDir, writeNpy, writeText } from './test-support/dataset-files.js';
import { filesDataset } from './files-dataset.js';
import type { FilesOptionsInput } from './files-options.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

/** Six rows of two balanced classes: enough for the default splits. */
const GOOD_CSV = 'a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,12\n';
const GOOD_LABELS = 'x\ny\nx\ny\nx\ny\n';

async function refused(options: () => Promise<FilesOptionsInput>, code: string, ...patterns: RegExp[]): Promise<string> {
  const error = await failure(options().then((o) => load(o)));
  expect(error.code, error.message).toBe(code);
  for (const pattern of patterns) expect(error.message).toMatch(pattern);
  return error.message;
}

const csv = (name: string, text: string) => writeText(tmp.path(name), text);

describe('refused data: E_INVALID_INPUT naming the file and the line', () => {
  it('labels and features of different lengths, either way', async () => {
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV), labels: await csv('y.txt', `${GOOD_LABELS}x\n`) }),
      ErrorCode.InvalidInput,
      /y\.txt has 7 labels but .*x\.csv has 6 rows: .*y\.txt line 7 has no feature row/,
      /\(if .*y\.txt line 1 \("x"\) is a header, remove it\)$/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV), labels: await csv('y.txt', 'x\ny\nx\ny\n') }),
      ErrorCode.InvalidInput,
      /x\.csv has 6 rows but .*y\.txt has only 4 labels: .*x\.csv line 6 has no label; give exactly one label per row/,
    );
    await refused(
      async () => ({
        data: await writeNpy(tmp.path('x.npy'), '<f4', [3, 1], [1, 2, 3]),
        labels: await writeNpy(tmp.path('y.npy'), '<i8', [2], [0, 1]),
      }),
      ErrorCode.InvalidInput,
      /x\.npy has 3 rows but .*y\.npy has only 2 labels: .*x\.npy row 3 has no label/,
    );
  });

  it('a label not among classNames, and an integer label outside them', async () => {
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV), labels: await csv('y.txt', 'x\ny\nx\nz\nx\ny\n'), classNames: ['x', 'y'] }),
      ErrorCode.InvalidInput,
      /y\.txt line 4: label "z" is not among classNames \("x", "y"\); add it to classNames or fix the label/,
    );
    await refused(
      async () => ({
        data: await csv('x.csv', GOOD_CSV),
        labels: await csv('y.txt', '0\n1\n0\n1\n2\n1\n'),
        classNames: await csv('names.txt', 'x\ny\n'),
      }),
      ErrorCode.InvalidInput,
      /y\.txt line 5: label 2 is outside 0\.\.1; integer labels index into classNames \(.*names\.txt, 2 names\)/,
    );
  });

  it('a class with fewer rows than the splits need', async () => {
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV), labels: await csv('y.txt', 'x\ny\nx\ny\nx\nrare\n') }),
      ErrorCode.InvalidInput,
      /class "rare" has only 1 row in .*x\.csv \(first at .*y\.txt line 6\); each class needs at least 1 training row, 1 validation row, 1 test row \(3 rows\)/,
      /give the held-out splits as files/,
    );
    // With both held-out splits as files, one training row is enough; none is not.
    await refused(
      async () => ({
        data: await csv('x.csv', '1,2\n3,4\n'),
        labels: await csv('y.txt', '0\n0\n'),
        validationData: await csv('v.csv', '1,1\n2,2\n'),
        validationLabels: await csv('vy.txt', '0\n1\n'),
        testData: await csv('t.csv', '1,1\n'),
        testLabels: await csv('ty.txt', '1\n'),
      }),
      ErrorCode.InvalidInput,
      /label "1" at .*vy\.txt line 2 is not a class of the training labels \(.*y\.txt\); every class needs training rows/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV), labels: await csv('y.txt', 'x\nx\nx\nx\nx\nx\n') }),
      ErrorCode.InvalidInput,
      /y\.txt holds a single class \("x"\); a classifier needs at least 2 classes/,
    );
  });

  it.each([
    ['NaN', 'nan', 'marks a missing value; every feature needs a value (fill in or drop rows with missing values)'],
    ['NA', 'NA', 'marks a missing value; every feature needs a value (fill in or drop rows with missing values)'],
    ['N/A', 'N/A', 'marks a missing value; every feature needs a value (fill in or drop rows with missing values)'],
    ['null', 'null', 'marks a missing value; every feature needs a value (fill in or drop rows with missing values)'],
    ['Infinity', '-inf', 'is not a finite number; replace or drop rows with infinite values'],
    ['float32 overflow', '1e39', 'does not fit a float32 (largest magnitude about 3.4e38); rescale the column'],
  ])('a missing or non-finite CSV feature (%s), with line and column', async (_, value, what) => {
    const message = await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV.replace('7,8', `7,${value}`)), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.InvalidInput,
    );
    expect(message).toBe(`dataset:files: ${tmp.path('x.csv')} line 5, column 2 ("b"): "${value}" ${what}`);
  });

  it('a non-finite .npy feature, float32 or float64, with row and column', async () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const labels = () => writeNpy(tmp.path('y.npy'), '<i8', [6], [0, 1, 0, 1, 0, 1]);
    await refused(
      async () => ({
        data: await writeNpy(
          tmp.path('x.npy'),
          '<f4',
          [6, 2],
          values.map((v) => (v === 8 ? NaN : v)),
        ),
        labels: await labels(),
      }),
      ErrorCode.InvalidInput,
      /x\.npy row 4, column 2 \(array index \[3, 1\]\): NaN is not a finite number; remove or impute/,
    );
    await refused(
      async () => ({
        data: await writeNpy(
          tmp.path('x.npy'),
          '<f8',
          [6, 2],
          values.map((v) => (v === 5 ? 1e300 : v)),
        ),
        labels: await labels(),
      }),
      ErrorCode.InvalidInput,
      /x\.npy row 3, column 1 \(array index \[2, 0\]\): 1e\+300 does not fit a float32/,
    );
    await refused(
      async () => ({
        data: await writeNpy(tmp.path('x.npy'), '<f4', [6, 2], [1, 3, 5, 7, 9, 11, 2, 4, -Infinity, 8, 10, 12], true),
        labels: await labels(),
      }),
      ErrorCode.InvalidInput,
      /x\.npy row 3, column 2 \(array index \[2, 1\]\): -Infinity is not a finite number/,
    );
  });

  it('a non-finite JSON-lines feature', async () => {
    const labels = () => csv('y.txt', 'a\nb\na\nb\na\nb\n');
    const lines = ['[1, 2]', '[3, 4]', '[5, 6]', '[7, 8]', '[9, 10]', '[11, 12]'];
    await refused(
      async () => ({ data: await csv('x.jsonl', lines.map((l, i) => (i === 2 ? '[5, NaN]' : l)).join('\n')), labels: await labels() }),
      ErrorCode.InvalidInput,
      /x\.jsonl line 3, column 2: NaN marks a missing value; every feature needs a value \(fill in or drop rows with missing values\)$/,
    );
    await refused(
      async () => ({
        data: await csv('x.jsonl', lines.map((l, i) => (i === 4 ? '{"features": [1e999, 1]}' : l)).join('\n')),
        labels: await labels(),
      }),
      ErrorCode.InvalidInput,
      /x\.jsonl line 5, column 1: Infinity does not fit a float32/,
    );
  });

  it('a header-only CSV and empty files', async () => {
    await refused(
      async () => ({ data: await csv('x.csv', 'a,b,label\n'), labelColumn: 'label' }),
      ErrorCode.InvalidInput,
      /x\.csv has a header line but no data rows/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', ''), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.InvalidInput,
      /x\.csv is empty/,
    );
    await refused(
      async () => ({ data: await csv('x.jsonl', '\n\n'), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.InvalidInput,
      /x\.jsonl is empty/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV), labels: await csv('y.txt', '') }),
      ErrorCode.InvalidInput,
      /y\.txt is empty; write one label per line/,
    );
    await refused(
      async () => ({ data: await csv('x.npy', ''), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.InvalidInput,
      /x\.npy is empty/,
    );
    await refused(
      async () => ({ data: await writeNpy(tmp.path('x.npy'), '<f4', [0, 3], []), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.InvalidInput,
      /x\.npy holds no rows \(shape \(0, 3\)\)/,
    );
  });

  it('ragged rows', async () => {
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV.replace('5,6', '5,6,7')), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.InvalidInput,
      /x\.csv line 4 has 3 fields but the header has 2; every row needs the same columns/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', '1,2\n3\n'), labels: await csv('y.txt', 'a\nb\n') }),
      ErrorCode.InvalidInput,
      /x\.csv line 2 has 1 field but line 1 has 2/,
    );
    await refused(
      async () => ({ data: await csv('x.jsonl', '[1, 2]\n[3, 4, 5]\n'), labels: await csv('y.txt', 'a\nb\n') }),
      ErrorCode.InvalidInput,
      /x\.jsonl line 2 has 3 features but line 1 has 2/,
    );
  });

  it.each([
    ['0x1F', /"0x1F" is written in hexadecimal; write features as decimal numbers \(e\.g\. 31\)/],
    ['0b101', /"0b101" is written in binary; .*\(e\.g\. 5\)/],
    ['-0o17', /"-0o17" is written in octal; .*\(e\.g\. -15\)/],
    ['', /"" is empty; every feature needs a value \(fill in or drop rows with missing values\)$/],
    ['1,5', /has 3 fields but the header has 2/],
    ['1_000', /"1_000" is not a decimal number/],
    ['12abc', /"12abc" is not a decimal number/],
  ])('a CSV field %j', async (field, pattern) => {
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV.replace('9,10', `9,${field}`)), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.InvalidInput,
      /x\.csv line 6/,
      pattern,
    );
  });

  it('wrong .npy dtypes: fractional labels, integer features, other shapes', async () => {
    const data = () => writeNpy(tmp.path('x.npy'), '<f4', [6, 1], [1, 2, 3, 4, 5, 6]);
    await refused(
      async () => ({ data: await data(), labels: await writeNpy(tmp.path('y.npy'), '<f8', [6], [0, 1, 0, 1.5, 0, 1]) }),
      ErrorCode.InvalidInput,
      /y\.npy row 4 \(index 3\): 1\.5 is not a whole number; .*labels\.astype\(np\.int64\)/,
    );
    await refused(
      async () => ({ data: await writeNpy(tmp.path('x.npy'), '<i8', [6, 1], [1, 2, 3, 4, 5, 6]), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.InvalidInput,
      /x\.npy holds signed integers \('<i8'\); features must be float32 or float64, convert them with np\.save\(path, array\.astype\(np\.float32\)\)/,
    );
    await refused(
      async () => ({ data: await writeNpy(tmp.path('x.npy'), '<f4', [6], [1, 2, 3, 4, 5, 6]), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.InvalidInput,
      /x\.npy holds an array of shape \(6,\); .*reshape\(-1, 1\)/,
    );
    await refused(
      async () => ({ data: await data(), labels: await writeNpy(tmp.path('y.npy'), '<c8', [6], []) }),
      ErrorCode.InvalidInput,
      /y\.npy holds dtype '<c8'; labels must be integers/,
    );
    await refused(
      async () => ({ data: await data(), labels: await csv('y.npy', 'x\ny\n') }),
      ErrorCode.InvalidInput,
      /y\.npy is not a \.npy file/,
    );
  });

  it('labels saved as Python objects (strings from a list or pandas): how to save integers and strings', async () => {
    const ints = await writeNpy(tmp.path('i.npy'), '<i8', [6], [0, 1, 0, 1, 0, 1]);
    const { readFile, writeFile } = await import('node:fs/promises');
    // np.save of an object array writes the descr '|O' (and a pickle, which is never read).
    await writeFile(tmp.path('y.npy'), Buffer.from((await readFile(ints)).toString('latin1').replace("'<i8'", "'|O' "), 'latin1'));
    const message = await refused(async () => ({ data: await csv('x.csv', GOOD_CSV), labels: tmp.path('y.npy') }), ErrorCode.InvalidInput);
    expect(message.replace(/^dataset:files: .*\//, '')).toBe(
      "y.npy holds Python objects (dtype '|O', stored as a pickle); labels must be integers (e.g. '<i8') or strings ('<U'): save integer labels with np.save(path, labels.astype(np.int64)), string labels with np.save(path, labels.astype(str)) or as a text file with one label per line",
    );
  });

  it('a truncated .npy: expected and actual bytes', async () => {
    const whole = await writeNpy(tmp.path('full.npy'), '<f4', [6, 2], new Array(12).fill(1));
    const { readFile, writeFile } = await import('node:fs/promises');
    const bytes = await readFile(whole);
    expect(bytes.length).toBe(176);
    await writeFile(tmp.path('x.npy'), bytes.subarray(0, bytes.length - 4));
    const message = await refused(
      async () => ({ data: tmp.path('x.npy'), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.InvalidInput,
    );
    expect(message).toBe(
      `dataset:files: ${tmp.path('x.npy')} is truncated: its header declares a float32 array of shape (6, 2), which takes 176 bytes (128 header + 48 data), but the file has 172 bytes`,
    );
  });

  it('integer labels in a .npy longer than its header declares, named by their dtype', async () => {
    const { appendFile } = await import('node:fs/promises');
    const labels = await writeNpy(tmp.path('y.npy'), '<i8', [6], [0, 1, 0, 1, 0, 1]);
    await appendFile(labels, Buffer.alloc(8));
    const message = await refused(async () => ({ data: await csv('x.csv', GOOD_CSV), labels }), ErrorCode.InvalidInput);
    expect(message).toBe(
      `dataset:files: ${labels} is longer than its header declares: an int64 array of shape (6,), which takes 176 bytes (128 header + 48 data), but the file has 184 bytes (8 extra)`,
    );
  });

  it('a split file whose width differs from data', async () => {
    await refused(
      async () => ({
        data: await csv('x.csv', GOOD_CSV),
        labels: await csv('y.txt', GOOD_LABELS),
        testData: await csv('t.csv', '1,2,3\n'),
        testLabels: await csv('ty.txt', 'x\n'),
      }),
      ErrorCode.InvalidInput,
      /t\.csv has 3 features per row but .*x\.csv has 2; every split must have the same columns/,
    );
  });

  it('a split file with a column more, named in its header: the column is named', async () => {
    const message = await refused(
      async () => ({
        data: await csv('x.csv', 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n9,10,x\n11,12,y\n'),
        labelColumn: 'label',
        testData: await csv('t.csv', 'a,b,extra\n1,2,3\n'),
        testLabels: await csv('ty.txt', 'x\n'),
      }),
      ErrorCode.InvalidInput,
    );
    const [t, x] = [tmp.path('t.csv'), tmp.path('x.csv')];
    expect(message).toBe(
      `dataset:files: ${t} has 3 features per row but ${x} has 2 (${t} line 1 names other columns than ${x}: "extra" is not in ${x}); every split must have the same columns`,
    );
  });

  it('CSV structure: blank lines between rows, an unclosed quote, a missing label column, an unnamed header column', async () => {
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV.replace('5,6\n', '5,6\n\n')), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.InvalidInput,
      /x\.csv line 5 is empty; remove blank lines/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV), labels: await csv('y.txt', 'x\ny\n\nx\ny\nx\ny\n') }),
      ErrorCode.InvalidInput,
      /y\.txt line 3 is empty; every row needs a label/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', 'a,label\n1,"x\n'), labelColumn: 'label' }),
      ErrorCode.InvalidInput,
      /x\.csv line 2 has a quote that is not closed/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', 'a,b\n1,x\n'), labelColumn: 'label' }),
      ErrorCode.InvalidInput,
      /x\.csv line 1: the header has no column "label" \(it has "a", "b"\); set labelColumn/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', '1,x\n'), labelColumn: 'label' }),
      ErrorCode.InvalidInput,
      /x\.csv line 1 is not a header line, but labelColumn "label" needs one/,
    );
    // Names that are numbers (wavelengths) beside the label column: the line is a header, read as data.
    await refused(
      async () => ({ data: await csv('x.csv', '400,410,class\n0.5,0.25,a\n'), labelColumn: 'class' }),
      ErrorCode.InvalidInput,
      /^dataset:files: \S*x\.csv line 1 looks like a header, but its names must not be numbers other than the column positions 0, 1, 2, \.\.\. \("400", "410"\): those cannot be told from data, so it was read as a row of data; prefix those names with a letter \(e\.g\. "w400", "w410", \.\.\.\)$/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', ',a,b\n0,1,2\n'), labels: await csv('y.txt', 'x\n') }),
      ErrorCode.InvalidInput,
      /x\.csv line 1 looks like a header but column 1 has no name; .*index=False/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', 'a,label\n1,\n'), labelColumn: 'label' }),
      ErrorCode.InvalidInput,
      /x\.csv line 2, column 2 \("label"\): the label is empty/,
    );
  });
});

describe('unreadable files: E_IO', () => {
  it('a directory as a features file, whatever its name, naming the path and what to give (not an unknown type)', async () => {
    await mkdir(tmp.path('folder'));
    const labels = await csv('y.txt', GOOD_LABELS);
    const message = await refused(async () => ({ data: tmp.path('folder'), labels }), ErrorCode.Io);
    expect(message).toBe(
      `dataset:files: cannot read ${tmp.path('folder')}: it is a directory, not a regular file; give the path of a .npy, .csv, .jsonl or text file`,
    );
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV), labels, testData: tmp.dir, testLabels: labels }),
      ErrorCode.Io,
      /^dataset:files: cannot read .*: it is a directory, not a regular file; give the path of a \.npy, \.csv, \.jsonl or text file$/,
    );
    // With a label column named, too: the path is what is wrong, not the option.
    await refused(
      async () => ({ data: tmp.path('folder'), labelColumn: 'label' }),
      ErrorCode.Io,
      /^dataset:files: cannot read .*folder: it is a directory, not a regular file/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV), labels: tmp.path('folder') }),
      ErrorCode.Io,
      /^dataset:files: cannot read .*folder: it is a directory, not a regular file; give the path of a \.npy, \.csv, \.jsonl or text file$/,
    );
    // The inspection a grid runs before its first run says the same.
    const options = resolveOptions(filesDataset, { data: tmp.path('folder'), labels });
    await expect(filesDataset.inspect!(options)).rejects.toMatchObject({
      code: ErrorCode.Io,
      message: expect.stringContaining(`cannot read ${tmp.path('folder')}: it is a directory`),
    });
    // A missing file of an unknown type is still refused for its type, as the options alone say.
    await refused(async () => ({ data: tmp.path('x.parquet'), labels }), ErrorCode.InvalidOptions, /unknown features type "\.parquet"/);
  });

  it('a missing file and a directory, before any reading', async () => {
    await refused(
      async () => ({ data: tmp.path('missing.csv'), labels: tmp.path('y.txt') }),
      ErrorCode.Io,
      /cannot read .*missing\.csv: no such file or directory; check the path/,
    );
    await mkdir(tmp.path('dir.npy'));
    await refused(
      async () => ({ data: tmp.path('dir.npy'), labels: await csv('y.txt', GOOD_LABELS) }),
      ErrorCode.Io,
      /cannot read .*dir\.npy: it is a directory/,
    );
    await refused(
      async () => ({ data: await csv('x.csv', GOOD_CSV), labels: await csv('y.txt', GOOD_LABELS), classNames: tmp.path('names.txt') }),
      ErrorCode.Io,
      /names\.txt: no such file/,
    );
  });
});
