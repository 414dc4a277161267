// `train` and `predict --input` read a CSV file with the same parser: a file pandas wrote means the same rows to
// both, and a bad field is named by the same 1-based line and column in both.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './test-support/run-cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-csv-dialects-'));
const cli = (args: string[]) => runCli(args, scratch);
const NAMES = ['cat', 'dog', 'eel'];
const ROWS = 90;
const WIDTH = 4;
const FAST = ['--max-epochs', '60', '--hidden-units', '16'];

/** 3 classes in 4 dimensions, each shifted along its own axis; seeded, written with 4 decimals as pandas would. */
function features(): string[][] {
  let state = 5;
  const uniform = () => (state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: ROWS }, (_, i) =>
    Array.from({ length: WIDTH }, (_, k) => ((k === i % 3 ? 3 : 0) + uniform() - 0.5).toFixed(4)),
  );
}

const positions = Array.from({ length: WIDTH }, (_, k) => String(k));
const table = features();
/** `pd.DataFrame(X).to_csv('plain.csv', index=False)`: the header is the column positions 0..3. */
const PLAIN = `${[positions, ...table].map((row) => row.join(',')).join('\n')}\n`;
/** The same frame with `quoting=csv.QUOTE_ALL, lineterminator='\r\n'`, and a trailing blank line. */
const QUOTED = `${[positions, ...table].map((row) => row.map((field) => `"${field}"`).join(',')).join('\r\n')}\r\n\r\n`;
/** `df.to_csv('indexed.csv')`: pandas' default, with the row index as an unnamed first column. */
const INDEXED = `${[['', ...positions], ...table.map((row, i) => [String(i), ...row])].map((row) => row.join(',')).join('\n')}\n`;
/** The plain file with one bad field: data row 4 (line 5), column 3. */
const BAD = PLAIN.split('\n')
  .map((line, i) =>
    i === 4
      ? line
          .split(',')
          .map((field, k) => (k === 2 ? 'abc' : field))
          .join(',')
      : line,
  )
  .join('\n');

const train = (data: string, out: string, ...more: string[]) =>
  cli(['train', '--dataset', 'files', '--data', data, '--labels', 'labels.txt', '--head', 'softmax', ...FAST, '--out', out, ...more]);
const predict = (input: string, ...more: string[]) => cli(['predict', 'model.onnx', '--input', input, ...more]);

/** What the CLI said was wrong with `file`, from the file name on. */
function problem(run: CliRun, file: string): string | undefined {
  expect(run.code, run.stderr).toBe(2);
  return new RegExp(`${file.replace('.', '\\.')} (line [^\\n]*)`).exec(run.stderr)?.[1];
}

beforeAll(async () => {
  writeFileSync(join(scratch, 'plain.csv'), PLAIN);
  writeFileSync(join(scratch, 'quoted.csv'), QUOTED);
  writeFileSync(join(scratch, 'indexed.csv'), INDEXED);
  writeFileSync(join(scratch, 'bad.csv'), BAD);
  writeFileSync(join(scratch, 'labels.txt'), `${Array.from({ length: ROWS }, (_, i) => NAMES[i % 3]).join('\n')}\n`);
  const trained = await train('plain.csv', 'run', '--json');
  expect(trained.code, trained.stderr).toBe(0);
  const exported = await cli(['export', 'run', '--out', 'model.onnx', '--json']);
  expect(exported.code, exported.stderr).toBe(0);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('train and predict read the same pandas-written CSV', () => {
  it('take the header of column positions as a header: 90 rows to train on, 90 predictions', async () => {
    const metrics = JSON.parse(readFileSync(join(scratch, 'run/metrics.json'), 'utf8'));
    const { train: fit, validation, test } = metrics.dataset.rows as { train: number; validation: number; test: number };
    expect(fit + validation + test).toBe(ROWS);

    const plain = await predict('plain.csv', '--json');
    expect(plain.code, plain.stderr).toBe(0);
    const result = JSON.parse(plain.stdout);
    expect(result.rows).toBe(ROWS);
    const names = result.predictions.map((p: { className: string }) => p.className);
    // The rows cycle cat, dog, eel: most come back as written, which they could not if a row were added or lost.
    expect(names.filter((name: string, i: number) => name === NAMES[i % 3]).length).toBeGreaterThan(ROWS / 2);

    // Quoted numbers, CRLF line ends and a trailing blank line are the same rows.
    const quoted = await predict('quoted.csv', '--json');
    expect(quoted.code, quoted.stderr).toBe(0);
    expect(JSON.parse(quoted.stdout).predictions).toEqual(result.predictions);
  });

  it('refuse text that is not UTF-8 alike (a Latin-1 byte), naming the line, not decoding it into other characters', async () => {
    // A Latin-1 e-acute (the byte 0xE9) at the end of line 3: not UTF-8.
    const lines = PLAIN.split('\n');
    const latin1 = Buffer.concat([
      Buffer.from(`${lines.slice(0, 3).join('\n')}`),
      Buffer.from([0xe9]),
      Buffer.from(`\n${lines.slice(3).join('\n')}`),
    ]);
    writeFileSync(join(scratch, 'latin1.csv'), latin1);
    for (const run of [await train('latin1.csv', 'latin1-run'), await predict('latin1.csv')]) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/latin1\.csv is not UTF-8 text: line 3 has the byte 0xE9/);
      expect(run.stderr).toMatch(/iconv -f latin1 -t utf-8/);
    }
  });

  it('take labelColumn=4 as the header column named "4", and predict scores the rows by it as train read them', async () => {
    const withLabels = `${[[...positions, '4'], ...table.map((row, i) => [...row, NAMES[i % 3]!])].map((row) => row.join(',')).join('\n')}\n`;
    writeFileSync(join(scratch, 'labelled.csv'), withLabels);
    const trained = await cli([
      'train',
      '--data',
      'labelled.csv',
      '--dataset-option',
      'labelColumn=4',
      '--head',
      'softmax',
      ...FAST,
      '--out',
      'by-4',
      '--json',
    ]);
    expect(trained.code, trained.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(scratch, 'by-4/metrics.json'), 'utf8')).classNames).toEqual(NAMES);
    const exported = await cli(['export', 'by-4', '--out', 'by-4.onnx', '--json']);
    expect(JSON.parse(exported.stdout)).toMatchObject({ labelColumn: '4' });
    const scored = await cli(['predict', 'by-4.onnx', '--input', 'labelled.csv', '--json']);
    expect(scored.code, scored.stderr).toBe(0);
    expect(JSON.parse(scored.stdout).evaluation).toMatchObject({ rows: ROWS, labels: 'labelled.csv column 5 ("4")' });
  });

  it('name a bad field by the same 1-based line and column', async () => {
    const expected = 'line 5, column 3 ("2"): "abc" is not a decimal number';
    const fromTrain = problem(await train('bad.csv', 'bad-run'), 'bad.csv');
    const fromPredict = problem(await predict('bad.csv'), 'bad.csv');
    expect(fromTrain).toContain(expected);
    expect(fromPredict).toBe(fromTrain);
  });

  it("refuse pandas' row index column alike, saying how to write the file without it", async () => {
    const fromTrain = problem(await train('indexed.csv', 'indexed-run'), 'indexed.csv');
    const fromPredict = problem(await predict('indexed.csv'), 'indexed.csv');
    expect(fromTrain).toBe(
      'line 1 looks like a header but column 1 has no name; pandas writes its row index so: save with df.to_csv(path, index=False)',
    );
    expect(fromPredict).toBe(fromTrain);
  });
});
