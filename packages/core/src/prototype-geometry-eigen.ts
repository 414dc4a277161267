import { ErrorCode, HyperprotoError } from './errors.js';
import { finishSteps, type Steps } from './prototype-geometry-steps.js';

/**
 * Eigenvalues of the symmetric n x n matrix whose lower triangle `a` holds (destroyed), in no particular order:
 * Householder reduction to tridiagonal form, then the implicit QL iteration (as EISPACK's tql1). O(n^3), no
 * eigenvectors.
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  return finishSteps(symmetricEigenvalueSteps(a, n));
}

/** {@link symmetricEigenvalues} as steps (one per Householder reflection) that a caller may interleave with other work. */
export function* symmetricEigenvalueSteps(a: Float64Array, n: number): Steps<Float64Array> {
  if (a.length < n * n) throw new HyperprotoError(ErrorCode.Internal, `a ${n} x ${n} matrix needs ${n * n} values, got ${a.length}`);
  const diagonal = new Float64Array(n);
  const off = new Float64Array(n);
  if (n === 0) return diagonal;
  yield* tridiagonalize(a, n, diagonal, off);
  tridiagonalEigenvalues(diagonal, off);
  return diagonal;
}

/**
 * Householder reduction of the lower triangle of `a` in place; `off[k]` is the entry between k and k + 1 and
 * `off[n - 1]` = 0. Step k's rank-2 update of the trailing block is applied in the same pass that multiplies the
 * block by step k + 1's Householder vector, so the O(n^2) block is read once per step, not twice.
 */
function* tridiagonalize(a: Float64Array, n: number, diagonal: Float64Array, off: Float64Array): Generator<void, void> {
  // The update B <- B - u w^T - w u^T still owed to the trailing block, by absolute index.
  const u = new Float64Array(n);
  const w = new Float64Array(n);
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const uk = u[k]!;
    const wk = w[k]!;
    for (let i = k; i < n; i++) a[i * n + k]! -= u[i]! * wk + w[i]! * uk;
    diagonal[k] = a[k * n + k]!;
    // x: column k below the diagonal; H = I - beta v v^T maps it to (alpha, 0, ...).
    const first = k + 1;
    const x0 = a[first * n + k]!;
    let tail = 0;
    for (let i = first + 1; i < n; i++) tail += a[i * n + k]! ** 2;
    let beta = 0;
    if (tail === 0) {
      off[k] = x0;
      v.fill(0, first);
    } else {
      const norm = Math.sqrt(x0 * x0 + tail);
      const alpha = x0 > 0 ? -norm : norm;
      off[k] = alpha;
      v[first] = x0 - alpha;
      for (let i = first + 1; i < n; i++) v[i] = a[i * n + k]!;
      beta = 2 / (v[first]! * v[first]! + tail);
    }
    // One pass over the trailing block: pay the owed update, then p = B v.
    p.fill(0, first);
    updateAndMultiply(a, n, first, u, w, v, p);
    // w = beta B v - (beta^2 / 2)(v^T B v) v: the next update owed is B <- B - v w^T - w v^T.
    let pv = 0;
    for (let i = first; i < n; i++) {
      p[i]! *= beta;
      pv += p[i]! * v[i]!;
    }
    const half = (beta / 2) * pv;
    for (let i = first; i < n; i++) {
      w[i] = p[i]! - half * v[i]!;
      u[i] = v[i]!;
    }
    yield;
  }
  const k = Math.max(0, n - 2);
  for (let i = k; i < n; i++) {
    for (let j = k; j <= i; j++) a[i * n + j]! -= u[i]! * w[j]! + w[i]! * u[j]!;
  }
  if (n >= 2) {
    diagonal[n - 2] = a[(n - 2) * n + n - 2]!;
    off[n - 2] = a[(n - 1) * n + n - 2]!;
  }
  diagonal[n - 1] = a[(n - 1) * n + n - 1]!;
  off[n - 1] = 0;
}

/**
 * For the lower triangle of the block B = a[first.., first..]: B <- B - u w^T - w u^T, and p += B v with the
 * updated B (symmetric: each stored value counts for (i, j) and (j, i)). Four rows at a time, so that the values
 * of u, w, v and p at column j are loaded once for four rows.
 */
