import { InvalidFeaturesError } from './contract-error.js';
import { describeValue } from './describe-value.js';

/** Row-major float32 features [rows, cols] (a `@hyperproto/core` Matrix qualifies). */
export interface FeatureMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

/**
 * A batch of feature rows: a matrix, an array of rows (arrays or typed arrays, e.g. parsed JSON), or one flat
 * row-major Float32Array of [rows * inputWidth] values.
 */
export type FeatureBatch = FeatureMatrix | readonly ArrayLike<number>[] | Float32Array;

export interface FeatureCheckOptions {
  /** Most rows accepted in one batch. */
  readonly maxRows?: number;
  /** Names the input in messages (e.g. `rows.json`); `the batch` by default. */
  readonly source?: string;
  /**
   * Number rows and columns from 1 in messages, as editors and `train` number the rows of a file (`row 1` is its
   * first row). By default they are 0-based, as the JSON API reports them. `detail` is 0-based either way.
   */
  readonly oneBased?: boolean;
  /**
   * The number messages give the batch's first row, when it is part of a larger input (a chunk of a file): its
   * place in that input. 1 with `oneBased`, else 0, by default. `detail` counts within the batch either way.
   */
  readonly firstRow?: number;
}

/**
 * Checks a batch against the model's input width and returns it as one float32 matrix (the input's own buffer
 * when it already is one). Refuses, with an InvalidFeaturesError whose `detail` names the problem and where:
 * - an empty batch (`empty-batch`), more than `maxRows` rows (`too-many-rows`);
 * - rows of different lengths (`ragged-rows`, the first row that differs from row 0);
 * - rows of another width than the model's (`wrong-width`);
 * - a value that is not a number (`not-a-number`) or not finite, also after rounding to float32 (`not-finite`).
 * - anything that is none of the three forms, or a matrix whose `rows`, `cols` or `data` is not what the form
 *   requires (`not-a-batch`, the message naming what was given and the field), checked before anything is read.
 * Rows and columns are 0-based in `detail`, as the JSON API reports them, and in the message unless `oneBased` (or `firstRow`).
 * A value that is not a number is described by its type, never serialised (it may be huge or deeply nested).
 */
export function toFeatureMatrix(input: FeatureBatch, inputWidth: number, options: FeatureCheckOptions = {}): FeatureMatrix {
  const source = options.source ?? 'the batch';
  const at = placeNamer(options.oneBased === true, options.firstRow);
  if (input instanceof Float32Array) return checkFlat(input, inputWidth, source, options.maxRows, at);
  if (!Array.isArray(input)) checkMatrixFields(input, inputWidth, source);
  const rows = Array.isArray(input) ? input.length : (input as FeatureMatrix).rows;
  if (rows === 0)
    throw new InvalidFeaturesError(`${source} is empty: send at least one row of ${inputWidth} features`, { problem: 'empty-batch' });
  checkRowCount(rows, source, options.maxRows);
  if (!Array.isArray(input)) return checkMatrix(input as FeatureMatrix, inputWidth, source, at);

  const list = input as readonly ArrayLike<number>[];
  // A plain loop, not forEach, so that holes in a sparse array are reported rather than skipped.
  for (let r = 0; r < rows; r++) {
    if (!isRow(list[r]))
      throw new InvalidFeaturesError(`${source}: ${at(r)} is not an array of numbers`, { problem: 'not-a-number', row: r });
  }
  const firstWidth = list[0]!.length;
  for (let r = 1; r < rows; r++) {
    if (list[r]!.length !== firstWidth) {
      throw new InvalidFeaturesError(
        `${source} has ragged rows: ${at(0)} has ${firstWidth} values but ${at(r)} has ${list[r]!.length}; every row needs the model's ${inputWidth} features`,
        { problem: 'ragged-rows', row: r },
      );
    }
  }
  if (firstWidth !== inputWidth) throw wrongWidth(source, firstWidth, inputWidth);
  const data = new Float32Array(rows * inputWidth);
  for (let r = 0; r < rows; r++) {
    const row = list[r]!;
    const offset = r * inputWidth;
    for (let c = 0; c < inputWidth; c++) {
      const value: unknown = row[c];
      if (typeof value !== 'number') {
        throw new InvalidFeaturesError(`${source}: ${at(r, c)} is ${describeValue(value)}, not a number`, {
          problem: 'not-a-number',
          row: r,
          column: c,
        });
      }
      if (!Number.isFinite(value)) throw notFinite(source, value, r, c, at);
      data[offset + c] = value;
      if (!Number.isFinite(data[offset + c]!)) {
        throw new InvalidFeaturesError(`${source}: ${at(r, c)} is ${value}, beyond the float32 range the model computes in`, {
          problem: 'not-finite',
          row: r,
          column: c,
        });
      }
    }
  }
  return { rows, cols: inputWidth, data };
}

/** Names a row, or a row and column, in messages. */
type PlaceNamer = (row: number, column?: number) => string;

