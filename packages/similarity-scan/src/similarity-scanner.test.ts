import { createMatrix, createRng, ErrorCode, type Matrix } from '@hyperproto/core';
import { afterAll, describe, expect, it } from 'vitest';
import { cosineBounds, SimilarityScanner } from './index.js';

function gaussianMatrix(seed: number, rows: number, cols: number, scale = 1): Matrix {
  const data = createRng(seed).fillNormal(new Float32Array(rows * cols), 0, scale);
  return createMatrix(rows, cols, data);
}

/** Every pair's cosine in double precision, the reference the scan must match. */
function bruteForce(matrix: Matrix) {
  const { rows, cols, data } = matrix;
  const cos = (i: number, j: number) => {
    let dot = 0,
      ni = 0,
      nj = 0;
    for (let k = 0; k < cols; k++) {
      dot += data[i * cols + k]! * data[j * cols + k]!;
      ni += data[i * cols + k]! ** 2;
      nj += data[j * cols + k]! ** 2;
    }
    return dot / Math.sqrt(ni * nj);
  };
  const all: number[][] = Array.from({ length: rows }, () => new Array<number>(rows).fill(-Infinity));
  let largest = -Infinity,
    largestAbs = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = i + 1; j < rows; j++) {
      const c = cos(i, j);
      all[i]![j] = all[j]![i] = c;
      largest = Math.max(largest, c);
      largestAbs = Math.max(largestAbs, Math.abs(c));
    }
  }
  const nearest = all.map((row) => Math.max(...row));
  return { all, largest, largestAbs, nearest };
}

/** Row r's k most similar other rows by the brute-force cosines, most similar first, as [cosine, row]. */
function nearestOf(reference: ReturnType<typeof bruteForce>, r: number, k: number): (readonly [number, number])[] {
  return reference.all[r]!.map((c, j) => [c, j] as const)
    .sort((x, y) => y[0] - x[0])
    .slice(0, k);
}

const scanner = new SimilarityScanner({ tileRows: 7, stripeElements: 5 * 23 });
afterAll(() => scanner.release());

describe('SimilarityScanner.summarize', () => {
  // 23 rows in tiles of 7: diagonal, off-diagonal and ragged tiles all occur.
  it.each([
    [1, 23, 5],
    [2, 23, 1],
    [3, 2, 4],
    [4, 16, 40],
  ])('matches a brute-force scan (seed %i, %i x %i), rows of any norm', async (seed, rows, cols) => {
    const matrix = gaussianMatrix(seed, rows, cols, 3);
    const reference = bruteForce(matrix);
    const summary = await scanner.summarize(matrix, { bins: 20 });
    expect(summary.largestCosine).toBeCloseTo(reference.largest, 12);
    expect(summary.largestAbsCosine).toBeCloseTo(reference.largestAbs, 5);
    const [i, j] = summary.largestPair;
    expect(reference.all[i]![j]).toBeCloseTo(reference.largest, 12);
    for (let r = 0; r < rows; r++) {
      expect(summary.nearestCosine[r]).toBeCloseTo(reference.nearest[r]!, 5);
      expect(reference.all[r]![summary.nearestIndex[r]!]).toBeCloseTo(reference.nearest[r]!, 5);
    }
    expect(summary.meanNearestCosine).toBeCloseTo(reference.nearest.reduce((a, b) => a + b, 0) / rows, 5);
    const histogram = summary.histogram!;
    expect(histogram.pairs).toBe((rows * (rows - 1)) / 2);
    expect(histogram.counts.reduce((a, b) => a + b, 0)).toBe(histogram.pairs);
    const expected = new Array<number>(20).fill(0);
    for (let a = 0; a < rows; a++)
      for (let b = a + 1; b < rows; b++) expected[Math.min(19, Math.floor((reference.all[a]![b]! + 1) * 10))]!++;
    // A cosine within float32 rounding of a bin edge may land in the neighbouring bin.
    const moved = expected.reduce((sum, count, bin) => sum + Math.abs(count - histogram.counts[bin]!), 0);
    expect(moved).toBeLessThanOrEqual(2);
  });

  it('reports the norms as given', async () => {
    const matrix = createMatrix(3, 2, new Float32Array([3, 4, 0, 2, -1, 0]));
    const summary = await scanner.summarize(matrix);
    expect([...summary.norms]).toEqual([5, 2, 1]);
    expect(summary.histogram).toBeUndefined();
    expect(summary.largestCosine).toBeCloseTo(0.8, 12);
    expect(summary.largestPair).toEqual([0, 1]);
  });

  it('refuses non-finite values, zero rows, fewer than 2 rows and bad bins', async () => {
    const bad = createMatrix(3, 2, new Float32Array([1, 0, Number.NaN, 1, 0, 1]));
    await expect(scanner.summarize(bad, { source: 'p.npy' })).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: /p\.npy.*non-finite.*row 1, column 0/,
    });
    await expect(scanner.summarize(createMatrix(2, 2, new Float32Array([1, 0, 0, 0])))).rejects.toMatchObject({
      message: /row 1 is all zeros/,
    });
    await expect(scanner.summarize(createMatrix(1, 2, new Float32Array([1, 0])))).rejects.toMatchObject({ code: ErrorCode.InvalidInput });
    await expect(scanner.summarize(gaussianMatrix(1, 4, 2), { bins: 256 })).rejects.toMatchObject({ code: ErrorCode.InvalidOptions });
  });

  it('stops between tiles when aborted', async () => {
    const controller = new AbortController();
    const run = scanner.summarize(gaussianMatrix(5, 40, 3), { signal: controller.signal, progress: () => controller.abort() });
    await expect(run).rejects.toMatchObject({ code: ErrorCode.Aborted });
  });
});

