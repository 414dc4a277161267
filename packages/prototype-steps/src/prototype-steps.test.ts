import { createRng, ErrorCode, type PluginContext } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import {
  checkPrototypeRequest,
  denseSimilarityUnsupported,
  drawGaussianRows,
  drawGaussianUnitRows,
  reportInterval,
  reportLargestCosine,
  throwIfAborted,
  toUnitRows,
} from './index.js';

describe('starting rows', () => {
  it('draws the same N(0, I) stream for the same seed and scales rows to unit length', () => {
    const raw = drawGaussianRows(createRng(4), 6, 3);
    expect(raw).toEqual(drawGaussianRows(createRng(4), 6, 3));
    const unit = drawGaussianUnitRows(createRng(4), 6, 3);
    for (let row = 0; row < 6; row++) {
      const norm = Math.hypot(...raw.subarray(row * 3, row * 3 + 3));
      for (let j = 0; j < 3; j++) expect(unit.data[row * 3 + j]).toBe(Math.fround(raw[row * 3 + j]! / norm));
    }
  });

  it('refuses to scale a zero or non-finite row', () => {
    expect(() => toUnitRows(new Float32Array([1, 0, 0, 0]), 2, 2, 'test')).toThrow(/prototype 1 has norm 0/);
    expect(() => toUnitRows(new Float32Array([Number.NaN, 0]), 1, 2, 'test')).toThrow(expect.objectContaining({ code: ErrorCode.TrainingFailed }));
  });
});

describe('step loop', () => {
  it('reports about 40 times per run', () => {
    expect(reportInterval(1)).toBe(1);
    expect(reportInterval(1000)).toBe(25);
  });

  it('throws E_ABORTED once the signal is aborted', () => {
    const ctx: PluginContext = { seed: 0, rng: createRng(0), signal: AbortSignal.abort() };
    expect(() => throwIfAborted(ctx, 3, 10)).toThrow(/interrupted after 3 of 10 steps/);
    expect(() => throwIfAborted({ seed: 0, rng: createRng(0) }, 3, 10)).not.toThrow();
  });

  it('reports progress with the largest cosine and fails on NaN', async () => {
    const calls: unknown[] = [];
    const ctx: PluginContext = { seed: 0, rng: createRng(0), progress: (...args) => calls.push(args) };
    await reportLargestCosine(ctx, 'prototypes:x', 0.25, 5, 10);
    expect(calls).toEqual([[5, 10, 'max cos 0.250']]);
    await expect(reportLargestCosine(ctx, 'prototypes:x', Number.NaN, 6, 10)).rejects.toMatchObject({ code: ErrorCode.TrainingFailed });
  });
});

describe('request checks and size limits', () => {
  it('refuses fewer than 2 classes or 1 dimension, and non-integers', () => {
    for (const [classes, dims] of [[1, 3], [0, 3], [3, 0], [2.5, 3], [3, Number.NaN]] as const) {
      expect(() => checkPrototypeRequest({ classes, dims }, 'prototypes:x')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidInput }));
    }
    expect(() => checkPrototypeRequest({ classes: 2, dims: 1 }, 'prototypes:x')).not.toThrow();
  });

  it('says why a dense C x C optimiser cannot serve more than 20000 classes', () => {
    expect(denseSimilarityUnsupported({ classes: 20_000, dims: 10 })).toBeUndefined();
    expect(denseSimilarityUnsupported({ classes: 30_000, dims: 10 })).toMatch(/30000 x 30000.*3\.6 GB/);
  });
});
