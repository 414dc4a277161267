import { createRng } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { fillDropoutMask } from './dropout-mask.js';

describe('fillDropoutMask', () => {
  it('keeps each unit with probability 1 - rate, scaled by 1 / (1 - rate), the same masks for the same seed', () => {
    const rate = 0.3;
    const mask = new Float32Array(200_000);
    fillDropoutMask(createRng(1), mask, 0, mask.length, rate);
    const kept = mask.filter((v) => v !== 0);
    for (const value of kept) expect(value).toBe(Math.fround(1 / 0.7));
    // Binomial: the kept fraction is within 5 standard deviations of 0.7.
    expect(Math.abs(kept.length / mask.length - 0.7)).toBeLessThan(5 * Math.sqrt((0.7 * 0.3) / mask.length));
    const again = new Float32Array(200_000);
    fillDropoutMask(createRng(1), again, 0, again.length, rate);
    expect(again).toEqual(mask);
    fillDropoutMask(createRng(2), again, 0, again.length, rate);
    expect(again).not.toEqual(mask);
  });

  it('writes only its range, and consecutive calls on one stream give different masks', () => {
    const rng = createRng(3);
    const mask = new Float32Array(30).fill(7);
    fillDropoutMask(rng, mask, 10, 10, 0.5);
    expect([...mask.subarray(0, 10), ...mask.subarray(20)]).toEqual(new Array(20).fill(7));
    const first = mask.slice(10, 20);
    fillDropoutMask(rng, mask, 10, 10, 0.5);
    expect(mask.slice(10, 20)).not.toEqual(first);
  });
});
