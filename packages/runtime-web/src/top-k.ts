export interface ScoredClass {
  /** The class index, as in the model's `label` output. */
  readonly index: number;
  readonly score: number;
}

/**
 * The k best classes of each row of a row-major [rows, classes] score matrix, best first; ties keep the lower index
 * first, as ArgMax does. A bounded insertion keeps small k at O(classes * k) per row.
 */
export function topKRows(scores: Float32Array, rows: number, classes: number, k: number): ScoredClass[][] {
  const keep = Math.min(k, classes);
  const result: ScoredClass[][] = [];
  for (let r = 0; r < rows; r++) {
    const offset = r * classes;
    if (keep * 4 >= classes) {
      const order = Array.from({ length: classes }, (_, c) => c);
      order.sort((a, b) => scores[offset + b]! - scores[offset + a]! || a - b);
      result.push(order.slice(0, keep).map((index) => ({ index, score: scores[offset + index]! })));
      continue;
    }
    const indices: number[] = [];
    const values: number[] = [];
    for (let c = 0; c < classes; c++) {
      const value = scores[offset + c]!;
      if (indices.length === keep && !(value > values[keep - 1]!)) continue;
      let at = indices.length === keep ? keep - 1 : indices.length;
      while (at > 0 && value > values[at - 1]!) {
        values[at] = values[at - 1]!;
        indices[at] = indices[at - 1]!;
        at--;
      }
      values[at] = value;
      indices[at] = c;
    }
    result.push(indices.map((index, i) => ({ index, score: values[i]! })));
  }
  return result;
}
