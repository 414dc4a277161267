import { checkPrototypes, createRegistry, createRng, resolveOptions, type Matrix, type PluginContext } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import randomPrototypes, { randomPrototypes as named } from './index.js';

const context = (seed: number): PluginContext => ({ seed, rng: createRng(seed) });

async function generate(seed: number, classes: number, dims: number): Promise<Matrix> {
  return randomPrototypes.generate(context(seed), { classes, dims }, {});
}

function meanAbsCosine(matrix: Matrix): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < matrix.rows; i++) {
    for (let j = i + 1; j < matrix.rows; j++) {
      let dot = 0;
      for (let k = 0; k < matrix.cols; k++) dot += matrix.data[i * matrix.cols + k]! * matrix.data[j * matrix.cols + k]!;
      sum += Math.abs(dot);
      pairs++;
    }
  }
  return sum / pairs;
}

describe('random prototypes', () => {
  it('is a valid plugin that registers, with no options and no size limit', () => {
    expect(named).toBe(randomPrototypes);
    expect(createRegistry(randomPrototypes).get('prototypes', 'random')).toBe(randomPrototypes);
    expect(resolveOptions(randomPrototypes, undefined)).toEqual({});
    expect(() => resolveOptions(randomPrototypes, { steps: 3 })).toThrow(/prototypes:random/);
    expect(randomPrototypes.unsupported?.({ classes: 1_000_000, dims: 1000 }, {})).toBeUndefined();
  });

  it('returns C x D finite unit rows', async () => {
    const prototypes = await generate(1, 37, 11);
    expect(prototypes.rows).toBe(37);
    expect(prototypes.cols).toBe(11);
    expect(prototypes.data).toBeInstanceOf(Float32Array);
    checkPrototypes(prototypes, { classes: 37, dims: 11 }, 'test');
    for (let i = 0; i < prototypes.rows; i++) {
      let sum = 0;
      for (let k = 0; k < prototypes.cols; k++) sum += prototypes.data[i * prototypes.cols + k]! ** 2;
      expect(Math.abs(Math.sqrt(sum) - 1)).toBeLessThan(1e-6);
    }
  });

  it('handles one dimension (every row is +1 or -1)', async () => {
    const prototypes = await generate(3, 8, 1);
    for (const value of prototypes.data) expect(Math.abs(value)).toBe(1);
  });

  it('gives identical bytes for the same seed and different ones for another seed', async () => {
    const a = await generate(42, 20, 7);
    const b = await generate(42, 20, 7);
    const c = await generate(43, 20, 7);
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(c.data.buffer))).toBe(false);
  });

  it('gets closer to orthogonal as the dimension grows (mean |cos| ~ sqrt(2 / (pi D)))', async () => {
    const means = [];
    for (const dims of [10, 100, 1000]) {
      const mean = meanAbsCosine(await generate(7, 60, dims));
      // 1770 pairs: the sample mean lies well within 15% of the expectation.
      const expected = Math.sqrt(2 / (Math.PI * dims));
      expect(mean).toBeGreaterThan(0.85 * expected);
      expect(mean).toBeLessThan(1.15 * expected);
      means.push(mean);
    }
    expect(means[1]!).toBeLessThan(means[0]! / 2);
    expect(means[2]!).toBeLessThan(means[1]! / 2);
  });
});
