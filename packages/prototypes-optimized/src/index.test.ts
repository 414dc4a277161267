import { createRegistry, resolveOptions } from '@hyperproto/core';
import { meanLargestCosineGradient } from '@hyperproto/prototype-steps';
import { allPairsLimitCases, largestCosineOptimizerCases, testContext } from '@hyperproto/prototype-steps/testing';
import { describe, expect, it } from 'vitest';
import optimizedPrototypes, { optimizedPrototypes as named } from './index.js';
import { normPenaltyGradient } from './optimize-with-norm-penalty.js';

describe('optimized prototypes', () => {
  it('registers, with validated options and their defaults', () => {
    expect(named).toBe(optimizedPrototypes);
    expect(createRegistry(optimizedPrototypes).get('prototypes', 'optimized')).toBe(optimizedPrototypes);
    expect(resolveOptions(optimizedPrototypes, {})).toEqual({ steps: 1000, learningRate: 0.01 });
    for (const bad of [{ steps: 0 }, { steps: 2.5 }, { learningRate: 0 }, { learningRate: -1 }, { momentum: 0.9 }]) {
      expect(() => resolveOptions(optimizedPrototypes, bad)).toThrow(/prototypes:optimized/);
    }
  });

  allPairsLimitCases(optimizedPrototypes, { steps: 5, learningRate: 0.01 }, { steps: -1 });

  largestCosineOptimizerCases((ctx, request, options) =>
    optimizedPrototypes.generate(ctx, request, resolveOptions(optimizedPrototypes, options)),
  );

  it('follows the gradient of its loss: mean largest cosine of the unit rows plus mean |norm - 1|', () => {
    const classes = 5;
    const dims = 3;
    const rows = testContext(7).rng.fillNormal(new Float32Array(classes * dims));
    const loss = (values: Float64Array) => {
      const unit = values.map((_, k) => values[k]! / norm(values, Math.floor(k / dims), dims));
      let total = 0;
      for (let i = 0; i < classes; i++) {
        let largest = -Infinity;
        for (let j = 0; j < classes; j++) if (j !== i) largest = Math.max(largest, dot(unit, i, j, dims));
        total += largest + Math.abs(norm(values, i, dims) - 1);
      }
      return total / classes;
    };
    const norms = Float64Array.from({ length: classes }, (_, i) => norm(rows, i, dims));
    const unit = Float32Array.from(rows, (value, k) => value / norms[Math.floor(k / dims)]!);
    const nearest = Int32Array.from({ length: classes }, (_, i) => {
      let best = -1;
      for (let j = 0; j < classes; j++) if (j !== i && (best < 0 || dot(unit, i, j, dims) > dot(unit, i, best, dims))) best = j;
      return best;
    });
    const gradient = normPenaltyGradient(rows, norms, meanLargestCosineGradient(unit, nearest, classes, dims), classes, dims);
    const h = 1e-6;
    for (let k = 0; k < rows.length; k++) {
      const plus = Float64Array.from(rows);
      const minus = Float64Array.from(rows);
      plus[k] = plus[k]! + h;
      minus[k] = minus[k]! - h;
      expect(gradient[k]).toBeCloseTo((loss(plus) - loss(minus)) / (2 * h), 5);
    }
  });
});

function dot(values: ArrayLike<number>, i: number, j: number, dims: number): number {
  let sum = 0;
  for (let k = 0; k < dims; k++) sum += values[i * dims + k]! * values[j * dims + k]!;
  return sum;
}

function norm(values: ArrayLike<number>, i: number, dims: number): number {
  return Math.sqrt(dot(values, i, i, dims));
}
