import { ErrorCode, HyperprotoError } from './errors.js';
import { firstNonFinite, type Matrix } from './matrix.js';

/** Tolerance on |norm - 1| for rows a strategy returns. */
export const UNIT_NORM_TOLERANCE = 1e-3;

/**
 * What is wrong with a prototype matrix (shape, finite values, unit rows), or undefined; phrased as what the matrix
 * holds, for "<file> holds ..." and "generate() returned ...".
 */
export function prototypesProblem(prototypes: Matrix, expected: { classes: number; dims?: number }): string | undefined {
  if (prototypes.rows !== expected.classes || (expected.dims !== undefined && prototypes.cols !== expected.dims)) {
    const want = expected.dims === undefined ? `${expected.classes} rows` : `${expected.classes} x ${expected.dims}`;
    return `prototypes of shape ${prototypes.rows} x ${prototypes.cols}; expected ${want} (one row per class)`;
  }
  if (prototypes.data.length !== prototypes.rows * prototypes.cols)
    return `${prototypes.data.length} values for ${prototypes.rows} x ${prototypes.cols} prototypes`;
  const bad = firstNonFinite(prototypes.data);
  if (bad >= 0) return `a non-finite value at row ${Math.floor(bad / prototypes.cols)}, column ${bad % prototypes.cols}`;
  for (let row = 0; row < prototypes.rows; row++) {
    const norm = rowNorm(prototypes, row);
    if (Math.abs(norm - 1) > UNIT_NORM_TOLERANCE)
      return `prototype ${row} of L2 norm ${norm.toPrecision(6)}; expected unit rows (normalise each row)`;
  }
  return undefined;
}

/** Checks a prototype matrix read from a file (`prototypesProblem`): E_INVALID_INPUT naming `source` if bad. */
export function checkPrototypes(prototypes: Matrix, expected: { classes: number; dims?: number }, source: string): Matrix {
  const problem = prototypesProblem(prototypes, expected);
  if (problem) throw new HyperprotoError(ErrorCode.InvalidInput, `${source} holds ${problem}`);
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
