import { createRng, ErrorCode, z, type PluginContext } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import {
  checkPrototypeRequest,
  allPairsUnsupported,
  defineAllPairsStrategy,
  drawGaussianRows,
  drawGaussianUnitRows,
  meanLargestCosineGradient,
  reportInterval,
  reportLargestCosine,
  throwIfAborted,
  toUnitRows,
  unitRowsAndNorms,
} from './index.js';
import { allPairsLimitCases, testContext } from './testing.js';

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
    expect(() => toUnitRows(new Float32Array([Number.NaN, 0]), 1, 2, 'test')).toThrow(
      expect.objectContaining({ code: ErrorCode.TrainingFailed }),
    );
  });
});

describe('buffers reused across steps', () => {
  it('unit rows written into an earlier result equal a fresh result, in the same arrays', () => {
    const first = drawGaussianRows(createRng(6), 5, 4);
    const second = drawGaussianRows(createRng(7), 5, 4);
    const reused = unitRowsAndNorms(first, 5, 4, 'test');
    const again = unitRowsAndNorms(second, 5, 4, 'test', reused);
    expect(again).toBe(reused);
    const fresh = unitRowsAndNorms(second, 5, 4, 'test');
    expect(again.unit.data).toEqual(fresh.unit.data);
    expect(again.norms).toEqual(fresh.norms);
    // A result of another shape is not written into.
    expect(unitRowsAndNorms(second, 4, 5, 'test', reused)).not.toBe(reused);
  });

  it('a reused gradient array is cleared before the gradient is added into it', () => {
    const unit = drawGaussianUnitRows(createRng(8), 4, 3).data;
    const nearest = Int32Array.of(1, 0, 3, 2);
    const into = new Float64Array(12).fill(5);
    expect(meanLargestCosineGradient(unit, nearest, 4, 3, into)).toEqual(meanLargestCosineGradient(unit, nearest, 4, 3));
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
    for (const [classes, dims] of [
      [1, 3],
      [0, 3],
      [3, 0],
      [2.5, 3],
      [3, Number.NaN],
    ] as const) {
      expect(() => checkPrototypeRequest({ classes, dims }, 'prototypes:x')).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidInput }),
      );
    }
    expect(() => checkPrototypeRequest({ classes: 2, dims: 1 }, 'prototypes:x')).not.toThrow();
  });

  it('says why an all-pairs optimiser does not take more than 20000 classes', () => {
    expect(allPairsUnsupported({ classes: 20_000, dims: 10 })).toBeUndefined();
    expect(allPairsUnsupported({ classes: 30_000, dims: 10 })).toMatch(/4\.5e\+8 pairs of 30000 prototypes.*square of the class count/);
  });
});

describe('largest-cosine gradient', () => {
  it('equals the finite differences of the mean largest cosine, including rows that are nearest to several', () => {
    // Rows 1 and 2 both have row 0 as their nearest: row 0 collects both their contributions.
    const unit = new Float32Array([1, 0, 0, 0.8, 0.6, 0, 0.6, -0.8, 0, -0.9, 0.1, 0.2]);
    const nearest = new Int32Array([1, 0, 0, 2]);
    const loss = (values: Float64Array) => {
      let total = 0;
      for (let i = 0; i < 4; i++) {
        let largest = -Infinity;
        for (let j = 0; j < 4; j++)
          if (j !== i)
            largest = Math.max(
              largest,
              values[i * 3]! * values[j * 3]! + values[i * 3 + 1]! * values[j * 3 + 1]! + values[i * 3 + 2]! * values[j * 3 + 2]!,
            );
        total += largest;
      }
      return total / 4;
    };
    const gradient = meanLargestCosineGradient(unit, nearest, 4, 3);
    for (let k = 0; k < unit.length; k++) {
      const [plus, minus] = [Float64Array.from(unit), Float64Array.from(unit)];
      plus[k] = plus[k]! + 1e-3;
      minus[k] = minus[k]! - 1e-3;
      expect(gradient[k]).toBeCloseTo((loss(plus) - loss(minus)) / 2e-3, 3);
    }
    expect([...gradient.subarray(0, 3)]).toEqual([expect.closeTo((0.8 + 0.8 + 0.6) / 4, 6), expect.closeTo((0.6 + 0.6 - 0.8) / 4, 6), 0]);
  });
});

describe('defineAllPairsStrategy', () => {
  const seen: unknown[] = [];
  const strategy = defineAllPairsStrategy({
    name: 'unit-rows',
    summary: 'seeded unit rows, not optimised',
    options: z.strictObject({ steps: z.number().int().min(1).default(3) }),
    optimize: async (ctx, request, options) => {
      seen.push(options);
      return drawGaussianUnitRows(ctx.rng, request.classes, request.dims);
    },
  });

  allPairsLimitCases(strategy, { steps: 2 }, { steps: 0 });

  it('is a prototype strategy that hands the request and its options to optimize', async () => {
    expect([strategy.kind, strategy.name]).toEqual(['prototypes', 'unit-rows']);
    seen.length = 0;
    const rows = await strategy.generate(testContext(2), { classes: 4, dims: 3 }, { steps: 5 });
    expect(rows).toEqual(drawGaussianUnitRows(createRng(2), 4, 3));
    expect(seen).toEqual([{ steps: 5 }]);
  });

  it('refuses a matrix too large for its float64 working copies, at 32 bytes a value', () => {
    expect(strategy.unsupported?.({ classes: 20_000, dims: 20_000 }, { steps: 3 })).toMatch(/32 bytes a value/);
  });
});
