import { createMatrix, ErrorCode, HyperprotoError, type Matrix } from '@hyperproto/core';

export interface UnitRows {
  /** The rows scaled to unit length (a copy; the input is left alone). */
  readonly unit: Matrix;
  /** Each row's L2 norm before scaling, in double precision. */
  readonly norms: Float64Array;
}

/**
 * Unit-length copies of the rows, so that dot products are cosines. Non-finite values and zero rows have no
 * direction and are refused with the row and column that hold them.
 */
export function toUnitRows(matrix: Matrix, source = 'prototypes'): UnitRows {
  const { rows, cols, data } = matrix;
  const unit = new Float32Array(rows * cols);
  const norms = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    const start = row * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const value = data[start + j]!;
      if (!Number.isFinite(value)) {
        throw new HyperprotoError(ErrorCode.InvalidInput, `${source} has a non-finite value (${value}) at row ${row}, column ${j}`, {
          hint: 'Regenerate the prototypes, or fix the file: every value must be a finite number.',
        });
      }
      sum += value * value;
    }
    const norm = Math.sqrt(sum);
    if (!(norm > 0)) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `${source}: row ${row} is all zeros and has no direction`, {
        hint: 'Every prototype needs a non-zero row.',
      });
    }
    norms[row] = norm;
    for (let j = 0; j < cols; j++) unit[start + j] = data[start + j]! / norm;
  }
  return { unit: createMatrix(rows, cols, unit), norms };
}

/** Cosine of rows i and j in double precision: used to report a float32 scan's winning pair exactly. */
export function exactCosine(matrix: Matrix, i: number, j: number): number {
  const { cols, data } = matrix;
  let dot = 0;
  let normI = 0;
  let normJ = 0;
  for (let k = 0; k < cols; k++) {
    const a = data[i * cols + k]!;
    const b = data[j * cols + k]!;
    dot += a * b;
    normI += a * a;
    normJ += b * b;
  }
  return dot / Math.sqrt(normI * normJ);
}
