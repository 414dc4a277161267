import { createMatrix, createRng, ErrorCode, type Matrix, nearestClassMeanPredictions } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { drawCentres, drawSplit } from './gaussian-clusters.js';
import { nearestCentre } from './nearest-centre.js';
import { nearestCentreScan, nearestClassMeanScan } from './nearest-centre-scan.js';

function matrix(rows: number[][]): Matrix {
  return createMatrix(rows.length, rows[0]!.length, Float32Array.from(rows.flat()));
}

/** The rows of `m` listed in `order`, as a new matrix. */
function pickRows(m: Matrix, order: readonly number[]): Matrix {
  const out = createMatrix(order.length, m.cols);
  order.forEach((row, i) => out.data.set(m.data.subarray(row * m.cols, (row + 1) * m.cols), i * m.cols));
  return out;
}

describe('nearestCentreScan', () => {
  it("gives the plain loop's predictions on Gaussian clusters of several sizes", async () => {
    for (const [classes, width, sigma, perClass] of [
      [7, 5, 2, 9],
      [300, 40, 1.5, 3],
      [2_000, 300, 2.5, 1],
    ] as const) {
      const rng = createRng(classes);
      const centres = drawCentres(rng.fork('centres'), classes, width);
      const { features, labels } = drawSplit(rng.fork('rows'), centres, sigma, perClass);
      const plain = nearestCentre(features, centres);
      const scanned = await nearestCentreScan(features, centres, { threads: 1 });
      expect(scanned).toEqual(plain);
      // Not a trivial agreement: the noise sends some rows to another class.
      const wrong = labels.filter((label, i) => label !== plain[i]).length;
      expect(wrong).toBeGreaterThan(0);
      expect(wrong).toBeLessThan(labels.length);
    }
  });

  it('breaks exact ties toward the lower index, also when more centres tie than onnxruntime hands back', async () => {
    // Nine identical centres (more than the candidates kept per row) and one far away: rows next to the nine must
    // get index 1, the first of them, as the plain loop gives.
    const same = [0.5, -1, 2];
    const centres = matrix([[40, 40, 40], ...Array.from({ length: 9 }, () => same), [-40, 0, 0]]);
    const features = matrix(Array.from({ length: 11 }, (_, i) => [0.5 + i / 100, -1, 2 - i / 50]));
    const scanned = await nearestCentreScan(features, centres, { threads: 1 });
    expect(Array.from(scanned)).toEqual(Array.from({ length: 11 }, () => 1));
    expect(scanned).toEqual(nearestCentre(features, centres));
  });

  it('settles near ties that float32 cannot order, as the plain loop does', async () => {
    // Pairs of centres equally far from the row up to a few float32 steps: the float64 recomputation decides.
    const rng = createRng(5);
    const width = 64;
    const base = drawCentres(rng.fork('base'), 50, width);
    const nudged = createMatrix(100, width);
    for (let c = 0; c < 50; c++) {
      nudged.data.set(base.data.subarray(c * width, (c + 1) * width), 2 * c * width);
      for (let k = 0; k < width; k++)
        nudged.data[(2 * c + 1) * width + k] = base.data[c * width + k]! * (1 + 2 ** -22 * (k % 3 === 0 ? 1 : -1));
    }
    const features = pickRows(
      nudged,
      Array.from({ length: 100 }, (_, i) => i),
    );
    for (let i = 0; i < features.data.length; i++) features.data[i] = features.data[i]! + rng.normal() * 1e-3;
    const scanned = await nearestCentreScan(features, nudged, { threads: 1 });
    expect(scanned).toEqual(nearestCentre(features, nudged));
  });

  it('handles fewer centres than candidates, a single row, and no rows', async () => {
    const centres = matrix([
      [0, 0],
      [3, 4],
    ]);
    expect(Array.from(await nearestCentreScan(matrix([[2.9, 3.5]]), centres, { threads: 1 }))).toEqual([1]);
    expect(Array.from(await nearestCentreScan(createMatrix(0, 2), centres, { threads: 1 }))).toEqual([]);
  });

  it('refuses features of another width, and stops when aborted', async () => {
    const centres = createMatrix(3, 4);
    await expect(nearestCentreScan(createMatrix(2, 5), centres)).rejects.toMatchObject({ code: ErrorCode.InvalidInput });
    const controller = new AbortController();
    controller.abort();
    await expect(nearestCentreScan(createMatrix(2, 4), centres, { signal: controller.signal })).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
  });
});

describe('nearestClassMeanScan', () => {
  it("gives the core baseline's predictions, classes without training rows included", async () => {
    const rng = createRng(11);
    const classes = 400;
    const width = 60;
    const centres = drawCentres(rng.fork('centres'), classes, width);
    const full = drawSplit(rng.fork('train'), centres, 1.5, 2);
    // Classes 0, 7 and 399 lose their training rows: never predicted by either.
    const kept = Array.from({ length: full.labels.length }, (_, i) => i).filter((i) => ![0, 7, 399].includes(full.labels[i]!));
    const train = { features: pickRows(full.features, kept), labels: Int32Array.from(kept, (i) => full.labels[i]!) };
    const test = drawSplit(rng.fork('test'), centres, 1.5, 2);
    const plain = nearestClassMeanPredictions(train, test.features, classes);
    const scanned = await nearestClassMeanScan(train, test.features, classes, { threads: 1 });
    expect(scanned).toEqual(plain);
    expect(scanned.some((p) => p === 0 || p === 7 || p === 399)).toBe(false);
    const correct = test.labels.filter((label, i) => label === plain[i]).length;
    expect(correct).toBeGreaterThan(0);
    expect(correct).toBeLessThan(test.labels.length);
  });

  it('predicts -1 everywhere when no class has a training row, as the core baseline does', async () => {
    const train = { features: createMatrix(0, 3), labels: new Int32Array(0) };
    const features = matrix([
      [1, 2, 3],
      [0, 0, 0],
    ]);
    expect(Array.from(await nearestClassMeanScan(train, features, 4, { threads: 1 }))).toEqual([-1, -1]);
    expect(Array.from(nearestClassMeanPredictions(train, features, 4))).toEqual([-1, -1]);
  });

  it('refuses features of another width than the training split', async () => {
    const train = { features: createMatrix(2, 3), labels: Int32Array.of(0, 1) };
    await expect(nearestClassMeanScan(train, createMatrix(1, 4), 2)).rejects.toThrowError(/4 features per row, the training split has 3/);
  });
});
