import { checkPrototypes, createRegistry, createRng, ErrorCode, resolveOptions, type Matrix } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import simplexPrototypes, { simplexPrototypes as named } from './index.js';

const make = (seed: number, classes: number, dims: number, rotate = true) =>
  simplexPrototypes.generate({ seed, rng: createRng(seed) }, { classes, dims }, { rotate }) as Matrix;

/** P P^T in double precision, C x C, row-major. */
function gram({ rows, cols, data }: Matrix): Float64Array {
  const products = new Float64Array(rows * rows);
  products.forEach((_, cell) => {
    const [i, j] = [Math.floor(cell / rows), cell % rows];
    products[cell] = data.subarray(i * cols, (i + 1) * cols).reduce((sum, v, k) => sum + v * data[j * cols + k]!, 0);
  });
  return products;
}

/** How far P P^T is from the regular simplex's (C I - J) / (C - 1): 1 on the diagonal, -1/(C-1) off it. */
const largestAngleError = (simplex: Matrix) =>
  gram(simplex).reduce((worst, product, cell) => {
    const target = cell % (simplex.rows + 1) === 0 ? 1 : -1 / (simplex.rows - 1);
    return Math.max(worst, Math.abs(product - target));
  }, 0);

describe('simplex prototypes', () => {
  it('is the registered simplex strategy and needs D >= C - 1', () => {
    expect([named, createRegistry(named).get('prototypes', 'simplex')]).toEqual([simplexPrototypes, simplexPrototypes]);
    expect(resolveOptions(simplexPrototypes, undefined).rotate).toBe(true);
    const sizes = [
      [11, 10],
      [12, 10],
      [3, 0],
      [2, 1],
    ].map(([classes, dims]) => simplexPrototypes.unsupported?.({ classes: classes!, dims: dims! }, { rotate: true }));
    expect(sizes[0]).toBeUndefined();
    expect(sizes[1]).toMatch(/spans 11 dimensions.*got dims 10/);
    expect(sizes[2]).toMatch(/got dims 0/);
    expect(sizes[3]).toBeUndefined();
    expect(() => make(1, 6, 4)).toThrow(expect.objectContaining({ code: ErrorCode.Unsupported }));
  });

  it('puts every pair at cosine -1/(C-1) with unit rows, for random sizes (property)', () => {
    const sizes = createRng(77);
    for (let trial = 0; trial < 30; trial++) {
      const classes = 2 + sizes.int(60);
      const dims = classes - 1 + sizes.int(20);
      const simplex = make(trial, classes, dims, trial % 2 === 0);
      checkPrototypes(simplex, { classes, dims }, 'simplex');
      expect(largestAngleError(simplex)).toBeLessThan(3e-7);
    }
  });

  it('sums to zero (centred) and is exact at 1000 classes in 999 dimensions', () => {
    const simplex = make(5, 1000, 999);
    for (let k = 0; k < 999; k++) {
      let sum = 0;
      for (let i = 0; i < 1000; i++) sum += simplex.data[i * 999 + k]!;
      expect(Math.abs(sum)).toBeLessThan(1e-5);
    }
    expect(largestAngleError(make(6, 200, 199))).toBeLessThan(3e-7);
  });

  it('two classes are antipodal, also in one dimension', () => {
    expect([...make(1, 2, 1, false).data]).toEqual([1, -1]);
  });
});
