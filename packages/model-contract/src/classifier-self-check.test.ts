import { describe, expect, it } from 'vitest';
import { checkClassifierAnswers, ModelAnswersError, SELF_CHECK_ROWS, selfCheckBatch, type ClassifierAnswers } from './index.js';

const f32 = (values: number[]) => Float32Array.from(values);
/** An output as onnxruntime gives it: dims [rows], or [rows, perRow] when that is given. */
const out = <T extends number | bigint>(data: ArrayLike<T>, perRow?: number) => ({
  dims: perRow === undefined ? [data.length] : [data.length / perRow, perRow],
  data,
});

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
  // Row 0: class 1 best; row 1: class 0 best.
  const scores = out(f32([0.1, 0.7, 0.2, 0.5, 0.25, 0.25]), 3);
  const answers = (extra: Partial<ClassifierAnswers>): ClassifierAnswers => ({ rows: 2, classes: 3, scores, ...extra });

  it('accepts labels that pick the best score, and ties within float32 rounding', () => {
    expect(() => checkClassifierAnswers(answers({ labels: out([1, 0]) }), 'm.onnx')).not.toThrow();
    expect(() => checkClassifierAnswers(answers({ labels: out(BigInt64Array.of(1n, 0n)) }), 'm.onnx')).not.toThrow();
    expect(() => checkClassifierAnswers({ rows: 1, classes: 2, labels: out([1]), scores: out(f32([1, 1]), 2) }, 'm.onnx')).not.toThrow();
    // The model's own top 2: the scores of their classes, best first.
    const topK = { k: 2, labels: out(BigInt64Array.of(1n, 2n, 0n, 1n), 2), scores: out(f32([0.7, 0.2, 0.5, 0.25]), 2) };
    expect(() => checkClassifierAnswers(answers({ labels: out([1, 0]), topK }), 'm.onnx', 'prediction')).not.toThrow();
    // Without the scores, a label must be the best of the top k (or tie with it).
    const tie = { k: 2, labels: out([1, 2, 1, 2], 2), scores: out(f32([0.7, 0.2, 0.25, 0.25]), 2) };
    expect(() => checkClassifierAnswers({ rows: 2, classes: 3, labels: out([1, 2]), topK: tie }, 'm.onnx')).not.toThrow();
  });

  it('takes finite scores whose sum is beyond float64, and still finds the best', () => {
    const huge = { dims: [1, 3], data: [1e308, 1.5e308, 1e308] };
    expect(() => checkClassifierAnswers({ rows: 1, classes: 3, scores: huge, labels: out([1]) }, 'm.onnx')).not.toThrow();
    expect(() => checkClassifierAnswers({ rows: 1, classes: 3, scores: huge, labels: out([0]) }, 'm.onnx')).toThrow(
      /row 0 has label 0 \(score 1e\+308\) but the best score is 1\.5e\+308/,
    );
  });

  it.each<[Partial<ClassifierAnswers>, string]>([
    [{ labels: out([1, 2]) }, 'its label output is not the best-scoring class: row 1 has label 2 (score 0.25) but the best score is 0.5'],
    [{ labels: out([1, 3]) }, 'its label output is not a class index: row 1 has label 3, but the model has 3 classes (0 to 2)'],
    [
      { labels: out(BigInt64Array.of(1n, -1n)) },
      'its label output is not a class index: row 1 has label -1, but the model has 3 classes (0 to 2)',
    ],
    [{ labels: out([1, 0.5]) }, 'its label output is not a class index: row 1 has label 0.5, but the model has 3 classes (0 to 2)'],
    [{ labels: out([1]) }, 'its label output gave 1 labels for 2 rows'],
    [{ labels: { dims: [1, 2], data: [1, 0] } }, 'its label output has dims [1, 2]; it should have [2]'],
    [{ scores: out(f32([0.1, 0.7, 0.2]), 3) }, 'its score output gave 3 values for 2 rows of 3 classes'],
    // The right number of values in the wrong shape: rows would be read shifted.
    [{ scores: out(scores.data, 2) }, 'its score output has dims [3, 2]; it should have [2, 3]'],
    [{ scores: { ...scores, type: 'float64' } }, 'its score output holds float64 values, not float32'],
    [{ scores: out(f32([0.1, Number.NaN, 0.2, 0.5, 0.25, 0.25]), 3) }, 'its score output holds NaN for row 0'],
    [{ scores: out(f32([0.1, 0.7, 0.2, 0.5, Number.POSITIVE_INFINITY, 0.25]), 3) }, 'its score output holds Infinity for row 1'],
    [{ topK: { k: 1, labels: out([1, 7], 1) } }, 'its top-k output is not a class index: row 1 has 7, but the model has 3 classes'],
    [{ topK: { k: 2, labels: out([1, 2]) } }, 'its top-k label output gave 2 labels for 2 rows of the top 2'],
    [
      { topK: { k: 1, labels: out([1, 0], 1), scores: out(f32([0.7, 0.4]), 1) } },
      'its top-k output gives class 0 of row 1 the score 0.4000000059604645, but its score output 0.5',
    ],
    [
      { scores: undefined, topK: { k: 2, labels: out([2, 1, 0, 1], 2), scores: out(f32([0.2, 0.7, 0.5, 0.25]), 2) } },
      'its top-k scores of row 0 are not best first: 0.20000000298023224 then 0.699999988079071',
    ],
    [
      { topK: { k: 1, labels: out([2, 0], 1), scores: out(f32([0.2, 0.5]), 1) } },
      'its top-k output starts row 0 with class 2 (score 0.20000000298023224) but the best score is 0.699999988079071',
    ],
    [
      { scores: undefined, labels: out([2, 0]), topK: { k: 1, labels: out([1, 0], 1), scores: out(f32([0.7, 0.5]), 1) } },
      'its label output is not the best-scoring class: row 0 has label 2, which is not its best top-k class',
    ],
  ])('refuses %o', (extra, why) => {
    expect(() => checkClassifierAnswers(answers(extra), 'm.onnx')).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_INPUT',
        message: `m.onnx is not a classifier this runtime can serve: ${why}`,
        hint: 'Export the model again with exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`; its outputs must be scores [N, classes] and label [N] = their argmax.',
      }),
    );
  });

  it("blames the model, not the caller, when a prediction's answers break the rule: E_INTERNAL", () => {
    const error = (() => {
      try {
        checkClassifierAnswers(answers({ labels: out([1000000, 0]) }), 'm.onnx', 'prediction');
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(ModelAnswersError);
    expect(error).toMatchObject({
      name: 'HyperprotoError',
      code: 'E_INTERNAL',
      message:
        'm.onnx gave answers that break its own interface for this batch: its label output is not a class index: row 0 has label 1000000, but the model has 3 classes (0 to 2)',
      hint: 'The file passed the checks at load, so only some inputs show it. The file is not a model written by exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`, or it was changed since; export it again.',
    });
  });

  it('numbers rows from firstRow, for a batch that is a chunk of a larger input', () => {
    expect(() => checkClassifierAnswers(answers({ labels: out([1, 2]) }), 'm.onnx', 'prediction', 1000)).toThrow(
      'm.onnx gave answers that break its own interface for this batch: its label output is not the best-scoring class: row 1001 has label 2 (score 0.25) but the best score is 0.5',
    );
  });
});

describe('checkClassifierAnswers at a prediction, on a row whose scores are not finite', () => {
  // Row 0: NaN, as an honest softmax answers features of ±3e38; row 1: class 0 best.
  const nanRow = out(f32([Number.NaN, Number.NaN, Number.NaN, 0.5, 0.25, 0.25]), 3);
  const check = (extra: Partial<ClassifierAnswers>, firstRow?: number) => () =>
    checkClassifierAnswers({ rows: 2, classes: 3, scores: nanRow, ...extra }, 'm.onnx', 'prediction', firstRow);

  it('lets the row through with any class as its label, top-k labels included: the input did it', () => {
    expect(check({ labels: out([2, 0]) })).not.toThrow();
    expect(check({ scores: out(f32([0.1, Number.POSITIVE_INFINITY, 0.2, 0.5, 0.25, 0.25]), 3), labels: out([0, 0]) })).not.toThrow();
    const topK = { k: 2, labels: out([1, 0, 0, 1], 2), scores: out(f32([Number.NaN, Number.NaN, 0.5, 0.25]), 2) };
    expect(check({ labels: out([0, 0]), topK })).not.toThrow();
    // Without the score output, a row whose top-k scores are not finite is such a row.
    expect(check({ scores: undefined, labels: out([2, 0]), topK })).not.toThrow();
  });

  it('still holds its labels to be class indices, and every finite row to the whole rule', () => {
    expect(check({ labels: out([3, 0]) }, 10)).toThrow(
      'its label output is not a class index: row 10 has label 3, but the model has 3 classes (0 to 2)',
    );
    expect(check({ labels: out([0, 1]) })).toThrow(
      'its label output is not the best-scoring class: row 1 has label 1 (score 0.25) but the best score is 0.5',
    );
    expect(check({ labels: out([0, 0]), topK: { k: 1, labels: out([5, 0], 1) } })).toThrow(
      'its top-k output is not a class index: row 0 has 5, but the model has 3 classes',
    );
    // Top-k scores that are not finite for a row whose scores are: a lie, not the input's doing.
    const lie = { k: 1, labels: out([0, 0], 1), scores: out(f32([Number.NaN, Number.NaN]), 1) };
    expect(check({ labels: out([0, 0]), topK: lie })).toThrow('its top-k score output holds NaN for row 1');
  });

  it('refuses them at the self-check, whose rows are moderate', () => {
    expect(() => checkClassifierAnswers({ rows: 2, classes: 3, scores: nanRow, labels: out([0, 0]) }, 'm.onnx')).toThrow(
      'm.onnx is not a classifier this runtime can serve: its score output holds NaN for row 0',
    );
    const topK = { k: 1, labels: out([0, 0], 1), scores: out(f32([Number.NaN, 0.5]), 1) };
    expect(() => checkClassifierAnswers({ rows: 2, classes: 3, labels: out([0, 0]), topK }, 'm.onnx')).toThrow(
      'its top-k score output holds NaN for row 0',
    );
  });
});
