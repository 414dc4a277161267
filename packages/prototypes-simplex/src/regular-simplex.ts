import { createMatrix, type Matrix, type Rng } from '@hyperproto/core';

/**
 * The C vertices of a regular simplex centred at the origin, as unit rows in `dims` >= C - 1 dimensions: every
 * pair at cosine -1/(C-1), the smallest possible largest cosine for C points.
 *
 * Closed form: the centred one-hot vectors e_i - 1/C are written in the Helmert basis of the subspace orthogonal
 * to (1, ..., 1), whose k-th vector (k = 1 .. C-1) is (1, ..., 1, -k, 0, ...)/sqrt(k (k + 1)) with k ones. Vertex
 * i has coordinate k equal to 1/sqrt(k (k + 1)) for k > i, -k/sqrt(k (k + 1)) for k = i, and 0 for k < i, all
 * scaled by sqrt(C / (C - 1)) to unit length. O(C D).
 */
export function regularSimplexRows(classes: number, dims: number): Matrix {
  const matrix = createMatrix(classes, dims);
  const scale = Math.sqrt(classes / (classes - 1));
  for (let k = 1; k < classes; k++) {
    const norm = Math.sqrt(k * (k + 1));
    const column = k - 1;
    for (let i = 0; i < k; i++) matrix.data[i * dims + column] = scale / norm;
    matrix.data[k * dims + column] = (-k * scale) / norm;
  }
  return matrix;
}

/**
 * Moves the coordinates to random places with random signs: a rotation that float arithmetic performs exactly,
 * so every cosine stays what it was, while no class is tied to the first axes.
 */
export function shuffleSignedAxes(matrix: Matrix, rng: Rng): Matrix {
  const { rows, cols, data } = matrix;
  const order = rng.shuffle(Array.from({ length: cols }, (_, k) => k));
  const signs = Array.from({ length: cols }, () => (rng.float() < 0.5 ? -1 : 1));
  const moved = createMatrix(rows, cols);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < cols; k++) moved.data[i * cols + order[k]!] = signs[k]! * data[i * cols + k]!;
  }
  return moved;
}
