import { describe, expect, it } from 'vitest';
import { ErrorCode } from './errors.js';
import { createMatrix, type Matrix } from './matrix.js';
import { predictModelLabels } from './predicted-labels.js';
import { createRng } from './rng.js';

const WIDTH = 3;

/**
 * A nearest-centre classifier over `classes` seeded centres: a model without predictLabels, as a third-party engine
 * may give, whose `predict` records the rows of every call. Every fourth class repeats the one before, so rows tie.
 */
function scoresOnlyModel(classes: number) {
  const rng = createRng(5);
  const centres = new Float32Array(classes * WIDTH);
  rng.fillNormal(centres);
  for (let c = 3; c < classes; c += 4) centres.copyWithin(c * WIDTH, (c - 1) * WIDTH, c * WIDTH);
  const calls: number[] = [];
  return {
    calls,
    classes,
    async predict(features: Matrix) {
      calls.push(features.rows);
      const scores = createMatrix(features.rows, classes);
      const labels = new Int32Array(features.rows);
      for (let r = 0; r < features.rows; r++) {
        for (let c = 0; c < classes; c++) {
          let distance = 0;
          for (let k = 0; k < WIDTH; k++) distance += (features.data[r * WIDTH + k]! - centres[c * WIDTH + k]!) ** 2;
          scores.data[r * classes + c] = -distance;
          if (scores.data[r * classes + c]! > scores.data[r * classes + labels[r]!]!) labels[r] = c;
        }
      }
      return { scores, labels };
    },
  };
}

function rows(n: number, seed = 6): Matrix {
  const features = createMatrix(n, WIDTH);
  createRng(seed).fillNormal(features.data);
  return features;
}

describe('predictModelLabels', () => {
  it("gives a scores-only model's labels from predict calls of at most maxScores scores each", async () => {
    const model = scoresOnlyModel(50);
    const features = rows(103);
    const expected = (await model.predict(features)).labels;
    // Rows nearest a repeated centre tie; predict gives the first of the two, and so must every chunk.
    expect(expected.some((label) => label % 4 === 2)).toBe(true);
    expect(expected.some((label) => label % 4 === 3)).toBe(false);
    model.calls.length = 0;
    // 103 x 50 scores at once would exceed 400: chunks of 8 rows.
    const labels = await predictModelLabels(model, features, { maxScores: 400 });
    expect(labels).toEqual(expected);
    expect(model.calls).toEqual([...Array.from({ length: 12 }, () => 8), 7]);
    expect(Math.max(...model.calls) * model.classes).toBeLessThanOrEqual(400);
  });

  it('asks for one row at a time when one row has more scores than the limit, and nothing for no rows', async () => {
    const model = scoresOnlyModel(30);
    const features = rows(4);
    const expected = (await model.predict(features)).labels;
    model.calls.length = 0;
    expect(await predictModelLabels(model, features, { maxScores: 10 })).toEqual(expected);
    expect(model.calls).toEqual([1, 1, 1, 1]);
    model.calls.length = 0;
    expect(await predictModelLabels(model, createMatrix(0, WIDTH))).toEqual(new Int32Array(0));
    expect(model.calls).toEqual([]);
  });

  it('keeps each call near 16 MiB of scores by default', async () => {
    const classes = 2 ** 20;
    const calls: number[] = [];
    const model = {
      classes,
      // Only the row counts matter here: no scores are made.
      predict: async (features: Matrix) => (
        calls.push(features.rows), { scores: createMatrix(0, 0), labels: new Int32Array(features.rows) }
      ),
    };
    await predictModelLabels(model, createMatrix(9, 1));
    // 2^22 scores a call: 4 rows of 2^20 classes.
    expect(calls).toEqual([4, 4, 1]);
  });

  it("uses the model's own predictLabels when it has one, and refuses labels of the wrong count from either", async () => {
    const model = scoresOnlyModel(5);
    const features = rows(6);
    const own = Int32Array.of(4, 3, 2, 1, 0, 4);
    expect(await predictModelLabels({ ...model, predictLabels: async () => own }, features)).toBe(own);
    expect(model.calls).toEqual([]);
    await expect(predictModelLabels({ ...model, predictLabels: async () => new Int32Array(5) }, features)).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      message: "the trained model's predictLabels gave 5 labels for 6 rows",
    });
    const short = { classes: 5, predict: async () => ({ scores: createMatrix(1, 5), labels: new Int32Array(1) }) };
    await expect(predictModelLabels(short, features)).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      message: "the trained model's predict gave 1 labels for 6 rows",
    });
  });
});
