import { createRegistry, createRng, ErrorCode, resolveOptions, type Matrix, type PluginContext } from '@hyperproto/core';
import { initTfjs } from '@hyperproto/tfjs-backend';
import { beforeAll, describe, expect, it } from 'vitest';
import tammesPrototypes, { tammesPrototypes as named, type TammesPrototypeOptions } from './index.js';

const context = (seed: number, extra: Partial<PluginContext> = {}): PluginContext => ({ seed, rng: createRng(seed), ...extra });

function generate(seed: number, classes: number, dims: number, options: Partial<TammesPrototypeOptions> = {}, extra: Partial<PluginContext> = {}) {
  return tammesPrototypes.generate(context(seed, extra), { classes, dims }, resolveOptions(tammesPrototypes, options));
}

/** Exact largest cosine between two different rows, in double precision. */
function maxPairwiseCosine(matrix: Matrix): number {
  const { rows, cols, data } = matrix;
  const norm = (i: number) => Math.sqrt(dot(i, i));
  const dot = (i: number, j: number) => {
    let sum = 0;
    for (let k = 0; k < cols; k++) sum += data[i * cols + k]! * data[j * cols + k]!;
    return sum;
  };
  let largest = -Infinity;
  for (let i = 0; i < rows; i++) for (let j = i + 1; j < rows; j++) largest = Math.max(largest, dot(i, j) / (norm(i) * norm(j)));
  return largest;
}

/** The N(0, I) draws the strategy starts from for this seed. */
function startingPoints(seed: number, classes: number, dims: number): Matrix {
  return { rows: classes, cols: dims, data: createRng(seed).fillNormal(new Float32Array(classes * dims)) };
}

function expectUnitRows(matrix: Matrix, classes: number, dims: number): void {
  expect(matrix.rows).toBe(classes);
  expect(matrix.cols).toBe(dims);
  expect(matrix.data).toBeInstanceOf(Float32Array);
  expect(matrix.data.length).toBe(classes * dims);
  for (let i = 0; i < classes; i++) {
    let sum = 0;
    for (let k = 0; k < dims; k++) {
      const value = matrix.data[i * dims + k]!;
      expect(Number.isFinite(value)).toBe(true);
      sum += value * value;
    }
    expect(Math.abs(Math.sqrt(sum) - 1)).toBeLessThan(1e-5);
  }
}

describe('tammes prototypes', () => {
  beforeAll(async () => {
    await initTfjs();
  });

  it('registers, with validated options and their defaults', () => {
    expect(named).toBe(tammesPrototypes);
    expect(createRegistry(tammesPrototypes).get('prototypes', 'tammes')).toBe(tammesPrototypes);
    expect(resolveOptions(tammesPrototypes, {})).toEqual({ steps: 1000, learningRate: 0.1, momentum: 0.9 });
    for (const bad of [{ steps: 0 }, { steps: 2.5 }, { learningRate: 0 }, { learningRate: -1 }, { momentum: 1 }, { momentum: -0.1 }, { decay: 0.5 }]) {
      expect(() => resolveOptions(tammesPrototypes, bad)).toThrow(/prototypes:tammes/);
    }
  });

  it('says why it cannot serve more than 20000 classes', () => {
    const options = resolveOptions(tammesPrototypes, {});
    expect(tammesPrototypes.unsupported?.({ classes: 20_000, dims: 100 }, options)).toBeUndefined();
    expect(tammesPrototypes.unsupported?.({ classes: 30_000, dims: 100 }, options)).toMatch(/30000 x 30000.*3\.6 GB/);
  });

  it('returns finite unit rows far better separated than the random draws it starts from', async () => {
    const prototypes = await generate(5, 20, 5, { steps: 200 });
    expectUnitRows(prototypes, 20, 5);
    const random = maxPairwiseCosine(startingPoints(5, 20, 5));
    expect(maxPairwiseCosine(prototypes)).toBeLessThan(random - 0.1);
  });

  // With the default step (0.1, momentum 0.9) the max-cosine loss, which moves only each row's nearest pair,
  // keeps the rows circling the optimum by about 0.1 in cosine; a smaller step settles on it.
  it('finds the regular tetrahedron for 4 classes in 3 dimensions (max cos -1/3)', async () => {
    const prototypes = await generate(1, 4, 3, { steps: 1000, learningRate: 0.02 });
    expect(Math.abs(maxPairwiseCosine(prototypes) + 1 / 3)).toBeLessThan(0.05);
  });

  it('finds the octahedron for 6 classes in 3 dimensions (max cos 0)', async () => {
    const prototypes = await generate(2, 6, 3, { steps: 1000, learningRate: 0.02 });
    expect(Math.abs(maxPairwiseCosine(prototypes))).toBeLessThan(0.05);
  });

  it('gives identical bytes for the same seed', async () => {
    const a = await generate(9, 12, 4, { steps: 50 });
    const b = await generate(9, 12, 4, { steps: 50 });
    const c = await generate(10, 12, 4, { steps: 50 });
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(c.data.buffer))).toBe(false);
  });

  it('reports progress a few dozen times, done <= total, ending at total', async () => {
    const calls: [number, number, string | undefined][] = [];
    await generate(3, 10, 4, { steps: 200 }, { progress: (done, total, label) => calls.push([done, total, label]) });
    expect(calls.length).toBeGreaterThan(10);
    expect(calls.length).toBeLessThan(60);
    for (const [done, total, label] of calls) {
      expect(total).toBe(200);
      expect(done).toBeLessThanOrEqual(total);
      expect(label).toMatch(/^max cos -?\d\.\d{3}$/);
    }
    expect(calls.map(([done]) => done)).toEqual([...calls.map(([done]) => done)].sort((x, y) => x - y));
    expect(calls.at(-1)![0]).toBe(200);
  });

  it('stops with E_ABORTED when the signal is aborted, leaking no tensors', async () => {
    const { tf } = await initTfjs();
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const run = generate(4, 10, 4, { steps: 100_000 }, { signal: controller.signal, progress: () => controller.abort() });
    await expect(run).rejects.toMatchObject({ code: ErrorCode.Aborted });
    expect(tf.memory().numTensors).toBe(before);

    await expect(generate(4, 10, 4, {}, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: ErrorCode.Aborted });
  });

  it('leaks no tensors', async () => {
    const { tf } = await initTfjs();
    await generate(6, 8, 3, { steps: 20 });
    const before = tf.memory().numTensors;
    await generate(6, 8, 3, { steps: 20 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects impossible sizes and bad options when called directly', async () => {
    await expect(tammesPrototypes.generate(context(1), { classes: 0, dims: 3 }, { steps: 5, learningRate: 0.1, momentum: 0.9 })).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
    });
    await expect(tammesPrototypes.generate(context(1), { classes: 30_000, dims: 3 }, { steps: 5, learningRate: 0.1, momentum: 0.9 })).rejects.toMatchObject({
      code: ErrorCode.Unsupported,
    });
    await expect(tammesPrototypes.generate(context(1), { classes: 3, dims: 3 }, { steps: 3, learningRate: 0.1, momentum: 1 })).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
    });
  });
});
