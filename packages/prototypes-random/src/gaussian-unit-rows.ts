import { createMatrix, type Matrix, type Rng } from '@hyperproto/core';

/**
 * `classes` rows drawn from N(0, I) in `dims` dimensions, each scaled to unit length: a uniform direction on the
 * sphere. Draws are row-major from `rng`, so the same seed gives the same bytes.
 */
export function drawGaussianUnitRows(rng: Rng, classes: number, dims: number): Matrix {
  const data = new Float32Array(classes * dims);
  rng.fillNormal(data);
  for (let row = 0; row < classes; row++) {
    const values = data.subarray(row * dims, (row + 1) * dims);
    let norm = rowNorm(values);
    // A zero row has no direction; redrawing it from the same stream keeps the result deterministic.
    while (!(norm > 0)) {
      rng.fillNormal(values);
      norm = rowNorm(values);
    }
    for (let j = 0; j < dims; j++) values[j]! /= norm;
  }
  return createMatrix(classes, dims, data);
}

function rowNorm(values: Float32Array): number {
  let sum = 0;
  for (const value of values) sum += value * value;
  return Math.sqrt(sum);
}