function placeNamer(oneBased: boolean, firstRow?: number): PlaceNamer {
  const first = oneBased ? 1 : 0;
  const rowFirst = firstRow ?? first;
  return (row, column) => `row ${row + rowFirst}${column === undefined ? '' : `, column ${column + first}`}`;
}

/** The forms `toFeatureMatrix` takes, for messages refusing something else. */
const BATCH_FORMS = 'rows as number[][], one flat row-major Float32Array, or a { rows, cols, data: Float32Array } matrix';

/**
 * Refuses, before anything is read from it, an input that is not a matrix of the documented shape: a caller that
 * passes a request body's missing field or a Float64Array gets a message naming it, not a TypeError from deep inside.
 */
function checkMatrixFields(input: unknown, inputWidth: number, source: string): void {
  const notABatch = (what: string, hint?: string) =>
    new InvalidFeaturesError(`${source} ${what}; expected ${BATCH_FORMS}`, { problem: 'not-a-batch' }, hint);
  if (ArrayBuffer.isView(input))
    throw notABatch(
      `is ${describeValue(input)}`,
      'The model computes in float32: pass Float32Array.from(values), or the rows as arrays of numbers.',
    );
  if (typeof input !== 'object' || input === null) throw notABatch(`is ${describeValue(input)}`);
  const { rows, cols, data } = input as Record<string, unknown>;
  if (rows === undefined && cols === undefined && data === undefined) throw notABatch('is an object without rows, cols and data');
  const field = (name: string, value: unknown, rule: string, hint?: string) =>
    new InvalidFeaturesError(
      `${source} is a matrix whose ${name} is ${describeValue(value)}; ${name} must be ${rule}`,
      { problem: 'not-a-batch' },
      hint,
    );
  if (typeof rows !== 'number' || !Number.isInteger(rows) || rows < 0) throw field('rows', rows, 'a whole number of rows (at least 1)');
  if (typeof cols !== 'number' || !Number.isInteger(cols) || cols < 1)
    throw field('cols', cols, `a whole number of columns (the model's ${inputWidth} features)`);
  if (!(data instanceof Float32Array))
    throw field(
      'data',
      data,
      'a Float32Array of rows * cols values, row-major',
      'The model computes in float32: convert with Float32Array.from(data).',
    );
}

function isRow(value: unknown): value is ArrayLike<number> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

function checkRowCount(rows: number, source: string, maxRows: number | undefined): void {
  if (maxRows !== undefined && rows > maxRows) {
    throw new InvalidFeaturesError(
      `${source} has ${rows} rows; at most ${maxRows} are accepted at once`,
      { problem: 'too-many-rows' },
      'Split the rows into smaller batches.',
    );
  }
}

function checkFlat(data: Float32Array, inputWidth: number, source: string, maxRows: number | undefined, at: PlaceNamer): FeatureMatrix {
  if (data.length === 0)
    throw new InvalidFeaturesError(`${source} is empty: send at least one row of ${inputWidth} features`, { problem: 'empty-batch' });
  if (data.length % inputWidth !== 0) {
    throw new InvalidFeaturesError(
      `${source} has ${data.length} values, not a whole number of rows of the model's ${inputWidth} features`,
      { problem: 'wrong-width' },
    );
  }
  const rows = data.length / inputWidth;
  checkRowCount(rows, source, maxRows);
  checkFinite(data, inputWidth, source, at);
  return { rows, cols: inputWidth, data };
}

function checkMatrix(matrix: FeatureMatrix, inputWidth: number, source: string, at: PlaceNamer): FeatureMatrix {
  if (matrix.data.length !== matrix.rows * matrix.cols) {
    throw new InvalidFeaturesError(`${source} has ${matrix.data.length} values for ${matrix.rows} x ${matrix.cols}`, {
      problem: 'ragged-rows',
    });
  }
  if (matrix.cols !== inputWidth) throw wrongWidth(source, matrix.cols, inputWidth);
  checkFinite(matrix.data, inputWidth, source, at);
  return matrix;
}

function checkFinite(data: Float32Array, inputWidth: number, source: string, at: PlaceNamer): void {
  for (let i = 0; i < data.length; i++) {
    // Only a non-finite value fails x - x === 0; one comparison per value keeps the check cheap.
    const value = data[i]!;
    if (value - value !== 0) throw notFinite(source, value, Math.floor(i / inputWidth), i % inputWidth, at);
  }
}

function wrongWidth(source: string, width: number, inputWidth: number): InvalidFeaturesError {
  return new InvalidFeaturesError(
    `${source} has rows of ${width} features; the model expects ${inputWidth}`,
    { problem: 'wrong-width' },
    'Send features made the same way as the training data (the model metadata names its inputWidth).',
  );
}

function notFinite(source: string, value: number, row: number, column: number, at: PlaceNamer): InvalidFeaturesError {
  return new InvalidFeaturesError(`${source}: ${at(row, column)} is ${value}; features must be finite numbers`, {
    problem: 'not-finite',
    row,
    column,
  });
}
