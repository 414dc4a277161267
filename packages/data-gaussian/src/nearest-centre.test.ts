import { createMatrix, createRng, ErrorCode, type Matrix } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { nearestCentre } from './nearest-centre.js';

function matrix(rows: number[][]): Matrix {
  return createMatrix(rows.length, rows[0]!.length, Float32Array.from(rows.flat()));
}

/** The definition, computed the slow way: full squared distance to every centre, first minimum wins. */
function bruteForce(features: Matrix, centres: Matrix): Int32Array {
  const out = new Int32Array(features.rows);
  for (let i = 0; i < features.rows; i++) {
    let best = Infinity;
    for (let j = 0; j < centres.rows; j++) {
      let distance = 0;
      for (let k = 0; k < features.cols; k++)
        distance += (features.data[i * features.cols + k]! - centres.data[j * centres.cols + k]!) ** 2;
      if (distance < best) {
        best = distance;
        out[i] = j;
      }
    }
  }
  return out;
}

describe('nearestCentre', () => {
  it('picks the nearest centre on a hand-built case', () => {
    const centres = matrix([
      [0, 0],
      [10, 0],
      [0, 10],
    ]);
    // Squared distances to (c0, c1, c2):
    // (1, 1): 2, 82, 82 -> 0;   (9, -2): 85, 5, 225 -> 1;   (-3, 7): 58, 218, 18 -> 2;
    // (6, 5): 61, 41, 61 -> 1;  (4, 6): 52, 72, 32 -> 2;    (40, -3): 1609, 909, 1769 -> 1.
    const features = matrix([
      [1, 1],
      [9, -2],
      [-3, 7],
      [6, 5],
      [4, 6],
      [40, -3],
    ]);
    expect(Array.from(nearestCentre(features, centres))).toEqual([0, 1, 2, 1, 2, 1]);
  });

  it('does not prefer centres with small norm: distance, not dot product, decides', () => {
    // x = (1, 0): dot product with (5, 0) is largest, but (1.2, 0) is closer.
    const centres = matrix([
      [5, 0],
      [1.2, 0],
    ]);
    expect(Array.from(nearestCentre(matrix([[1, 0]]), centres))).toEqual([1]);
  });

  it('breaks exact ties toward the lower index, also across kernel tiles', () => {
    // Nine identical centres: every row is equidistant from all of them.
    const centres = matrix(Array.from({ length: 9 }, () => [1, 2, 3]));
    const features = matrix(Array.from({ length: 7 }, (_, i) => [i, -i, 0.5]));
    expect(Array.from(nearestCentre(features, centres))).toEqual(new Array(7).fill(0));
  });

  it('agrees with the brute-force definition for many shapes (tails of the 4 x 4 tiles, several centre blocks)', () => {
    const rng = createRng(7);
    for (const [rows, classes, width] of [
      [1, 1, 1],
      [3, 2, 5],
      [4, 4, 4],
      [17, 5, 3],
      [9, 67, 11],
      [33, 130, 7],
      [50, 3, 300],
    ] as const) {
      const centres = createMatrix(classes, width, rng.fillUniform(new Float32Array(classes * width), -1, 1));
      const features = createMatrix(rows, width, rng.fillNormal(new Float32Array(rows * width), 0, 0.8));
      expect(Array.from(nearestCentre(features, centres)), `${rows} x ${classes} x ${width}`).toEqual(
        Array.from(bruteForce(features, centres)),
      );
    }
  });

  it('returns each centre for itself', () => {
    const rng = createRng(3);
    const centres = createMatrix(70, 13, rng.fillUniform(new Float32Array(70 * 13), -1, 1));
    expect(Array.from(nearestCentre(centres, centres))).toEqual(Array.from({ length: 70 }, (_, i) => i));
  });

  it('reports progress per block of centres and stops when aborted', () => {
    const centres = createMatrix(130, 2, new Float32Array(260));
    const features = createMatrix(5, 2, new Float32Array(10));
    const seen: number[] = [];
    nearestCentre(features, centres, { progress: (done, total) => seen.push(done / total) });
    expect(seen.at(-1)).toBe(1);
    expect(seen.length).toBeGreaterThan(1);

    const controller = new AbortController();
    controller.abort();
    expect(() => nearestCentre(features, centres, { signal: controller.signal })).toThrowError(
      expect.objectContaining({ code: ErrorCode.Aborted }),
    );
  });

  it('rejects centres of another width', () => {
    expect(() => nearestCentre(matrix([[1, 2, 3]]), matrix([[1, 2]]))).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/3 columns.*centres have 2/) }),
    );
  });
});
