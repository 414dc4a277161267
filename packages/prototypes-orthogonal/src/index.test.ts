import { checkPrototypes, createRegistry, createRng, ErrorCode, resolveOptions, type Matrix } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import orthogonalPrototypes, { orthogonalPrototypes as named } from './index.js';

const make = (seed: number, classes: number, dims: number, rotate = true) =>
  orthogonalPrototypes.generate({ seed, rng: createRng(seed) }, { classes, dims }, { rotate }) as Promise<Matrix>;

/** Largest |<p_i, p_j> - [i = j]| in double precision: 0 for orthonormal rows. */
function gramError({ rows, cols, data }: Matrix): number {
  let worst = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = i; j < rows; j++) {
      let dot = 0;
      for (let k = 0; k < cols; k++) dot += data[i * cols + k]! * data[j * cols + k]!;
      worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
    }
  }
  return worst;
}

describe('orthogonal prototypes', () => {
  it('registers, rotating by default, and serves exactly the sizes with D >= C', async () => {
    expect(createRegistry(named).get('prototypes', 'orthogonal')).toBe(orthogonalPrototypes);
    expect(resolveOptions(orthogonalPrototypes, {})).toEqual({ rotate: true });
    const why = (classes: number, dims: number) => orthogonalPrototypes.unsupported?.({ classes, dims }, { rotate: true });
    expect([why(10, 10), why(2, 1000)]).toEqual([undefined, undefined]);
    expect(why(11, 10)).toMatch(/dims >= classes \(11\), got dims 10/);
    expect(why(1, 10)).toMatch(/classes >= 2/);
    await expect(make(1, 5, 4)).rejects.toThrow(expect.objectContaining({ code: ErrorCode.Unsupported }));
  });

  it('refuses a matrix too large to allocate with its size, before allocating', async () => {
    expect(orthogonalPrototypes.unsupported?.({ classes: 100_000, dims: 100_000 }, { rotate: true })).toMatch(/would need 111\.8 GiB/);
    await expect(make(1, 100_000, 100_000)).rejects.toThrow(expect.objectContaining({ code: ErrorCode.Unsupported }));
  });

  it('stops soon after the signal is aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    const run = orthogonalPrototypes.generate(
      { seed: 0, rng: createRng(0), signal: controller.signal },
      { classes: 3000, dims: 3000 },
      { rotate: true },
    );
    await expect(run).rejects.toThrow(expect.objectContaining({ code: ErrorCode.Aborted }));
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('gives orthonormal rows for random sizes (property)', async () => {
    const sizes = createRng(2024);
    for (let trial = 0; trial < 25; trial++) {
      const classes = 2 + sizes.int(40);
      const dims = classes + sizes.int(30);
      const prototypes = await make(trial, classes, dims);
      checkPrototypes(prototypes, { classes, dims }, 'orthogonal');
      expect(gramError(prototypes)).toBeLessThan(2e-7 * Math.sqrt(dims));
    }
  });

  it('is dense when rotated, the axes when not, and the same for the same seed', async () => {
    const rotated = await make(3, 6, 9);
    expect(rotated.data.filter((v) => v === 0).length).toBe(0);
    expect(await make(3, 6, 9)).toEqual(rotated);
    expect(await make(4, 6, 9)).not.toEqual(rotated);
    const axes = await make(3, 3, 4, false);
    expect([...axes.data]).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
  });

  it('makes 300 orthonormal rows in 300 dimensions', async () => {
    expect(gramError(await make(5, 300, 300))).toBeLessThan(1e-6);
  });
});
