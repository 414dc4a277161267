import { topKOfScores } from './contract.js';

export interface ScoredClass {
  /** The class index, as in the model's `label` output. */
  readonly index: number;
  readonly score: number;
}

/**
 * The k best classes of each row of a row-major [rows, classes] score matrix, best first (k clamped to the class
 * count); ties keep the lower index first, as ArgMax does. The model contract's `topKOfScores`, one array per row.
 */
export function topKRows(scores: Float32Array, rows: number, classes: number, k: number): ScoredClass[][] {
  const top = topKOfScores(scores, rows, classes, k);
  return Array.from({ length: rows }, (_, r) =>
    Array.from({ length: top.k }, (_, i) => ({ index: top.labels[r * top.k + i]!, score: top.scores[r * top.k + i]! })),
  );
}
