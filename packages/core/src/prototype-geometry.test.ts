import { describe, expect, it } from 'vitest';
import { ErrorCode } from './errors.js';
import { createMatrix, type Matrix } from './matrix.js';
import {
  effectiveRank,
  nearestCosines,
  prototypeGeometry,
  prototypeGeometryAsync,
  singularValues,
  symmetricEigenvalues,
} from './prototype-geometry.js';
import { createRng } from './rng.js';

const matrix = (rows: number[][]): Matrix => createMatrix(rows.length, rows[0]!.length, Float32Array.from(rows.flat()));

function gaussian(rows: number, cols: number, seed: number, unit = true): Matrix {
  const rng = createRng(seed);
  const m = createMatrix(rows, cols);
  for (let i = 0; i < rows; i++) {
    let norm = 0;
    for (let k = 0; k < cols; k++) {
      m.data[i * cols + k] = rng.normal();
      norm += m.data[i * cols + k]! ** 2;
    }
    if (unit) for (let k = 0; k < cols; k++) m.data[i * cols + k]! /= Math.sqrt(norm);
  }
  return m;
}

/** Rows of a product of Householder reflections of random vectors: an orthogonal n x n matrix (or its first rows). */
function orthogonalRows(rows: number, n: number, seed: number): Matrix {
  const rng = createRng(seed);
  let q: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let r = 0; r < 3; r++) {
    const v = Array.from({ length: n }, () => rng.normal());
    const vv = v.reduce((s, x) => s + x * x, 0);
    q = q.map((row) => {
      const rv = row.reduce((s, x, k) => s + x * v[k]!, 0);
      return row.map((x, k) => x - (2 * rv * v[k]!) / vv);
    });
  }
  return matrix(q.slice(0, rows));
}

/** C unit vectors with every pairwise cosine -1/(C-1), in C-1 coordinates: e_i minus the centroid, rotated so
 * that the all-ones direction becomes the last axis (which every row then has 0 on), that axis dropped. */
function simplex(classes: number): Matrix {
  const ones = Array.from({ length: classes }, () => 1 / Math.sqrt(classes));
  const v = ones.map((x, k) => x - (k === classes - 1 ? 1 : 0));
  const vv = v.reduce((s, x) => s + x * x, 0);
  const rows = Array.from({ length: classes }, (_, i) => {
    const centred = Array.from({ length: classes }, (_, k) => (k === i ? 1 : 0) - 1 / classes);
    const cv = centred.reduce((s, x, k) => s + x * v[k]!, 0);
    const rotated = centred.map((x, k) => x - (2 * cv * v[k]!) / vv);
    expect(Math.abs(rotated[classes - 1]!)).toBeLessThan(1e-12);
    const kept = rotated.slice(0, classes - 1);
    const norm = Math.sqrt(kept.reduce((s, x) => s + x * x, 0));
    return kept.map((x) => x / norm);
  });
  return matrix(rows);
}

/** Gram matrix of the columns, full, in float64 (for the checks, written independently of the module's). */
function columnGram(m: Matrix): number[][] {
  const g = Array.from({ length: m.cols }, () => new Array<number>(m.cols).fill(0));
  for (let r = 0; r < m.rows; r++)
    for (let i = 0; i < m.cols; i++) for (let j = 0; j < m.cols; j++) g[i]![j]! += m.data[r * m.cols + i]! * m.data[r * m.cols + j]!;
  return g;
}

/** Largest eigenvalue of a symmetric positive semi-definite matrix by power iteration. */
function powerIteration(g: number[][], iterations = 3000): number {
  let x = g.map((_, i) => 1 + i / g.length);
  let value = 0;
  for (let t = 0; t < iterations; t++) {
    const y = g.map((row) => row.reduce((s, a, j) => s + a * x[j]!, 0));
    value = Math.sqrt(y.reduce((s, a) => s + a * a, 0));
    x = y.map((a) => a / value);
  }
  return value;
}

const toRows = (m: Matrix): number[][] =>
  Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols), Number));

/** Gram matrix of the rows, full, in float64. */
const rowGram = (m: Matrix): number[][] => toRows(m).map((a, _, all) => all.map((b) => a.reduce((s, x, k) => s + x * b[k]!, 0)));

