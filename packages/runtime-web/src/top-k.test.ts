import { describe, expect, it } from 'vitest';
import { topKRows } from './top-k.js';
import { uniform } from './test-support/models.js';

describe('topKRows', () => {
  it('matches a full sort for small and large k', () => {
    const next = uniform(11);
    const rows = 7;
    const classes = 50;
    const scores = Float32Array.from({ length: rows * classes }, next);
    for (const k of [1, 3, 12, 13, 50, 80]) {
      const top = topKRows(scores, rows, classes, k);
      for (let r = 0; r < rows; r++) {
        const expected = Array.from({ length: classes }, (_, c) => c)
          .sort((a, b) => scores[r * classes + b]! - scores[r * classes + a]!)
          .slice(0, Math.min(k, classes));
        expect(top[r]!.map((s) => s.index)).toEqual(expected);
        expect(top[r]!.map((s) => s.score)).toEqual(expected.map((c) => scores[r * classes + c]));
      }
    }
  });

  it('puts the lower index first among ties, as ArgMax does', () => {
    const scores = new Float32Array([0.2, 0.5, 0.5, 0.1, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]);
    expect(topKRows(scores, 1, 10, 2)[0]!.map((s) => s.index)).toEqual([1, 2]);
    expect(topKRows(scores, 1, 10, 4)[0]!.map((s) => s.index)).toEqual([1, 2, 4, 0]);
  });
});
