import { describe, expect, it } from 'vitest';
import { nearestClassMeanPredictions } from './class-mean-baseline.js';
import { createMatrix } from './matrix.js';

const split = (rows: number[][], labels: number[]) => ({
  features: createMatrix(rows.length, rows[0]!.length, Float32Array.from(rows.flat())),
  labels: Int32Array.from(labels),
});

describe('nearestClassMeanPredictions', () => {
  it('predicts the class whose training mean is nearest', () => {
    // Means: class 0 at (0, 0), class 1 at (4, 0), class 2 at (0, 4).
    const train = split(
      [
        [-1, 0],
        [1, 0],
        [4, 1],
        [4, -1],
        [0, 4],
      ],
      [0, 0, 1, 1, 2],
    );
    const test = createMatrix(4, 2, Float32Array.from([0.4, 0.3, 2.1, 0, 1.9, 0, 0.5, 3]));
    expect([...nearestClassMeanPredictions(train, test, 3)]).toEqual([0, 1, 0, 2]);
  });

  it('never predicts a class without training rows, and refuses rows of another width', () => {
    const train = split(
      [
        [0, 0],
        [10, 10],
      ],
      [0, 2],
    );
    expect([...nearestClassMeanPredictions(train, createMatrix(1, 2, Float32Array.from([5.1, 5.1])), 3)]).toEqual([2]);
    expect(() => nearestClassMeanPredictions(train, createMatrix(1, 3), 3)).toThrow(/3 features per row, the training split has 2/);
  });
});