/** log |det| of a square matrix by Gaussian elimination with partial pivoting. */
function logAbsDeterminant(square: readonly number[][]): number {
  const a = square.map((row) => [...row]);
  let sum = 0;
  for (let k = 0; k < a.length; k++) {
    let pivot = k;
    for (let i = k + 1; i < a.length; i++) if (Math.abs(a[i]![k]!) > Math.abs(a[pivot]![k]!)) pivot = i;
    [a[k], a[pivot]] = [a[pivot]!, a[k]!];
    sum += Math.log(Math.abs(a[k]![k]!));
    for (let i = k + 1; i < a.length; i++) {
      const f = a[i]![k]! / a[k]![k]!;
      for (let j = k; j < a.length; j++) a[i]![j]! -= f * a[k]![j]!;
    }
  }
  return sum;
}

/** Each row's cosine to its nearest other row by comparing every ordered pair, in float64. */
function bruteNearest(m: Matrix): number[] {
  const rows = toRows(m);
  const norms = rows.map((x) => Math.sqrt(x.reduce((s, a) => s + a * a, 0)));
  return rows.map((a, i) => {
    let best = -Infinity;
    rows.forEach((b, j) => {
      if (j !== i) best = Math.max(best, a.reduce((s, x, k) => s + x * b[k]!, 0) / (norms[i]! * norms[j]!));
    });
    return best;
  });
}

