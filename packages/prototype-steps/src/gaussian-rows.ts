import { createMatrix, ErrorCode, HyperprotoError, type Matrix, type Rng } from '@hyperproto/core';

/** Row-major N(0, I) draws: every strategy that starts from random points starts from this same stream. */
export function drawGaussianRows(rng: Rng, classes: number, dims: number): Float32Array {
  return rng.fillNormal(new Float32Array(classes * dims));
}

/**
 * `classes` directions drawn uniformly on the sphere: N(0, I) rows scaled to unit length. A zero row (which has
 * no direction) is redrawn from the same stream, so the result stays deterministic.
 */
export function drawGaussianUnitRows(rng: Rng, classes: number, dims: number): Matrix {
  const data = drawGaussianRows(rng, classes, dims);
  for (let row = 0; row < classes; row++) {
    const values = data.subarray(row * dims, (row + 1) * dims);
    while (!(squaredNorm(values) > 0)) rng.fillNormal(values);
  }
  return toUnitRows(data, classes, dims, 'random starting points');
}

/**
 * A new matrix with each row scaled to unit length. Norms are taken in double precision so that the float32 rows
 * are unit to about 1e-7.
 */
export function toUnitRows(values: Float32Array, classes: number, dims: number, source: string): Matrix {
  return unitRowsAndNorms(values, classes, dims, source).unit;
}

/** {@link toUnitRows}, with each row's norm before scaling. A zero or non-finite norm means the optimiser diverged. */
export function unitRowsAndNorms(
  values: Float32Array,
  classes: number,
  dims: number,
  source: string,
): { unit: Matrix; norms: Float64Array } {
  const data = new Float32Array(classes * dims);
  const norms = new Float64Array(classes);
  for (let row = 0; row < classes; row++) {
    const start = row * dims;
    const norm = Math.sqrt(squaredNorm(values.subarray(start, start + dims)));
    if (!(norm > 0) || !Number.isFinite(norm)) {
      throw new HyperprotoError(ErrorCode.TrainingFailed, `${source}: prototype ${row} has norm ${norm}`, {
        hint: 'Lower the learning rate or the number of steps, or try another seed.',
      });
    }
    norms[row] = norm;
    for (let j = 0; j < dims; j++) data[start + j] = values[start + j]! / norm;
  }
  return { unit: createMatrix(classes, dims, data), norms };
}

function squaredNorm(values: Float32Array): number {
  let sum = 0;
  for (const value of values) sum += value * value;
  return sum;
}
