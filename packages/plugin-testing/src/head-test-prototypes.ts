import { createMatrix, createRng, type Matrix } from '@hyperproto/core';

/**
 * Unit rows for a head that uses prototypes: the signed axes +e0, -e0, +e1, ... when they fit (exact, far apart),
 * otherwise seeded random directions.
 */
export function headTestPrototypes(classes: number, dims: number, seed: number): Matrix {
  const matrix = createMatrix(classes, dims);
  if (classes <= 2 * dims) {
    for (let i = 0; i < classes; i++) matrix.data[i * dims + (i >> 1)] = i % 2 ? -1 : 1;
    return matrix;
  }
  const rng = createRng(seed).fork('prototypes');
  for (let i = 0; i < classes; i++) {
    const row = matrix.data.subarray(i * dims, (i + 1) * dims);
    rng.fillNormal(row);
    const norm = Math.hypot(...row);
    for (let k = 0; k < dims; k++) row[k]! /= norm;
  }
  return matrix;
}
