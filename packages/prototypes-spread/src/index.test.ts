import { existsSync, readdirSync } from 'node:fs';
import {
  checkPrototypes,
  createMatrix,
  createRegistry,
  createRng,
  ErrorCode,
  resolveOptions,
  type Matrix,
  type PluginContext,
} from '@hyperproto/core';
import { withScanner } from '@hyperproto/similarity-scan';
import { describe, expect, it } from 'vitest';
import spreadPrototypes, { spreadPrototypes as named, type SpreadPrototypeOptions } from './index.js';

const context = (seed: number, extra: Partial<PluginContext> = {}): PluginContext => ({ seed, rng: createRng(seed), ...extra });

function generate(
  seed: number,
  classes: number,
  dims: number,
  options: Partial<SpreadPrototypeOptions> = {},
  extra: Partial<PluginContext> = {},
) {
  return spreadPrototypes.generate(context(seed, extra), { classes, dims }, resolveOptions(spreadPrototypes, options));
}

const largestCosine = (m: Matrix) => withScanner((scanner) => scanner.summarize(m)).then((s) => s.largestCosine);

describe('spread prototypes', () => {
  it('registers, with validated options and their defaults', () => {
    expect(named).toBe(spreadPrototypes);
    expect(createRegistry(spreadPrototypes).get('prototypes', 'spread')).toBe(spreadPrototypes);
    expect(resolveOptions(spreadPrototypes, {})).toMatchObject({
      steps: expect.any(Number),
      neighbours: expect.any(Number),
      refreshEvery: expect.any(Number),
    });
    for (const bad of [{ steps: 0 }, { neighbours: 0 }, { temperature: 0 }, { decayTo: 2 }, { start: 'codes' }, { momentum: 0.9 }]) {
      expect(() => resolveOptions(spreadPrototypes, bad)).toThrow(/prototypes:spread/);
    }
    expect(spreadPrototypes.unsupported?.({ classes: 1_000_000, dims: 100 }, resolveOptions(spreadPrototypes, {}))).toBeUndefined();
  });

  it('returns unit rows far better separated than the random directions it starts from', async () => {
    const start = createRng(5).fillNormal(new Float32Array(300 * 12));
    const random = await largestCosine(createMatrix(300, 12, start));
    const prototypes = await generate(5, 300, 12, { steps: 150, neighbours: 8, refreshEvery: 5, learningRate: 0.01 });
    checkPrototypes(prototypes, { classes: 300, dims: 12 }, 'spread');
    expect(await largestCosine(prototypes)).toBeLessThan(random - 0.2);
  });

  it('finds the regular tetrahedron for 4 classes in 3 dimensions (neighbours capped at C - 1)', async () => {
    const prototypes = await generate(1, 4, 3, { steps: 300, neighbours: 16, learningRate: 0.01 });
    expect(Math.abs((await largestCosine(prototypes)) + 1 / 3)).toBeLessThan(0.02);
  });

  it('refines given start rows, and refuses ones of the wrong shape', async () => {
    const start = createMatrix(6, 3, new Float32Array([1, 0, 0, 0.9, 0.1, 0, 0, 1, 0, 0, 0, 1, -1, 0, 0, 0, -1, 0.2]));
    const refined = await generate(2, 6, 3, { steps: 300, learningRate: 0.01, start });
    expect(Math.abs(await largestCosine(refined))).toBeLessThan(0.02);
    await expect(generate(2, 5, 3, { steps: 3, start })).rejects.toMatchObject({ code: ErrorCode.InvalidOptions });
  });

  it('is deterministic: the same seed gives the same rows, another seed other rows', async () => {
    const [first, again, other] = await Promise.all([9, 9, 10].map((seed) => generate(seed, 40, 5, { steps: 30 })));
    expect(again!.data).toEqual(first!.data);
    expect(other!.data).not.toEqual(first!.data);
  });

  it('reports progress up to the total and stops with E_ABORTED when aborted', async () => {
    const calls: [number, number][] = [];
    await generate(3, 30, 4, { steps: 40, refreshEvery: 10 }, { progress: (done, total) => calls.push([done, total]) });
    expect(calls).toEqual([
      [10, 40],
      [20, 40],
      [30, 40],
      [40, 40],
    ]);
    const controller = new AbortController();
    const run = generate(4, 30, 4, { steps: 100_000 }, { signal: controller.signal, progress: () => controller.abort() });
    await expect(run).rejects.toMatchObject({ code: ErrorCode.Aborted });
    await expect(generate(4, 30, 4, {}, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: ErrorCode.Aborted });
  });

  it('rejects fewer than 2 classes or 0 dims when called directly', async () => {
    await expect(generate(1, 1, 3)).rejects.toMatchObject({ code: ErrorCode.InvalidInput });
    await expect(generate(1, 3, 0)).rejects.toMatchObject({ code: ErrorCode.InvalidInput });
  });
});

describe('spread prototypes on a thread budget', () => {
  it.skipIf(!existsSync('/proc/self/task'))(
    'open their sessions with the threads the context hands them (Linux: counted in /proc)',
    async () => {
      // Counted when the first progress is reported: the scan's and the steps' sessions are open then.
      const threadsWhileRunning = async (threads: number) => {
        let seen = 0;
        await generate(3, 200, 8, { steps: 10 }, { threads, progress: () => (seen ||= readdirSync('/proc/self/task').length) });
        return seen;
      };
      const wide = await threadsWhileRunning(4);
      const narrow = await threadsWhileRunning(1);
      // At least the neighbour scan's session and the steps' session, each with threads - 1 pool threads.
      expect(wide - narrow).toBeGreaterThanOrEqual(6);
    },
  );
});
