import { describe, expect, it } from 'vitest';
import { checkClassifierAnswers, SELF_CHECK_ROWS, selfCheckBatch } from './index.js';

const f32 = (values: number[]) => Float32Array.from(values);

describe('selfCheckBatch', () => {
  it('is the same fixed rows every time, different in every row', () => {
    const batch = selfCheckBatch(3);
    expect(batch).toMatchObject({ rows: SELF_CHECK_ROWS, cols: 3 });
    expect(batch.data[0]).toBeCloseTo(Math.sin(12.9898 + 78.233) * 1.5, 6);
    expect(selfCheckBatch(3).data).toEqual(batch.data);
    expect(new Set(Array.from({ length: SELF_CHECK_ROWS }, (_, r) => batch.data[r * 3])).size).toBe(SELF_CHECK_ROWS);
  });
});

describe('checkClassifierAnswers', () => {
  const scores = f32([0.1, 0.7, 0.2, 0.5, 0.25, 0.25]);
  it('accepts labels that pick the best score, and ties within float32 rounding', () => {
    expect(() => checkClassifierAnswers({ rows: 2, classes: 3, labels: [1, 0], scores }, 'm.onnx')).not.toThrow();
    expect(() => checkClassifierAnswers({ rows: 1, classes: 2, labels: [1], scores: f32([1, 1]) }, 'm.onnx')).not.toThrow();
  });

  it.each([
    [{ labels: [1, 2] }, 'its label output is not the best-scoring class: row 1 has label 2 (score 0.25) but the best score is 0.5'],
    [{ labels: [1, 3] }, 'its label output is not a class index: row 1 has label 3, but the model has 3 classes (0 to 2)'],
    [{ labels: [1] }, 'its label output gave 1 labels for 2 rows'],
    [{ labels: [1, 0], scores: f32([0.1, 0.7, 0.2]) }, 'its score output gave 3 values for 2 rows of 3 classes'],
    [{ labels: [1, 0], scores: f32([0.1, Number.NaN, 0.2, 0.5, 0.25, 0.25]) }, 'its score output holds NaN for row 0'],
    [{ labels: [1, 0], topK: { k: 1, labels: [1, 7] } }, 'its top-k output is not a class index: row 1 has 7, but the model has 3 classes'],
  ])('refuses %o', (answers, why) => {
    expect(() => checkClassifierAnswers({ rows: 2, classes: 3, scores, ...answers }, 'm.onnx')).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_INPUT',
        message: `m.onnx is not a classifier this runtime can serve: ${why}`,
        hint: 'Export the model again with exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`; its outputs must be scores [N, classes] and label [N] = their argmax.',
      }),
    );
  });
});
