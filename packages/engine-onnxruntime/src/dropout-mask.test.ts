import { createRng } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { DropoutMasks, fillDropoutMask } from './dropout-mask.js';

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

describe('DropoutMasks', () => {
  const [layers, units, batchSize, rate] = [2, 5, 6, 0.3];

  /** The masks fillDropoutMask draws from `rng` for `count` batches of `size` rows, batch by batch, layer by layer. */
  const batchByBatch = (rng: ReturnType<typeof createRng>, count: number, size: number) => {
    const masks = Array.from({ length: layers }, () => new Float32Array(count * size * units));
    for (let k = 0; k < count; k++) for (const mask of masks) fillDropoutMask(rng, mask, k * size * units, size * units, rate);
    return masks;
  };

  it('hands each run the masks fillDropoutMask draws batch by batch, however many batches were drawn ahead on the worker', async () => {
    const masks = new DropoutMasks(createRng(5), layers, units, batchSize, rate, 4);
    const reference = createRng(5);
    expect(masks.drawsAhead).toBe(true);
    try {
      // [batches, rows per batch, batches to draw ahead after the run]: ahead more, fewer or none than the next run
      // takes, a short last batch, and a run larger than the 4 batches expected.
      const runs = [
        [1, 6, 3],
        [3, 6, 3],
        [2, 6, 0],
        [1, 4, 5],
        [4, 6, 2],
        [6, 6, 1],
        [1, 2, 0],
        [2, 6, 0],
      ] as const;
      for (const [count, size, ahead] of runs) {
        const taken = masks.take(count, size);
        expect(taken.map((m) => m.length)).toEqual([count * size * units, count * size * units]);
        expect(taken).toEqual(batchByBatch(reference, count, size));
        masks.prefetch(ahead);
      }
    } finally {
      await masks.close();
    }
  });

  it('closes with masks still being drawn ahead', async () => {
    const masks = new DropoutMasks(createRng(6), layers, units, batchSize, rate, 4);
    masks.take(1, batchSize);
    masks.prefetch(4);
    await expect(masks.close()).resolves.toBeUndefined();
  });
});
