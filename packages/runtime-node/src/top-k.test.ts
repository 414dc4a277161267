import { createRng } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { narrowTopK, topKOfScores } from './index.js';

/** The k best of each row by sorting: best first, the lower class first among equal scores. */
function sortedTopK(scores: Float32Array, rows: number, classes: number, k: number) {
  const labels: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    const ranked = [...scores.subarray(r * classes, (r + 1) * classes)]
      .map((s, c) => [s, c] as const)
      .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (const [s, c] of ranked.slice(0, k)) {
      labels.push(c);
      values.push(s);
    }
  }
  return { labels, values };
}

describe('topKOfScores', () => {
  it('agrees with sorting, ties included, for every k', () => {
    const rng = createRng(1);
    const rows = 50;
    const classes = 17;
    // Few distinct values, so that ties are common.
    const scores = Float32Array.from({ length: rows * classes }, () => rng.int(6) / 4 - 0.5);
    for (const k of [1, 2, 5, 17]) {
      const got = topKOfScores(scores, rows, classes, k);
      const expected = sortedTopK(scores, rows, classes, k);
      expect([...got.labels]).toEqual(expected.labels);
      expect([...got.scores]).toEqual(expected.values);
    }
  });

  it('narrows a wider top-k to its first columns', () => {
    const wide = topKOfScores(Float32Array.from([0.1, 0.5, 0.2, 0.9, 0.3, 0.0]), 2, 3, 3);
    const narrow = narrowTopK(wide.labels, wide.scores, 2, 3, 1);
    expect([...narrow.labels]).toEqual([1, 0]);
    expect([...narrow.scores]).toEqual([Math.fround(0.5), Math.fround(0.9)]);
  });
});
