/** The k best classes of each row, best first; among equal scores the lower class index first (as ONNX TopK). */
export interface TopK {
  readonly k: number;
  /** [rows * k] */
  readonly labels: Int32Array;
  /** [rows * k] */
  readonly scores: Float32Array;
}

/**
 * Selects the top k of each row of `scores` [rows, classes]. Used only for models exported without top-k outputs
 * (or with fewer than asked): one pass per row with a small sorted buffer, so it costs about one read of the scores.
 */
export function topKOfScores(scores: Float32Array, rows: number, classes: number, k: number): TopK {
  const labels = new Int32Array(rows * k);
  const values = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const base = r * k;
    let filled = 0;
    const row = r * classes;
    for (let c = 0; c < classes; c++) {
      const score = scores[row + c]!;
      if (filled === k && !(score > values[base + k - 1]!)) continue;
      // Insertion into the sorted buffer; strict > keeps the earlier class ahead on ties.
      let at = filled < k ? filled++ : k - 1;
      while (at > 0 && score > values[base + at - 1]!) {
        values[base + at] = values[base + at - 1]!;
        labels[base + at] = labels[base + at - 1]!;
        at--;
      }
      values[base + at] = score;
      labels[base + at] = c;
    }
  }
  return { k, labels, scores: values };
}

/** The first `k` columns of a top-K result with more columns. */
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
