import { ErrorCode, HyperprotoError } from './errors.js';
import type { Matrix } from './matrix.js';
import type { Steps } from './prototype-geometry-steps.js';

/**
 * P P^T (C x C) in float64, lower triangle and diagonal filled: summed over blocks of CHUNK columns, so that no
 * float64 copy of the whole matrix is ever held.
 */
export function* rowGramSteps({ rows, cols, data }: Matrix): Steps<Float64Array> {
  const gram = new Float64Array(rows * rows);
  const block = new Float64Array(rows * CHUNK);
  for (let k0 = 0; k0 < cols; k0 += CHUNK) {
    const width = Math.min(cols, k0 + CHUNK) - k0;
    for (let r = 0; r < rows; r++) for (let k = 0; k < width; k++) block[r * width + k] = data[r * cols + k0 + k]!;
    yield* addLowerGram(block, rows, width, gram);
  }
  return gram;
}

/** P^T P (D x D) in float64, lower triangle and diagonal filled: the row Gram matrix of P^T, block of CHUNK rows by block. */
export function* columnGramSteps({ rows, cols, data }: Matrix): Steps<Float64Array> {
  const gram = new Float64Array(cols * cols);
  const block = new Float64Array(cols * CHUNK);
  for (let r0 = 0; r0 < rows; r0 += CHUNK) {
    const height = Math.min(rows, r0 + CHUNK) - r0;
    for (let r = 0; r < height; r++) for (let c = 0; c < cols; c++) block[c * height + r] = data[(r0 + r) * cols + c]!;
    yield* addLowerGram(block, cols, height, gram);
  }
  return gram;
}

/** Adds the dot products of every pair of `rows` rows of `values` (j <= i) to the lower triangle of `gram`. */
function* addLowerGram(values: Float64Array, rows: number, cols: number, gram: Float64Array): Steps<void> {
  const tile = new Float64Array(TILE * TILE);
  for (const [i0, i1, j0, j1] of dotTiles(values, rows, cols, tile)) {
    for (let i = i0; i < i1; i++) {
      const last = Math.min(j1, i + 1);
      for (let j = j0; j < last; j++) gram[i * rows + j]! += tile[(i - i0) * TILE + (j - j0)]!;
    }
    yield;
  }
}

/** Each row's cosine to its nearest other row, exactly, in float64 (rows normalised first; a zero row is an error). */
export function* nearestCosineSteps(matrix: Matrix, source: string): Steps<Float64Array> {
  const { rows, cols } = matrix;
  const unit = Float64Array.from(matrix.data);
  for (let i = 0; i < rows; i++) {
    const norm = Math.sqrt(dot(unit, i * cols, unit, i * cols, cols));
    if (!(norm > 0)) throw zeroRow(source, i);
    for (let k = 0; k < cols; k++) unit[i * cols + k]! /= norm;
  }
  const nearest = new Float64Array(rows).fill(Number.NEGATIVE_INFINITY);
  const tile = new Float64Array(TILE * TILE);
  for (const [i0, i1, j0, j1] of dotTiles(unit, rows, cols, tile)) {
    for (let i = i0; i < i1; i++) {
      const last = Math.min(j1, i);
      for (let j = j0; j < last; j++) {
        const cosine = tile[(i - i0) * TILE + (j - j0)]!;
        if (cosine > nearest[i]!) nearest[i] = cosine;
        if (cosine > nearest[j]!) nearest[j] = cosine;
      }
    }
    yield;
  }
  return nearest;
}

/** Each row's cosine to its nearest other row from the C x C Gram matrix P P^T (lower triangle): G_ij / sqrt(G_ii G_jj). */
export function nearestCosinesFromRowGram(gram: Float64Array, rows: number, source: string): Float64Array {
  const norms = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    norms[i] = Math.sqrt(gram[i * rows + i]!);
    if (!(norms[i]! > 0)) throw zeroRow(source, i);
  }
  const nearest = new Float64Array(rows).fill(Number.NEGATIVE_INFINITY);
  for (let i = 1; i < rows; i++) {
    for (let j = 0; j < i; j++) {
      const cosine = gram[i * rows + j]! / (norms[i]! * norms[j]!);
      if (cosine > nearest[i]!) nearest[i] = cosine;
      if (cosine > nearest[j]!) nearest[j] = cosine;
    }
  }
  return nearest;
}

function zeroRow(source: string, row: number): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidInput, `${source}: row ${row} is zero and has no direction to compare`, {
    hint: 'A prototype is a direction: every row needs a non-zero value.',
  });
}

/** Rows per side of a tile of dot products, and values per chunk of a row: two tiles' chunks stay in cache (and the
 * Gram matrices are summed over blocks of this many values of each row). */
const TILE = 32;
const CHUNK = 512;

/**
 * Fills `tile` with the dot products of a TILE x TILE block of row pairs at a time, for every block on or below the
 * diagonal, and yields the block's row ranges [i0, i1) x [j0, j1): row i0 + a with row j0 + b is at
 * tile[a * TILE + b]. A diagonal block is computed whole, so its users keep only the pairs they need.
 */
function* dotTiles(values: Float64Array, rows: number, cols: number, tile: Float64Array): Generator<[number, number, number, number]> {
  for (let i0 = 0; i0 < rows; i0 += TILE) {
    const i1 = Math.min(rows, i0 + TILE);
    for (let j0 = 0; j0 <= i0; j0 += TILE) {
      const j1 = Math.min(rows, j0 + TILE);
      fillTile(values, cols, tile, i0, i1, j0, j1);
      yield [i0, i1, j0, j1];
    }
  }
}

function fillTile(values: Float64Array, cols: number, tile: Float64Array, i0: number, i1: number, j0: number, j1: number): void {
  tile.fill(0);
  for (let k0 = 0; k0 < cols; k0 += CHUNK) {
    const k1 = Math.min(cols, k0 + CHUNK);
    let i = i0;
    // Four rows against each row j: every value of row j is loaded once for four products.
    for (; i + 3 < i1; i += 4) {
      const [a0, a1, a2, a3] = [i * cols, (i + 1) * cols, (i + 2) * cols, (i + 3) * cols];
      const at = (i - i0) * TILE - j0;
      for (let j = j0; j < j1; j++) {
        const b = j * cols;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let k = k0; k < k1; k++) {
          const y = values[b + k]!;
          s0 += values[a0 + k]! * y;
          s1 += values[a1 + k]! * y;
          s2 += values[a2 + k]! * y;
          s3 += values[a3 + k]! * y;
        }
        tile[at + j]! += s0;
        tile[at + TILE + j]! += s1;
        tile[at + 2 * TILE + j]! += s2;
        tile[at + 3 * TILE + j]! += s3;
      }
    }
    for (; i < i1; i++) {
      const at = (i - i0) * TILE - j0;
      for (let j = j0; j < j1; j++) tile[at + j]! += dot(values, i * cols + k0, values, j * cols + k0, k1 - k0);
    }
  }
}

function dot(x: Float64Array, xStart: number, y: Float64Array, yStart: number, length: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < length; k += 4) {
    s0 += x[xStart + k]! * y[yStart + k]!;
    s1 += x[xStart + k + 1]! * y[yStart + k + 1]!;
    s2 += x[xStart + k + 2]! * y[yStart + k + 2]!;
    s3 += x[xStart + k + 3]! * y[yStart + k + 3]!;
  }
  for (; k < length; k++) s0 += x[xStart + k]! * y[yStart + k]!;
  return s0 + s1 + s2 + s3;
}
