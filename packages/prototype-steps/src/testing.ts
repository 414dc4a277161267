import { createRng, ErrorCode, resolveOptions, type Matrix, type PluginContext, type PrototypeStrategy } from '@hyperproto/core';
// Cases for a strategy's own vitest suite: vitest is an optional peer, needed only by who imports this module.
import { expect, it } from 'vitest';

/** Generates prototypes with a strategy's own defaults plus `options` (what each strategy's tests pass in). */
export type GenerateForTest = (
  ctx: PluginContext,
  request: { classes: number; dims: number },
  options: { steps: number; learningRate?: number },
) => Matrix | Promise<Matrix>;

/** Exact largest cosine between two different rows, in double precision. */
export function maxPairwiseCosine({ rows, cols, data }: Matrix): number {
  const dot = (i: number, j: number) => {
    let sum = 0;
    for (let k = 0; k < cols; k++) sum += data[i * cols + k]! * data[j * cols + k]!;
    return sum;
  };
  let largest = -Infinity;
  for (let i = 0; i < rows; i++)
    for (let j = i + 1; j < rows; j++) largest = Math.max(largest, dot(i, j) / Math.sqrt(dot(i, i) * dot(j, j)));
  return largest;
}

export const testContext = (seed: number, extra: Partial<PluginContext> = {}): PluginContext => ({ seed, rng: createRng(seed), ...extra });

/**
 * The behaviour every optimiser of the mean largest cosine shares, as vitest cases: unit rows, better separation
 * than its random start, the known optima for 4 and 6 points on the 2-sphere, seeded bytes, progress and abort.
 * `settle` is the learning rate at which the strategy settles on an optimum rather than circling it.
 */
export function largestCosineOptimizerCases(generate: GenerateForTest, settle?: number): void {
  const run = async (
    seed: number,
    classes: number,
    dims: number,
    steps: number,
    extra: Partial<PluginContext> = {},
    learningRate?: number,
  ) => generate(testContext(seed, extra), { classes, dims }, learningRate === undefined ? { steps } : { steps, learningRate });

  it('returns finite unit rows far better separated than random directions', async () => {
    const prototypes = await run(5, 20, 5, 200);
    expect([prototypes.rows, prototypes.cols, prototypes.data.length]).toEqual([20, 5, 100]);
    expect(prototypes.data).toBeInstanceOf(Float32Array);
    for (let i = 0; i < 20; i++) {
      const row = [...prototypes.data.subarray(i * 5, i * 5 + 5)];
      expect(row.every(Number.isFinite)).toBe(true);
      expect(Math.abs(Math.hypot(...row) - 1)).toBeLessThan(1e-5);
    }
    const random = { rows: 20, cols: 5, data: createRng(5).fillNormal(new Float32Array(100)) };
    expect(maxPairwiseCosine(prototypes)).toBeLessThan(maxPairwiseCosine(random) - 0.1);
  });

  it('finds the regular tetrahedron for 4 classes in 3 dimensions (max cos -1/3)', async () => {
    expect(Math.abs(maxPairwiseCosine(await run(1, 4, 3, 1000, {}, settle)) + 1 / 3)).toBeLessThan(0.05);
  });

  it('finds the octahedron for 6 classes in 3 dimensions (max cos 0)', async () => {
    expect(Math.abs(maxPairwiseCosine(await run(2, 6, 3, 1000, {}, settle)))).toBeLessThan(0.05);
  });

  it('gives identical bytes for the same seed', async () => {
    const [a, b, c] = [await run(9, 12, 4, 50), await run(9, 12, 4, 50), await run(10, 12, 4, 50)];
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(c.data.buffer))).toBe(false);
  });

  it('reports progress a few dozen times, done <= total, ending at total', async () => {
    const calls: [number, number, string | undefined][] = [];
    await run(3, 10, 4, 200, { progress: (done, total, label) => calls.push([done, total, label]) });
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

  it('stops with E_ABORTED when the signal is aborted', async () => {
    const controller = new AbortController();
    await expect(run(4, 10, 4, 100_000, { signal: controller.signal, progress: () => controller.abort() })).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
    await expect(run(4, 10, 4, 10, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: ErrorCode.Aborted });
  });
}

/**
 * The size limits every all-pairs strategy shares, as vitest cases: it says why it refuses more than 20,000 classes,
 * and a direct call refuses impossible sizes (E_INVALID_INPUT, E_UNSUPPORTED) and `valid` spoilt by `bad`
 * (E_INVALID_OPTIONS).
 */
export function allPairsLimitCases(
  strategy: PrototypeStrategy,
  valid: Readonly<Record<string, unknown>>,
  bad: Readonly<Record<string, unknown>>,
): void {
  it('says why it does not take more than 20000 classes', () => {
    const options = resolveOptions(strategy, {});
    expect(strategy.unsupported?.({ classes: 20_000, dims: 100 }, options)).toBeUndefined();
    expect(strategy.unsupported?.({ classes: 30_000, dims: 100 }, options)).toMatch(/4\.5e\+8 pairs of 30000 prototypes.*at most 20000/);
  });

  it('rejects impossible sizes and bad options when called directly', async () => {
    const generate = (classes: number, dims: number, options: Readonly<Record<string, unknown>>) =>
      strategy.generate(testContext(1), { classes, dims }, options);
    await expect(generate(0, 3, valid)).rejects.toMatchObject({ code: ErrorCode.InvalidInput });
    await expect(generate(30_000, 3, valid)).rejects.toMatchObject({ code: ErrorCode.Unsupported });
    await expect(generate(3, 3, { ...valid, ...bad })).rejects.toMatchObject({ code: ErrorCode.InvalidOptions });
  });
}
