import { ErrorCode } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { averageRanks, spearman } from './rank-correlation.js';

describe('averageRanks', () => {
  it('ranks ascending from 1, ties sharing the mean of their ranks, Infinity last', () => {
    expect(averageRanks([30, 10, 20])).toEqual([3, 1, 2]);
    expect(averageRanks([10, 20, 20, 30])).toEqual([1, 2.5, 2.5, 4]);
    expect(averageRanks([5, 5, 5])).toEqual([2, 2, 2]);
    expect(averageRanks([1, Number.POSITIVE_INFINITY, 1e300, -2])).toEqual([2, 4, 3, 1]);
    expect(() => averageRanks([1, Number.NaN])).toThrow(expect.objectContaining({ code: ErrorCode.InvalidInput }));
  });
});

describe('spearman', () => {
  it('is +1 or -1 for any strictly monotone relation, linear or not', () => {
    const x = [0.1, 0.4, 0.2, 0.9, 0.5];
    expect(
      spearman(
        x,
        x.map((v) => v ** 3),
      ),
    ).toBe(1);
    expect(
      spearman(
        x,
        x.map((v) => Math.exp(-10 * v)),
      ),
    ).toBe(-1);
    // A measure that is infinite for one set still orders it last.
    expect(spearman([1, 2, 3], [0.5, 7, Number.POSITIVE_INFINITY])).toBe(1);
  });

  it('matches scipy.stats.spearmanr with ties and without', () => {
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(0.9486832980505139, 12);
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(0.8207826816681233, 12);
  });

  it('has no value with fewer than two pairs or when one side is all ties, and refuses unpaired lists', () => {
    expect(spearman([], [])).toBeNull();
    expect(spearman([1], [2])).toBeNull();
    expect(spearman([1, 2, 3], [4, 4, 4])).toBeNull();
    expect(() => spearman([1, 2], [1])).toThrow(/paired values, got 2 and 1/);
  });
});