describe('prototypeGeometry', () => {
  it('measures an identity: singular values 1, effective rank D, condition 1, nearest cosines 0', () => {
    const g = prototypeGeometry(matrix([0, 1, 2, 3, 4].map((i) => [0, 1, 2, 3, 4].map((j) => (i === j ? 1 : 0)))));
    expect(g).toMatchObject({ classes: 5, dims: 5, largestNearestCosine: 0, meanNearestCosine: 0, notes: [] });
    expect(g.largestSingularValue).toBeCloseTo(1, 12);
    expect(g.smallestSingularValue).toBeCloseTo(1, 12);
    expect(g.effectiveRank).toBeCloseTo(5, 10);
    expect(g.condition).toBeCloseTo(1, 10);
  });

  it('measures orthonormal rows, square and fewer than the dimensions, like the identity', () => {
    for (const [rows, n] of [
      [9, 9],
      [6, 11],
    ] as const) {
      const g = prototypeGeometry(orthogonalRows(rows, n, rows));
      expect(g.largestSingularValue).toBeCloseTo(1, 6);
      expect(g.smallestSingularValue).toBeCloseTo(1, 6);
      expect(g.effectiveRank).toBeCloseTo(rows, 5);
      expect(g.condition).toBeCloseTo(1, 5);
      expect(Math.abs(g.largestNearestCosine!)).toBeLessThan(1e-6);
    }
  });

  it('gives a rank-one matrix effective rank 1, smallest singular value 0 and an infinite condition, with a note', () => {
    const u = [0.6, 0, -0.8, 0, 0, 0];
    const g = prototypeGeometry(matrix([u, u, u, u]));
    expect(g.effectiveRank).toBeCloseTo(1, 9);
    expect(g.largestSingularValue).toBeCloseTo(2, 6);
    expect(g.smallestSingularValue).toBe(0);
    expect(g.condition).toBeNull();
    expect(g.notes).toEqual([expect.stringMatching(/condition infinite: the rows span 1 of 4 dimensions/)]);
    expect(g.largestNearestCosine).toBeCloseTo(1, 6);
  });

  it('measures a regular simplex of 5 points in 4 dimensions: every nearest cosine -1/4, singular values sqrt(5/4)', () => {
    const g = prototypeGeometry(simplex(5));
    expect(g.largestNearestCosine).toBeCloseTo(-0.25, 6);
    expect(g.meanNearestCosine).toBeCloseTo(-0.25, 6);
    expect(g.largestSingularValue).toBeCloseTo(1.118034, 6);
    expect(g.smallestSingularValue).toBeCloseTo(1.118034, 6);
    expect(g.effectiveRank).toBeCloseTo(4, 6);
    expect(g.condition).toBeCloseTo(1, 6);
  });

  it('finds the singular values of a small matrix known by hand: [[3, 0], [4, 5]] has 3 sqrt(5) and sqrt(5)', () => {
    const g = prototypeGeometry(
      matrix([
        [3, 0],
        [4, 5],
      ]),
    );
    expect(g.largestSingularValue).toBeCloseTo(6.708203932, 8);
    expect(g.smallestSingularValue).toBeCloseTo(2.236067977, 8);
    expect(g.condition).toBeCloseTo(3, 8);
    // p = (3/4, 1/4): exp(-(3/4) log(3/4) - (1/4) log(1/4)).
    expect(g.effectiveRank).toBeCloseTo(1.7547653506, 9);
    // (3, 0) . (4, 5) / (3 sqrt(41)) = 4 / sqrt(41).
    expect(g.largestNearestCosine).toBeCloseTo(0.624695, 6);
  });

  it('reads a diagonal Gram matrix (already tridiagonal) correctly', () => {
    expect(
      Array.from(
        singularValues(
          matrix([
            [0, 0, 1],
            [0, 2, 0],
            [3, 0, 0],
            [0, 0, 0],
          ]),
        ),
      ),
    ).toEqual([3, 2, 1]);
  });

  it('agrees with independent computations on random matrices of both shapes', () => {
    for (const [rows, cols, seed] of [
      [70, 23, 1],
      [23, 70, 2],
      [41, 41, 3],
      // Rows longer than the chunk of 512 values, and more rows than one block of the column Gram matrix.
      [37, 600, 4],
      [600, 30, 5],
    ] as const) {
      const m = gaussian(rows, cols, seed, false);
      const s = Array.from(singularValues(m));
      expect(s).toHaveLength(Math.min(rows, cols));
      expect(s).toEqual([...s].sort((a, b) => b - a));
      // sum s^2 = ||P||_F^2, sum s^4 = ||G||_F^2, largest s^2 = G's largest eigenvalue, prod s^2 = det G, for the
      // smaller Gram matrix G (P^T P or P P^T: the same non-zero eigenvalues).
      const gram = rows >= cols ? columnGram(m) : rowGram(m);
      const frobenius2 = Array.from(m.data).reduce((sum, x) => sum + x * x, 0);
      const gramFrobenius2 = gram.flat().reduce((sum, x) => sum + x * x, 0);
      expect(s.reduce((sum, x) => sum + x ** 2, 0) / frobenius2).toBeCloseTo(1, 10);
      expect(s.reduce((sum, x) => sum + x ** 4, 0) / gramFrobenius2).toBeCloseTo(1, 10);
      expect(s[0]! ** 2 / powerIteration(gram)).toBeCloseTo(1, 8);
      expect(s.reduce((sum, x) => sum + 2 * Math.log(x), 0)).toBeCloseTo(logAbsDeterminant(gram), 8);
      if (rows === cols) expect(s.reduce((sum, x) => sum + Math.log(x), 0)).toBeCloseTo(logAbsDeterminant(toRows(m)), 8);
      const g = prototypeGeometry(m);
      expect(g.largestSingularValue).toBe(s[0]);
      expect(g.smallestSingularValue).toBe(s[s.length - 1]);
      const brute = bruteNearest(m);
      expect(g.largestNearestCosine).toBeCloseTo(Math.max(...brute), 10);
      expect(g.meanNearestCosine).toBeCloseTo(brute.reduce((a, b) => a + b, 0) / rows, 10);
    }
  });

  it('uses nearest-neighbour measures handed in, and skips a part over the work limit with a note', () => {
    const m = gaussian(30, 8, 4);
    const given = prototypeGeometry(m, { nearest: { largest: 0.5, mean: 0.25 } });
    expect([given.largestNearestCosine, given.meanNearestCosine]).toEqual([0.5, 0.25]);
    const skipped = prototypeGeometry(m, { workLimit: 1000 });
    expect(skipped).toMatchObject({
      largestNearestCosine: null,
      meanNearestCosine: null,
      largestSingularValue: null,
      smallestSingularValue: null,
      effectiveRank: null,
      condition: null,
    });
    // 30 x 8: the 8 x 8 Gram matrix (1,080) and its eigenvalues (341); 435 pairs of 8 values.
    expect(skipped.notes).toEqual([
      'singular values skipped: it would take 1.4e+3 multiply-adds, over the limit of 1.0e+3 for the 8 x 8 Gram matrix of 30 x 8 prototypes',
      'nearest-neighbour cosines skipped: it would take 3.5e+3 multiply-adds, over the limit of 1.0e+3 to compare all pairs of 30 prototypes',
    ]);
    const spectrumOnly = prototypeGeometry(m, { workLimit: 2000 });
    expect(spectrumOnly.notes).toEqual([expect.stringMatching(/^nearest-neighbour cosines skipped/)]);
    expect(spectrumOnly.effectiveRank).toBeGreaterThan(1);
  });

  it('refuses what has no geometry: one row, a non-finite value, a zero row', () => {
    expect(() => prototypeGeometry(matrix([[1, 0]]), { source: 'p.npy' })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/^p\.npy: 1 x 2/) }),
    );
    expect(() =>
      prototypeGeometry(
        matrix([
          [1, 0],
          [0, Number.NaN],
        ]),
        { source: 'p.npy' },
      ),
    ).toThrow(expect.objectContaining({ code: ErrorCode.InvalidInput, message: 'p.npy has a non-finite value at row 1, column 1' }));
    for (const rows of [
      [
        [1, 0, 0],
        [0, 0, 0],
      ],
      [
        [1, 0],
        [0, 1],
        [0, 0],
      ],
    ])
      expect(() => prototypeGeometry(matrix(rows), { source: 'p.npy' })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/^p\.npy: row \d is zero/) }),
      );
  });
});