describe('SimilarityScanner.nearestNeighbours', () => {
  it("lists each row's k nearest other rows, nearest first, across stripes", async () => {
    const matrix = gaussianMatrix(7, 23, 6);
    const reference = bruteForce(matrix);
    const lists = await scanner.nearestNeighbours(matrix, 4);
    for (let r = 0; r < 23; r++) {
      const expected = nearestOf(reference, r, 4);
      const found = [...lists.indices.subarray(r * 4, r * 4 + 4)];
      expect(found).not.toContain(r);
      expect(found).toEqual(expected.map(([, j]) => j));
      for (let m = 0; m < 4; m++) expect(lists.cosines[r * 4 + m]).toBeCloseTo(expected[m]![0], 5);
    }
  });

  it.each([1, 3])('finds the same lists by the two-stage top-k over column groups (seed %i)', async (seed) => {
    const grouped = new SimilarityScanner({ neighbourGroup: 4, stripeElements: 300 });
    try {
      // 3 values kept per row from 12 groups of 4, the last one padded: the padding must never be listed.
      const matrix = gaussianMatrix(seed, 47, 3);
      const reference = bruteForce(matrix);
      const lists = await grouped.nearestNeighbours(matrix, 2);
      for (let r = 0; r < 47; r++) {
        const expected = nearestOf(reference, r, 2);
        expect([...lists.indices.subarray(r * 2, r * 2 + 2)]).toEqual(expected.map(([, j]) => j));
        expect(lists.cosines[r * 2]).toBeCloseTo(expected[0]![0], 5);
      }
    } finally {
      await grouped.release();
    }
  });

  it('keeps duplicates as neighbours and never lists a row as its own', async () => {
    const matrix = createMatrix(3, 2, new Float32Array([1, 0, 1, 0, 0, 1]));
    const lists = await scanner.nearestNeighbours(matrix, 2);
    expect([...lists.indices.subarray(0, 4)]).toEqual([1, 2, 0, 2]);
    expect([...lists.indices.subarray(4)].sort()).toEqual([0, 1]);
  });

  it('refuses k outside [1, C - 1]', async () => {
    await expect(scanner.nearestNeighbours(gaussianMatrix(1, 5, 2), 5)).rejects.toMatchObject({ code: ErrorCode.InvalidOptions });
    await expect(scanner.nearestNeighbours(gaussianMatrix(1, 5, 2), 0)).rejects.toMatchObject({ code: ErrorCode.InvalidOptions });
  });
});

describe('cosineBounds', () => {
  it('gives the simplex bound and the Welch bound', () => {
    expect(cosineBounds(1000, 1000)).toEqual({ simplex: -1 / 999, welch: 0 });
    expect(cosineBounds(1000, 100).welch).toBeCloseTo(Math.sqrt(900 / (100 * 999)), 15);
    expect(cosineBounds(2, 1)).toEqual({ simplex: -1, welch: 1 });
  });
});
