import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { createMatrix, ErrorCode, HyperprotoError, type Matrix, type Rng } from '@hyperproto/core';

// Ctrl-C aborts the signal from an event-loop callback, so the O(C^2 D) loop hands the loop back this often.
const SLICE_MS = 50;

/**
 * `classes` orthonormal rows in `dims` >= `classes` dimensions, uniformly distributed (Haar): the Q factor of a
 * Gaussian matrix with a positive-diagonal R, from modified Gram-Schmidt over the rows in double precision.
 * A Gaussian square matrix's condition number grows like its size, so one pass leaves an orthogonality error
 * near 1e-13, far below float32's rounding. O(C^2 D); stops with E_ABORTED soon after `signal` is aborted.
 */
export async function randomOrthonormalRows(rng: Rng, classes: number, dims: number, signal?: AbortSignal): Promise<Matrix> {
  const rows = new Float64Array(classes * dims);
  let sliceStart = performance.now();
  const pace = async () => {
    if (performance.now() - sliceStart < SLICE_MS) return;
    await nextMacrotask();
    sliceStart = performance.now();
    if (signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, 'interrupted while making orthogonal prototypes');
  };
  for (let i = 0; i < rows.length; i++) {
    rows[i] = rng.normal();
    if (i % 65536 === 0) await pace();
  }
  for (let i = 0; i < classes; i++) {
    const row = rows.subarray(i * dims, (i + 1) * dims);
    for (let j = 0; j < i; j++) {
      if (j % 64 === 0) await pace();
      const done = rows.subarray(j * dims, (j + 1) * dims);
      let projection = 0;
      for (let k = 0; k < dims; k++) projection += row[k]! * done[k]!;
      for (let k = 0; k < dims; k++) row[k]! -= projection * done[k]!;
    }
    let norm = 0;
    for (let k = 0; k < dims; k++) norm += row[k]! * row[k]!;
    // A Gaussian row lies in the span of the previous ones with probability 0; redraw in that case.
    if (!(norm > 1e-20)) {
      for (let k = 0; k < dims; k++) row[k] = rng.normal();
      i--;
      continue;
    }
    const scale = 1 / Math.sqrt(norm);
    for (let k = 0; k < dims; k++) row[k]! *= scale;
  }
  return createMatrix(classes, dims, Float32Array.from(rows));
}

/** The first `classes` axes: e_0, e_1, ... (no rotation). */
export function axisRows(classes: number, dims: number): Matrix {
  const matrix = createMatrix(classes, dims);
  for (let i = 0; i < classes; i++) matrix.data[i * dims + i] = 1;
  return matrix;
}
