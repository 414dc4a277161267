import { ErrorCode, HyperprotoError, type Matrix } from '@hyperproto/core';

/** Feature rows as a row-major matrix, or as an array of rows (e.g. parsed JSON). */
export type FeatureInput = Matrix | readonly (readonly number[])[];

/** Where a problem with the input lies, for callers that report it in their own terms (e.g. JSON paths). */
export interface InvalidFeaturesDetail {
  readonly problem: 'empty-batch' | 'ragged-rows' | 'wrong-width' | 'not-finite' | 'not-a-number' | 'too-many-rows';
  readonly row?: number;
  readonly column?: number;
}

export class InvalidFeaturesError extends HyperprotoError {
  constructor(
    message: string,
    readonly detail: InvalidFeaturesDetail,
    hint?: string,
  ) {
    super(ErrorCode.InvalidInput, message, { hint });
  }
}

export interface FeatureCheckOptions {
  /** Most rows accepted in one batch. */
  readonly maxRows?: number;
  /** Names the input in messages (e.g. `rows.json`); `the batch` by default. */
  readonly source?: string;
}

/**
 * Checks feature rows against the model's input width and returns them as one float32 matrix: refuses an empty
 * batch, rows of different lengths, rows of the wrong width, and values that are not finite numbers. Messages
 * name the row and column (0-based).
 */
export function toFeatureMatrix(input: FeatureInput, inputWidth: number, options: FeatureCheckOptions = {}): Matrix {
  const source = options.source ?? 'the batch';
  const rows = Array.isArray(input) ? input.length : (input as Matrix).rows;
  if (rows === 0) throw new InvalidFeaturesError(`${source} is empty: send at least one row of ${inputWidth} features`, { problem: 'empty-batch' });
  if (options.maxRows !== undefined && rows > options.maxRows) {
    throw new InvalidFeaturesError(`${source} has ${rows} rows; at most ${options.maxRows} are accepted at once`, { problem: 'too-many-rows' }, 'Split the rows into smaller batches.');
  }
  if (!Array.isArray(input)) return checkMatrix(input as Matrix, inputWidth, source);

  const list = input as readonly (readonly number[])[];
  for (let r = 0; r < rows; r++) {
    if (!Array.isArray(list[r])) throw new InvalidFeaturesError(`${source}: row ${r} is not an array of numbers`, { problem: 'not-a-number', row: r });
  }
  const firstWidth = list[0]!.length;
  const ragged = list.findIndex((row) => row.length !== firstWidth);
  if (ragged >= 0) {
    throw new InvalidFeaturesError(
      `${source} has ragged rows: row 0 has ${firstWidth} values but row ${ragged} has ${list[ragged]!.length}; every row needs the model's ${inputWidth} features`,
      { problem: 'ragged-rows', row: ragged },
    );
  }
  if (firstWidth !== inputWidth) throw wrongWidth(source, firstWidth, inputWidth);
  const data = new Float32Array(rows * inputWidth);
  for (let r = 0; r < rows; r++) {
    const row = list[r]!;
    const offset = r * inputWidth;
    for (let c = 0; c < inputWidth; c++) {
      const value = row[c];
      if (typeof value !== 'number') throw new InvalidFeaturesError(`${source}: row ${r}, column ${c} is ${JSON.stringify(value) ?? String(value)}, not a number`, { problem: 'not-a-number', row: r, column: c });
      if (!Number.isFinite(value)) throw notFinite(source, value, r, c);
      data[offset + c] = value;
      if (!Number.isFinite(data[offset + c]!)) {
        throw new InvalidFeaturesError(`${source}: row ${r}, column ${c} is ${value}, beyond the float32 range the model computes in`, { problem: 'not-finite', row: r, column: c });
      }
    }
  }
  return { rows, cols: inputWidth, data };
}

function checkMatrix(matrix: Matrix, inputWidth: number, source: string): Matrix {
  if (matrix.data.length !== matrix.rows * matrix.cols) {
    throw new InvalidFeaturesError(`${source} has ${matrix.data.length} values for ${matrix.rows} x ${matrix.cols}`, { problem: 'ragged-rows' });
  }
  if (matrix.cols !== inputWidth) throw wrongWidth(source, matrix.cols, inputWidth);
  const data = matrix.data;
  for (let i = 0; i < data.length; i++) {
    // Only a non-finite value fails x - x === 0; one comparison per value keeps the check cheap.
    const value = data[i]!;
    if (value - value !== 0) throw notFinite(source, value, Math.floor(i / inputWidth), i % inputWidth);
  }
  return matrix;
}

function wrongWidth(source: string, width: number, inputWidth: number): InvalidFeaturesError {
  return new InvalidFeaturesError(
    `${source} has rows of ${width} features; the model expects ${inputWidth}`,
    { problem: 'wrong-width' },
    'Send features made the same way as the training data (the model metadata names its inputWidth).',
  );
}

function notFinite(source: string, value: number, row: number, column: number): InvalidFeaturesError {
  return new InvalidFeaturesError(`${source}: row ${row}, column ${column} is ${value}; features must be finite numbers`, { problem: 'not-finite', row, column });
}
