import { ErrorCode, HyperprotoError } from './errors.js';

/** A dense row-major float32 matrix: the one array type that crosses package boundaries. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export function createMatrix(rows: number, cols: number, data?: Float32Array): Matrix {
  const buffer = data ?? new Float32Array(rows * cols);
  if (buffer.length !== rows * cols) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `matrix data has ${buffer.length} values, expected ${rows} x ${cols} = ${rows * cols}`,
    );
  }
  return { rows, cols, data: buffer };
}

export function matrixRow(matrix: Matrix, row: number): Float32Array {
  return matrix.data.subarray(row * matrix.cols, (row + 1) * matrix.cols);
}

/** Index of the first non-finite value, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}
