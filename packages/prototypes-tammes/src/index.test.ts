import { createRegistry, resolveOptions } from '@hyperproto/core';
import { allPairsLimitCases, largestCosineOptimizerCases } from '@hyperproto/prototype-steps/testing';
import { describe, expect, it } from 'vitest';
import tammesPrototypes, { tammesPrototypes as named } from './index.js';

describe('tammes prototypes', () => {
  it('registers, with validated options and their defaults', () => {
    expect(named).toBe(tammesPrototypes);
    expect(createRegistry(tammesPrototypes).get('prototypes', 'tammes')).toBe(tammesPrototypes);
    expect(resolveOptions(tammesPrototypes, {})).toEqual({ steps: 1000, learningRate: 0.1, momentum: 0.9 });
    for (const bad of [
      { steps: 0 },
      { steps: 2.5 },
      { learningRate: 0 },
      { learningRate: -1 },
      { momentum: 1 },
      { momentum: -0.1 },
      { decay: 0.5 },
    ]) {
      expect(() => resolveOptions(tammesPrototypes, bad)).toThrow(/prototypes:tammes/);
    }
  });

  allPairsLimitCases(tammesPrototypes, { steps: 5, learningRate: 0.1, momentum: 0.9 }, { momentum: 1 });

  // With the default step (0.1, momentum 0.9) the max-cosine loss, which moves only each row's nearest pair,
  // keeps the rows circling the optimum by about 0.1 in cosine; a smaller step settles on it.
  largestCosineOptimizerCases(
    (ctx, request, options) => tammesPrototypes.generate(ctx, request, resolveOptions(tammesPrototypes, options)),
    0.02,
  );
});
