import { createRegistry, ErrorCode, resolveOptions } from '@hyperproto/core';
import { largestCosineOptimizerCases, testContext } from '@hyperproto/prototype-steps/testing';
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

  it('says why it does not take more than 20000 classes', () => {
    const options = resolveOptions(tammesPrototypes, {});
    expect(tammesPrototypes.unsupported?.({ classes: 20_000, dims: 100 }, options)).toBeUndefined();
    expect(tammesPrototypes.unsupported?.({ classes: 30_000, dims: 100 }, options)).toMatch(
      /4\.5e\+8 pairs of 30000 prototypes.*at most 20000/,
    );
  });

  // With the default step (0.1, momentum 0.9) the max-cosine loss, which moves only each row's nearest pair,
  // keeps the rows circling the optimum by about 0.1 in cosine; a smaller step settles on it.
  largestCosineOptimizerCases(
    (ctx, request, options) => tammesPrototypes.generate(ctx, request, resolveOptions(tammesPrototypes, options)),
    0.02,
  );

  it('rejects impossible sizes and bad options when called directly', async () => {
    const generate = (classes: number, dims: number, momentum: number) =>
      tammesPrototypes.generate(testContext(1), { classes, dims }, { steps: 5, learningRate: 0.1, momentum });
    await expect(generate(0, 3, 0.9)).rejects.toMatchObject({ code: ErrorCode.InvalidInput });
    await expect(generate(30_000, 3, 0.9)).rejects.toMatchObject({ code: ErrorCode.Unsupported });
    await expect(generate(3, 3, 1)).rejects.toMatchObject({ code: ErrorCode.InvalidOptions });
  });
});