function updateAndMultiply(
  a: Float64Array,
  n: number,
  first: number,
  u: Float64Array,
  w: Float64Array,
  v: Float64Array,
  p: Float64Array,
): void {
  let i = first;
  for (; i + 3 < n; i += 4) {
    const [r0, r1, r2, r3] = [i * n, (i + 1) * n, (i + 2) * n, (i + 3) * n];
    const [u0, u1, u2, u3] = [u[i]!, u[i + 1]!, u[i + 2]!, u[i + 3]!];
    const [w0, w1, w2, w3] = [w[i]!, w[i + 1]!, w[i + 2]!, w[i + 3]!];
    const [v0, v1, v2, v3] = [v[i]!, v[i + 1]!, v[i + 2]!, v[i + 3]!];
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = first; j < i; j++) {
      const uj = u[j]!;
      const wj = w[j]!;
      const vj = v[j]!;
      const x0 = a[r0 + j]! - u0 * wj - w0 * uj;
      const x1 = a[r1 + j]! - u1 * wj - w1 * uj;
      const x2 = a[r2 + j]! - u2 * wj - w2 * uj;
      const x3 = a[r3 + j]! - u3 * wj - w3 * uj;
      a[r0 + j] = x0;
      a[r1 + j] = x1;
      a[r2 + j] = x2;
      a[r3 + j] = x3;
      s0 += x0 * vj;
      s1 += x1 * vj;
      s2 += x2 * vj;
      s3 += x3 * vj;
      p[j]! += x0 * v0 + x1 * v1 + x2 * v2 + x3 * v3;
    }
    p[i]! += s0;
    p[i + 1]! += s1;
    p[i + 2]! += s2;
    p[i + 3]! += s3;
    // The four rows' own small triangle, columns i .. i + 3.
    for (let r = i; r < i + 4; r++) updateRow(a, n, i, r, u, w, v, p);
  }
  for (; i < n; i++) updateRow(a, n, first, i, u, w, v, p);
}

/** One row r of {@link updateAndMultiply}, columns from .. r. */
function updateRow(
  a: Float64Array,
  n: number,
  from: number,
  r: number,
  u: Float64Array,
  w: Float64Array,
  v: Float64Array,
  p: Float64Array,
) {
  const row = r * n;
  const ur = u[r]!;
  const wr = w[r]!;
  const vr = v[r]!;
  let sum = 0;
  for (let j = from; j < r; j++) {
    const value = a[row + j]! - ur * w[j]! - wr * u[j]!;
    a[row + j] = value;
    sum += value * v[j]!;
    p[j]! += value * vr;
  }
  const value = a[row + r]! - 2 * ur * wr;
  a[row + r] = value;
  p[r]! += sum + value * vr;
}

/** Implicit QL on a symmetric tridiagonal matrix: its eigenvalues replace `diagonal`; `off` is destroyed. */
function tridiagonalEigenvalues(diagonal: Float64Array, off: Float64Array): void {
  const n = diagonal.length;
  for (let l = 0; l < n; l++) {
    let iterations = 0;
    let m: number;
    for (;;) {
      for (m = l; m < n - 1; m++) {
        const scale = Math.abs(diagonal[m]!) + Math.abs(diagonal[m + 1]!);
        if (Math.abs(off[m]!) <= Number.EPSILON * scale) break;
      }
      if (m === l) break;
      if (iterations++ === 60) {
        throw new HyperprotoError(ErrorCode.Internal, `the eigenvalue iteration did not converge at row ${l} of ${n}`);
      }
      let g = (diagonal[l + 1]! - diagonal[l]!) / (2 * off[l]!);
      let r = Math.hypot(g, 1);
      g = diagonal[m]! - diagonal[l]! + off[l]! / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i: number;
      let deflated = false;
      for (i = m - 1; i >= l; i--) {
        const f = s * off[i]!;
        const b = c * off[i]!;
        r = Math.hypot(f, g);
        off[i + 1] = r;
        if (r === 0) {
          // An underflow split the matrix: go on with the smaller problem.
          diagonal[i + 1]! -= p;
          off[m] = 0;
          deflated = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = diagonal[i + 1]! - p;
        r = (diagonal[i]! - g) * s + 2 * c * b;
        p = s * r;
        diagonal[i + 1] = g + p;
        g = c * r - b;
      }
      if (deflated) continue;
      diagonal[l]! -= p;
      off[l] = g;
      off[m] = 0;
    }
  }
}
