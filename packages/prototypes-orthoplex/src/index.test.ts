import { checkPrototypes, createRegistry, createRng, ErrorCode, resolveOptions, type Matrix } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import orthoplexPrototypes, { orthoplexPrototypes as named } from './index.js';

const make = (seed: number, classes: number, dims: number, rotate = true) =>
  orthoplexPrototypes.generate({ seed, rng: createRng(seed) }, { classes, dims }, { rotate }) as Matrix;

/** The set of pairwise cosines (distinct values), each row's single non-zero axis, and its value. */
function structure(m: Matrix) {
  const axis = Array.from({ length: m.rows }, (_, i) => m.data.subarray(i * m.cols, (i + 1) * m.cols).findIndex((v) => v !== 0));
  const cosines = new Set<number>();
  for (let i = 0; i < m.rows; i++)
    for (let j = i + 1; j < m.rows; j++)
      cosines.add(axis[i] === axis[j] ? m.data[i * m.cols + axis[i]!]! * m.data[j * m.cols + axis[j]!]! : 0);
  return { axis, cosines };
}

describe('orthoplex prototypes', () => {
  it('is registered under its name and takes up to 2 D classes', () => {
    const registry = createRegistry(named);
    expect(registry.get('prototypes', 'orthoplex')).toBe(orthoplexPrototypes);
    expect(resolveOptions(orthoplexPrototypes, { rotate: false })).toEqual({ rotate: false });
    for (const dims of [1, 10]) expect(orthoplexPrototypes.unsupported?.({ classes: 2 * dims, dims }, { rotate: true })).toBeUndefined();
    expect(orthoplexPrototypes.unsupported?.({ classes: 21, dims: 10 }, { rotate: true })).toMatch(
      /dims >= classes \/ 2 \(11\), got dims 10/,
    );
    expect(() => make(1, 9, 4)).toThrow(expect.objectContaining({ code: ErrorCode.Unsupported }));
  });

  it('has unit rows that are orthogonal or opposite, for random sizes (property)', () => {
    const sizes = createRng(11);
    for (let trial = 0; trial < 40; trial++) {
      const dims = 1 + sizes.int(50);
      const classes = 2 + sizes.int(2 * dims - 1);
      const prototypes = make(trial, classes, dims, trial % 3 !== 0);
      checkPrototypes(prototypes, { classes, dims }, 'orthoplex');
      const { axis, cosines } = structure(prototypes);
      // Each axis used at most twice, and then with opposite signs.
      expect([...cosines].every((c) => c === 0 || c === -1)).toBe(true);
      expect(Math.max(...[...cosines])).toBe(classes > 2 || dims > 1 ? 0 : -1);
      expect(new Set(axis).size).toBe(Math.min(classes, dims));
    }
  });

  it('without rotation uses e_0, e_1, ... then their negatives', () => {
    expect([...make(1, 3, 2, false).data]).toEqual([1, 0, 0, 1, -1, 0]);
  });
});
