import { readFile, writeFile } from 'node:fs/promises';
import { ErrorCode } from '@hyperproto/core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCsvHeader, readCsvFeatures } from './csv-features.js';
import { wholeFilePlacement } from './feature-table.js';
import { parseFeatureText } from './feature-text.js';
import { jsonlLineReader, readJsonlFeatures } from './jsonl-features.js';
import { failure, load, tempDir, writeText } from './test-support/dataset-files.js';
import { LineSplitter, MAX_LINE_CHARS } from './text-lines.js';
import { WorkPacer } from './work-pacer.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

const pacer = () => new WorkPacer(undefined, 'reading a test file');

interface Read {
  rows: number[][];
  columnNames?: readonly string[];
  labels?: readonly string[];
}

type Outcome = { read: Read } | { error: string };

/** How `train` reads a feature file: streamed through the files dataset's reader. */
async function trainRead(path: string, format: 'csv' | 'jsonl', labelColumn?: string): Promise<Outcome> {
  try {
    const read = format === 'csv' ? readCsvFeatures : readJsonlFeatures;
    const table = await read(path, { ...(labelColumn === undefined ? {} : { labelColumn }), hooks: { pacer: pacer() } });
    const data = new Float32Array(table.rows * table.cols);
    await table.copyInto(wholeFilePlacement(table.rows, data), pacer());
    const labels = table.labels && Array.from(table.labels.rowCodes(), (code) => table.labels!.distinct[code]!);
    return { read: shape(table.rows, table.cols, data, table.columnNames, labels) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** How `predict --input` reads it: the whole text at once. */
async function predictRead(path: string, format: 'csv' | 'jsonl', labelColumn?: string): Promise<Outcome> {
  try {
    const text = await readFile(path, 'utf8');
    const parsed = await parseFeatureText(text, path, format, labelColumn === undefined ? {} : { labelColumn });
    return { read: shape(parsed.rows, parsed.cols, parsed.data, parsed.columnNames, parsed.labels) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function shape(rows: number, cols: number, data: Float32Array, columnNames?: readonly string[], labels?: readonly string[]): Read {
  return {
    rows: Array.from({ length: rows }, (_, r) => [...data.subarray(r * cols, (r + 1) * cols)]),
    ...(columnNames ? { columnNames } : {}),
    ...(labels ? { labels } : {}),
  };
}

/** Writes `text` to `name` and reads it both ways; they must agree, and the outcome is returned to check its values. */
async function bothWays(name: string, text: string, labelColumn?: string): Promise<Outcome & { path: string }> {
  const path = await writeText(tmp.path(name), text);
  const format = name.endsWith('.csv') ? 'csv' : 'jsonl';
  const train = await trainRead(path, format, labelColumn);
  expect(await predictRead(path, format, labelColumn)).toEqual(train);
  return { ...train, path };
}

describe('isCsvHeader: names, or the column positions pandas writes as names', () => {
  it.each([
    ['a,b,label', true],
    ['0,1,2,3', true],
    [',0,1,2,3', true],
    ['0,1,2,3,label', true],
    ['label,0,1', true],
    ['0', true],
    ['0.5,1.25', false],
    ['1,2,3', false],
    ['0,1,0,1', false],
    ['0,2', false],
    ['0,1,nan', false],
    ['1.5,x', false],
  ])('%j: %s', (line, header) => {
    expect(isCsvHeader(line.split(','))).toBe(header);
  });
});

describe('train and predict read a CSV file the same way', () => {
  it("takes pandas' header of column positions (df.to_csv(index=False)) as a header", async () => {
    const read = await bothWays('x.csv', '0,1,2,3\n0.5,1.25,-2.0,3e-3\n1.0,2.0,3.0,4.0\n');
    expect(read).toMatchObject({
      read: {
        rows: [
          [0.5, 1.25, -2, Math.fround(3e-3)],
          [1, 2, 3, 4],
        ],
        columnNames: ['0', '1', '2', '3'],
      },
    });
  });

  it('finds the label column beside numbered feature columns', async () => {
    const read = await bothWays('x.csv', '0,1,label\n0.5,1.5,cat\n2.5,3.5,dog\n', 'label');
    expect(read).toMatchObject({
      read: {
        rows: [
          [0.5, 1.5],
          [2.5, 3.5],
        ],
        columnNames: ['0', '1'],
        labels: ['cat', 'dog'],
      },
    });
  });

  it("refuses pandas' row index column (df.to_csv() by default) and says how to leave it out", async () => {
    const read = await bothWays('x.csv', ',0,1,2\n0,0.5,1.5,2.5\n1,3.5,4.5,5.5\n');
    expect(read).toMatchObject({
      error: expect.stringMatching(
        /x\.csv line 1 looks like a header but column 1 has no name; pandas writes its row index so: save with df\.to_csv\(path, index=False\)$/,
      ),
    });
  });

  it('reads quoted numbers, CRLF line ends, a byte-order mark and trailing blank lines', async () => {
    const read = await bothWays('x.csv', '\ufeff"0","1"\r\n"1.5", "-2"\r\n"3",4.25\r\n\r\n  \r\n');
    expect(read).toMatchObject({
      read: {
        rows: [
          [1.5, -2],
          [3, 4.25],
        ],
        columnNames: ['0', '1'],
      },
    });
  });

  it('counts a last line without a newline, and keeps a first row that is not 0, 1, 2, ... as data', async () => {
    expect(await bothWays('x.csv', '0,1,0\n1,0,1')).toMatchObject({
      read: {
        rows: [
          [0, 1, 0],
          [1, 0, 1],
        ],
      },
    });
    expect(await bothWays('y.csv', '1,2,3\n4,5,6\n')).toMatchObject({
      read: {
        rows: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
    });
  });

  it('refuses a blank line between rows, naming it', async () => {
    const read = await bothWays('x.csv', '1,2\n\n3,4\n');
    expect(read).toMatchObject({ error: expect.stringMatching(/x\.csv line 2 is empty; remove blank lines between rows/) });
  });

  it('names a bad field by its 1-based line and column', async () => {
    const read = await bothWays('x.csv', '0,1,2\n1,2,3\n4,abc,6\n');
    expect(read).toMatchObject({
      error: expect.stringMatching(/x\.csv line 3, column 2 \("1"\): "abc" is not a decimal number/),
    });
    const nan = await bothWays('y.csv', '1,2,3\n4,5,NaN\n');
    expect(nan).toMatchObject({
      error: expect.stringMatching(
        /y\.csv line 2, column 3: "NaN" marks a missing value; every feature needs a value \(fill in or drop rows with missing values\)$/,
      ),
    });
  });

  it('lists at most ten header names when the label column is not among them', async () => {
    const names = Array.from({ length: 25 }, (_, k) => `f${k}`);
    const read = await bothWays('x.csv', `${names.join(',')}\n${names.map(() => '1').join(',')}\n`, 'label');
    expect(read).toMatchObject({
      error: expect.stringMatching(/the header has no column "label" \(it has "f0", "f1", .*"f9" and 15 more\); set labelColumn/),
    });
  });
});

describe('skipColumn: a column left out unread (the label column of rows to classify)', () => {
  const text = 'a,kind,b\n1.5,cat,2\n3,,4\n5,  ,6\n';

  it('leaves the column out, blank values and all, when reading streamed or from text', async () => {
    const path = await writeText(tmp.path('x.csv'), text);
    const table = await readCsvFeatures(path, { skipColumn: 'kind', hooks: { pacer: pacer() } });
    expect(table).toMatchObject({ rows: 3, cols: 2, columnNames: ['a', 'b'], skippedColumn: 'kind' });
    expect(table.labels).toBeUndefined();
    await table.release();
    const parsed = await parseFeatureText(text, 'x.csv', 'csv', { skipColumn: 'kind' });
    expect(parsed).toMatchObject({ rows: 3, cols: 2, columnNames: ['a', 'b'], header: 'names', skippedColumn: 'kind' });
    expect([...parsed.data]).toEqual([1.5, 2, 3, 4, 5, 6]);
    expect(parsed.labels).toBeUndefined();
  });

  it('reads every column when the header lacks it, and refuses it named twice', async () => {
    const parsed = await parseFeatureText('a,b\n1,2\n', 'x.csv', 'csv', { skipColumn: 'kind' });
    expect(parsed).toMatchObject({ rows: 1, cols: 2, columnNames: ['a', 'b'] });
    expect(parsed.skippedColumn).toBeUndefined();
    expect((await parseFeatureText('1,2\n3,4\n', 'x.csv', 'csv', { skipColumn: 'kind' })).cols).toBe(2);
    await expect(parseFeatureText('kind,a,kind\nx,1,y\n', 'x.csv', 'csv', { skipColumn: 'kind' })).rejects.toThrow(
      'x.csv line 1: the header names column "kind" twice; rename one',
    );
  });

  it('still needs the column in every row (a ragged row is refused)', async () => {
    await expect(parseFeatureText('a,kind,b\n1,x,2\n3,4\n', 'x.csv', 'csv', { skipColumn: 'kind' })).rejects.toThrow(
      'x.csv line 3 has 2 fields but the header has 3',
    );
  });

  it('is read as the label column without it: a blank label is refused', async () => {
    await expect(parseFeatureText(text, 'x.csv', 'csv', { labelColumn: 'kind' })).rejects.toThrow(
      'x.csv line 3, column 2 ("kind"): the label is empty; every row needs a label',
    );
  });

  it('leaves JSON lines as they are: only "features" is read', async () => {
    const parsed = await parseFeatureText('{"features": [1, 2], "kind": ""}\n{"features": [3, 4]}\n', 'x.jsonl', 'jsonl', {
      skipColumn: 'kind',
    });
    expect(parsed).toMatchObject({ rows: 2, cols: 2 });
    expect([...parsed.data]).toEqual([1, 2, 3, 4]);
  });
});

describe('train and predict read a JSON-lines file the same way', () => {
  it('reads arrays and feature objects, CRLF line ends and a trailing blank line', async () => {
    const read = await bothWays('x.jsonl', '[1.5, -2]\r\n{"features": [3, 4.25], "id": 7}\r\n\r\n');
    expect(read).toMatchObject({
      read: {
        rows: [
          [1.5, -2],
          [3, 4.25],
        ],
      },
    });
  });

  it('describes a deeply nested value by its type instead of writing it out', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(await bothWays('x.jsonl', `${deep}\n`)).toMatchObject({
      error: expect.stringMatching(/x\.jsonl line 1, column 1: an array of 1 item is not a number; features must be JSON numbers$/),
    });
    expect(
      await bothWays('y.jsonl', `{"features": [1, 2], "label": "cat"}\n{"features": [3, 4], "label": ${deep}}\n`, 'label'),
    ).toMatchObject({
      error: expect.stringMatching(/y\.jsonl line 2: label "label" is an array of 1 item; every line needs a label/),
    });
    expect(await bothWays('z.jsonl', `{"features": {"a": ${deep}}}\n`)).toMatchObject({
      error: expect.stringMatching(/z\.jsonl line 1 holds an object whose "features" is an object; expected a JSON array of numbers/),
    });
  });

  it('shortens a long string in the message', async () => {
    const read = await bothWays('x.jsonl', `[1, "${'a'.repeat(10_000)}"]\n`);
    expect(read).toMatchObject({ error: expect.stringMatching(/line 1, column 2: the string "a{37}\.\.\." is not a number/) });
    expect((read as { error: string }).error.length).toBeLessThan(200);
  });
});

describe('a line longer than 16 MiB', () => {
  it('is refused after reading a little more than 16 MiB, not the whole file, in train and predict', async () => {
    // 24 MiB of "1," with no newline: not a feature file.
    const path = tmp.path('x.csv');
    await writeFile(path, Buffer.alloc(24 * 1024 * 1024, '1,'));
    let bytes = 0;
    const error = await failure(readCsvFeatures(path, { hooks: { pacer: pacer(), onBytes: (read) => (bytes = read) } }));
    expect(error).toMatchObject({ code: ErrorCode.InvalidInput });
    expect(error.message).toMatch(/x\.csv line 1 is longer than 16 MiB: is this a CSV\/JSONL file\?/);
    expect(bytes).toBeLessThanOrEqual(18 * 1024 * 1024);
    expect(await predictRead(path, 'csv')).toEqual({ error: error.message });

    const labels = await writeText(tmp.path('y.txt'), 'a\nb\n');
    const jsonl = tmp.path('x.jsonl');
    await writeFile(jsonl, Buffer.concat([Buffer.from('[1]\n[2]\n'), Buffer.alloc(17 * 1024 * 1024, '[1,')]));
    expect((await failure(load({ data: jsonl, labels }))).message).toMatch(/x\.jsonl line 3 is longer than 16 MiB/);
  });

  it('is where the limit lies: MAX_LINE_CHARS characters pass, one more does not, however they arrive', () => {
    const lengths: number[] = [];
    const lines = new LineSplitter('x.csv', (text) => lengths.push(text.length));
    const piece = 'x'.repeat(MAX_LINE_CHARS / 16);
    for (let i = 0; i < 16; i++) lines.write(piece);
    lines.write('\nshort\n');
    expect(lines.end()).toBe(2);
    expect(lengths).toEqual([MAX_LINE_CHARS, 5]);

    const longer = new LineSplitter('x.csv', () => {});
    for (let i = 0; i < 16; i++) longer.write(piece);
    expect(() => longer.write('y')).toThrow(/x\.csv line 1 is longer than 16 MiB/);
  });

  it('says that a file is cut by \\r alone when that makes its first line too long', () => {
    const lines = new LineSplitter('x.csv', () => {});
    const piece = '1,2\r'.repeat(MAX_LINE_CHARS / 16 / 4);
    for (let i = 0; i < 16; i++) lines.write(piece);
    expect(() => lines.write('3,4\r')).toThrow(
      /^x\.csv line 1 holds carriage returns \(\\r\) without newlines: its lines end in \\r alone/,
    );
  });
});

// Read the same way by train and predict: a row must not lose a value unseen.
describe('a JSON-lines row that repeats a key', () => {
  /** What the one JSON-lines reader (train and predict) says of `lines`: the error message, or undefined. */
  function refusal(lines: readonly string[], labelColumn?: string): string | undefined {
    const reader = jsonlLineReader('x.jsonl', labelColumn === undefined ? {} : { labelColumn });
    try {
      lines.forEach((line, i) => reader.onLine(line, i + 1));
      reader.finish();
    } catch (error) {
      return (error as Error).message;
    }
    return undefined;
  }

  it('is refused, naming the file, the line and the key', async () => {
    const data = await writeText(tmp.path('x.jsonl'), '{"features": [1, 2], "y": "a"}\n{"features": [3, 4], "y": "b", "y": "a"}\n');
    const labels = await writeText(tmp.path('y.txt'), 'a\nb\n');
    expect(await failure(load({ data, labelColumn: 'y' }))).toMatchObject({
      code: ErrorCode.InvalidInput,
      message: `dataset:files: ${data} line 2: key "y" appears more than once in the object, and only its last value would be read; write each key once per line (remove the repeat, or rename it if both values are needed)`,
    });
    // A repeated features key, where no label is read from the line.
    await writeText(data, '{"features": [1, 2]}\n{"features": [3, 4], "features": [5, 6]}\n');
    expect((await failure(load({ data, labels }))).message).toContain(`${data} line 2: key "features" appears more than once`);
  });

  it('knows a key however it is escaped, and only keys of the row object', () => {
    expect(refusal(['{"features": [1], "\\u0079": 1, "y": 2}'])).toMatch(/^x\.jsonl line 1: key "y" appears more than once/);
    // Keys of a nested object, and key-like text inside strings, are not the row's keys.
    expect(refusal(['{"features": [1], "meta": {"y": 1, "y": 2}, "y": "a\\": 1, \\"y\\": {"}'])).toBeUndefined();
    expect(refusal(['{"features": [1], "y": "a:b", "z": "y"}'])).toBeUndefined();
  });

  it('finds the first repeated key of any object, and refuses no object without one', () => {
    // Keys that JSON writes with escapes or that look like JSON structure, and values of every kind.
    const key = fc.constantFrom('y', 'features ', 'a:b', '"', '\\', '{', ']', 'caf\u00e9', '\u2028', '');
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.jsonValue({ maxDepth: 2 })), { maxLength: 6 }), (entries) => {
        const members = [['features', [1, 2]], ...entries].map(([name, value]) => `${JSON.stringify(name)} : ${JSON.stringify(value)}`);
        const names = entries.map(([name]) => name);
        const repeated = names.find((name, i) => names.indexOf(name) !== i);
        const said = refusal([`{${members.join(', ')}}`]);
        if (repeated === undefined) expect(said).toBeUndefined();
        else expect(said).toContain(`line 1: key ${JSON.stringify(repeated)} appears more than once`);
      }),
    );
  });
});
