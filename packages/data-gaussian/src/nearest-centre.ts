import { ErrorCode, HyperprotoError, type Matrix } from '@hyperproto/core';

export interface NearestCentreOptions {
  /** Called after each block of centres with the number of centres done so far. */
  readonly progress?: (done: number, total: number) => void;
  /** Checked between blocks; an aborted signal stops the work with E_ABORTED. */
  readonly signal?: AbortSignal;
}

// A block of centres small enough to stay in L2 cache while every row streams past it
// (64 centres x 300 dims x 4 bytes = 75 KB). Must be a multiple of 4: the kernel works on 4 centres at a time.
const CENTRE_BLOCK = 64;

/**
 * Index of the nearest centre (Euclidean) for every row of `features`; ties go to the lower index.
 *
 * For equal isotropic Gaussians with equal priors this is the Bayes-optimal classifier. It ranks centres by
 * ||c||^2 - 2 x.c (||x||^2 is the same for every centre), computing the dot products four rows by four centres at
 * a time so that each loaded value is used four times.
 */
export function nearestCentre(features: Matrix, centres: Matrix, options: NearestCentreOptions = {}): Int32Array {
  if (features.cols !== centres.cols) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `features have ${features.cols} columns but centres have ${centres.cols}; both must have the input width`,
    );
  }
  if (centres.rows < 1) throw new HyperprotoError(ErrorCode.InvalidInput, 'nearestCentre needs at least one centre');
  const n = features.rows;
  const c = centres.rows;
  const d = features.cols;
  const x = features.data;
  const m = centres.data;

  const centreNorms = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    let sum = 0;
    for (let k = j * d, end = k + d; k < end; k++) sum += m[k]! * m[k]!;
    centreNorms[j] = sum;
  }
  const best = new Float64Array(n).fill(Infinity);
  const nearest = new Int32Array(n);
  const fullRows = n - (n % 4);

  for (let c0 = 0; c0 < c; c0 += CENTRE_BLOCK) {
    if (options.signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, 'interrupted while computing nearest centres');
    const c1 = Math.min(c, c0 + CENTRE_BLOCK);
    const fullCentres = c0 + (c1 - c0 - ((c1 - c0) % 4));

    for (let r = 0; r < fullRows; r += 4) {
      const x0 = r * d;
      const x1 = x0 + d;
      const x2 = x1 + d;
      const x3 = x2 + d;
      for (let j = c0; j < fullCentres; j += 4) {
        const m0 = j * d;
        const m1 = m0 + d;
        const m2 = m1 + d;
        const m3 = m2 + d;
        let s00 = 0,
          s01 = 0,
          s02 = 0,
          s03 = 0;
        let s10 = 0,
          s11 = 0,
          s12 = 0,
          s13 = 0;
        let s20 = 0,
          s21 = 0,
          s22 = 0,
          s23 = 0;
        let s30 = 0,
          s31 = 0,
          s32 = 0,
          s33 = 0;
        for (let k = 0; k < d; k++) {
          const a0 = x[x0 + k]!,
            a1 = x[x1 + k]!,
            a2 = x[x2 + k]!,
            a3 = x[x3 + k]!;
          const b0 = m[m0 + k]!,
            b1 = m[m1 + k]!,
            b2 = m[m2 + k]!,
            b3 = m[m3 + k]!;
          s00 += a0 * b0;
          s01 += a0 * b1;
          s02 += a0 * b2;
          s03 += a0 * b3;
          s10 += a1 * b0;
          s11 += a1 * b1;
          s12 += a1 * b2;
          s13 += a1 * b3;
          s20 += a2 * b0;
          s21 += a2 * b1;
          s22 += a2 * b2;
          s23 += a2 * b3;
          s30 += a3 * b0;
          s31 += a3 * b1;
          s32 += a3 * b2;
          s33 += a3 * b3;
        }
        const n0 = centreNorms[j]!,
          n1 = centreNorms[j + 1]!,
          n2 = centreNorms[j + 2]!,
          n3 = centreNorms[j + 3]!;
        consider(best, nearest, r, j, n0 - 2 * s00, n1 - 2 * s01, n2 - 2 * s02, n3 - 2 * s03);
        consider(best, nearest, r + 1, j, n0 - 2 * s10, n1 - 2 * s11, n2 - 2 * s12, n3 - 2 * s13);
        consider(best, nearest, r + 2, j, n0 - 2 * s20, n1 - 2 * s21, n2 - 2 * s22, n3 - 2 * s23);
        consider(best, nearest, r + 3, j, n0 - 2 * s30, n1 - 2 * s31, n2 - 2 * s32, n3 - 2 * s33);
      }
      for (let j = fullCentres; j < c1; j++) {
        for (let i = r; i < r + 4; i++) considerOne(best, nearest, i, j, centreNorms[j]! - 2 * dot(x, i * d, m, j * d, d));
      }
    }
    for (let i = fullRows; i < n; i++) {
      for (let j = c0; j < c1; j++) considerOne(best, nearest, i, j, centreNorms[j]! - 2 * dot(x, i * d, m, j * d, d));
    }
    options.progress?.(c1, c);
  }
  return nearest;
}

// Centres are visited in increasing index order and only a strictly smaller distance wins, so ties keep the lower index.
function consider(best: Float64Array, nearest: Int32Array, row: number, j: number, d0: number, d1: number, d2: number, d3: number): void {
  let value = best[row]!;
  let index = -1;
  if (d0 < value) {
    value = d0;
    index = j;
  }
  if (d1 < value) {
    value = d1;
    index = j + 1;
  }
  if (d2 < value) {
    value = d2;
    index = j + 2;
  }
  if (d3 < value) {
    value = d3;
    index = j + 3;
  }
  if (index >= 0) {
    best[row] = value;
    nearest[row] = index;
  }
}

function considerOne(best: Float64Array, nearest: Int32Array, row: number, j: number, distance: number): void {
  if (distance < best[row]!) {
    best[row] = distance;
    nearest[row] = j;
  }
}

function dot(a: Float32Array, aStart: number, b: Float32Array, bStart: number, length: number): number {
  let sum = 0;
  for (let k = 0; k < length; k++) sum += a[aStart + k]! * b[bStart + k]!;
  return sum;
}
