import { ErrorCode, HyperprotoError } from './errors.js';
import { firstNonFinite, type Matrix } from './matrix.js';

/** Tolerance on |norm - 1| for rows a strategy returns. */
export const UNIT_NORM_TOLERANCE = 1e-3;

/** Checks a prototype matrix a strategy or file produced: shape, finite values, unit rows. */
export function checkPrototypes(prototypes: Matrix, expected: { classes: number; dims?: number }, source: string): Matrix {
  if (prototypes.rows !== expected.classes || (expected.dims !== undefined && prototypes.cols !== expected.dims)) {
    const want = expected.dims === undefined ? `${expected.classes} rows` : `${expected.classes} x ${expected.dims}`;
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${source} gave prototypes of shape ${prototypes.rows} x ${prototypes.cols}, expected ${want} (one row per class)`,
    );
  }
  if (prototypes.data.length !== prototypes.rows * prototypes.cols) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${source} gave ${prototypes.data.length} values for ${prototypes.rows} x ${prototypes.cols} prototypes`,
    );
  }
  const bad = firstNonFinite(prototypes.data);
  if (bad >= 0) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${source} has a non-finite value at row ${Math.floor(bad / prototypes.cols)}, column ${bad % prototypes.cols}`,
    );
  }
  for (let row = 0; row < prototypes.rows; row++) {
    const norm = rowNorm(prototypes, row);
    if (Math.abs(norm - 1) > UNIT_NORM_TOLERANCE) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `${source}: prototype ${row} has L2 norm ${norm.toPrecision(6)}, expected 1`, {
        hint: 'Prototype strategies must return unit rows; normalise each row before returning.',
      });
    }
  }
  return prototypes;
}

/** Scales every row to unit norm in place; a zero row is an error (it has no direction). */
export function normalizeRows(matrix: Matrix, source: string): Matrix {
  for (let row = 0; row < matrix.rows; row++) {
    const norm = rowNorm(matrix, row);
    if (!(norm > 0) || !Number.isFinite(norm)) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `${source}: row ${row} has norm ${norm} and cannot be a prototype direction`);
    }
    const start = row * matrix.cols;
    for (let j = 0; j < matrix.cols; j++) matrix.data[start + j]! /= norm;
  }
  return matrix;
}

function rowNorm(matrix: Matrix, row: number): number {
  let sum = 0;
  const start = row * matrix.cols;
  for (let j = 0; j < matrix.cols; j++) sum += matrix.data[start + j]! ** 2;
  return Math.sqrt(sum);
}
