import { ContractErrorCode, ModelContractError } from './contract-error.js';
import { describeValue } from './describe-value.js';

/** The k best classes of each row, best first; among equal scores the lower class index first (as ONNX ArgMax and TopK). */
export interface TopK {
  readonly k: number;
  /** [rows * k] class indices. */
  readonly labels: Int32Array;
  /** [rows * k] their scores. */
  readonly scores: Float32Array;
}

/** Refuses a top-k request that is not a whole number from 1 to the class count (`E_INVALID_INPUT`). */
export function checkTopK(k: number, classes: number): number {
  if (!Number.isInteger(k) || k < 1 || k > classes) {
    // Callers pass parsed JSON or flags: a string "3" is quoted so that it is not mistaken for the number 3.
    throw new ModelContractError(
      ContractErrorCode.InvalidInput,
      `top-k must be an integer from 1 to the model's ${classes} classes, got ${describeValue(k)}`,
    );
  }
  return k;
}

/**
 * Selects the top k of each row of `scores` [rows, classes] (k is clamped to the class count): one pass per row
 * with a small sorted buffer, so it costs about one read of the scores. Strict comparisons keep the earlier class
 * ahead on ties.
 */
export function topKOfScores(scores: Float32Array, rows: number, classes: number, k: number): TopK {
  const keep = Math.min(k, classes);
  const labels = new Int32Array(rows * keep);
  const values = new Float32Array(rows * keep);
  for (let r = 0; r < rows; r++) {
    const base = r * keep;
    let filled = 0;
    const row = r * classes;
    for (let c = 0; c < classes; c++) {
      const score = scores[row + c]!;
      if (filled === keep && !(score > values[base + keep - 1]!)) continue;
      let at = filled < keep ? filled++ : keep - 1;
      while (at > 0 && score > values[base + at - 1]!) {
        values[base + at] = values[base + at - 1]!;
        labels[base + at] = labels[base + at - 1]!;
        at--;
      }
      values[base + at] = score;
      labels[base + at] = c;
    }
  }
  return { k: keep, labels, scores: values };
}

/** The predicted class of each row: the argmax of its scores, the lower index on ties. */
export function argmaxOfScores(scores: Float32Array, rows: number, classes: number): Int32Array {
  return topKOfScores(scores, rows, classes, 1).labels;
}

/** The first `k` columns of a top-k result with `from` columns (e.g. the model's own `topk_*` outputs). */
export function narrowTopK(labels: Int32Array, scores: Float32Array, rows: number, from: number, k: number): TopK {
  if (from === k) return { k, labels, scores };
  const outLabels = new Int32Array(rows * k);
  const outScores = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    outLabels.set(labels.subarray(r * from, r * from + k), r * k);
    outScores.set(scores.subarray(r * from, r * from + k), r * k);
  }
  return { k, labels: outLabels, scores: outScores };
}
