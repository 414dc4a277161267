import { createMatrix, ErrorCode, HyperprotoError, type Matrix, type Rng } from '@hyperproto/core';

/** Row-major N(0, I) draws, the same stream the random strategy uses, so both start from the same points. */
export function drawGaussianRows(rng: Rng, classes: number, dims: number): Float32Array {
  return rng.fillNormal(new Float32Array(classes * dims));
}

/**
 * A new matrix with each row scaled to unit length. Norms are taken in double precision so that the float32 rows
 * are unit to about 1e-7.
 */
export function toUnitRows(values: Float32Array, classes: number, dims: number, source: string): Matrix {
  const data = new Float32Array(classes * dims);
  for (let row = 0; row < classes; row++) {
    const start = row * dims;
    let sum = 0;
    for (let j = 0; j < dims; j++) sum += values[start + j]! ** 2;
    const norm = Math.sqrt(sum);
    if (!(norm > 0) || !Number.isFinite(norm)) {
      throw new HyperprotoError(ErrorCode.TrainingFailed, `${source}: prototype ${row} has norm ${norm}`, {
        hint: 'Lower the learning rate or the number of steps, or try another seed.',
      });
    }
    for (let j = 0; j < dims; j++) data[start + j] = values[start + j]! / norm;
  }
  return createMatrix(classes, dims, data);
}