describe('prototypeGeometryAsync', () => {
  it('gives the same figures as the synchronous call', async () => {
    const m = gaussian(50, 20, 6);
    expect(await prototypeGeometryAsync(m)).toEqual(prototypeGeometry(m));
  });

  it('hears an abort while it works (the event loop gets turns) and rejects with E_ABORTED', async () => {
    await expect(prototypeGeometryAsync(gaussian(5, 5, 7), { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
    // About 6e8 multiply-adds: far longer than the 50 ms between turns, so a timer set now fires before the end.
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 0);
    await expect(prototypeGeometryAsync(gaussian(800, 800, 8), { signal: controller.signal })).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
  });
});

describe('the pieces', () => {
  it('symmetricEigenvalues: the second-difference matrix of size 12 has eigenvalues 2 - 2 cos(k pi / 13)', () => {
    const n = 12;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      a[i * n + i] = 2;
      if (i > 0) a[i * n + i - 1] = -1;
    }
    const values = Array.from(symmetricEigenvalues(a, n)).sort((x, y) => x - y);
    // cos(pi/13), cos(6 pi/13) and cos(12 pi/13), from tables: the smallest, a middle and the largest eigenvalue.
    expect(values[0]).toBeCloseTo(2 - 2 * 0.970941817426052, 12);
    expect(values[5]).toBeCloseTo(2 - 2 * 0.120536680255323, 12);
    expect(values[11]).toBeCloseTo(2 + 2 * 0.970941817426052, 12);
  });

  it('effectiveRank: 1 for one value, n for n equal values, zeros ignored, 0 for none', () => {
    expect(effectiveRank([4])).toBe(1);
    expect(effectiveRank([2, 2, 2, 2, 2, 2, 2])).toBeCloseTo(7, 12);
    expect(effectiveRank([3, 0, 1, 0])).toBeCloseTo(1.7547653506, 9);
    expect(effectiveRank([0, 0])).toBe(0);
  });

  it('nearestCosines: each row to its nearest other row', () => {
    const m = matrix([
      [1, 0],
      [0.6, 0.8],
      [-1, 0],
      [0, 2],
    ]);
    const got = Array.from(nearestCosines(m));
    for (const [i, want] of [0.6, 0.8, 0, 0.8].entries()) expect(got[i]).toBeCloseTo(want, 6);
  });
});
