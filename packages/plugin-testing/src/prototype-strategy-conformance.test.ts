import {
  createMatrix,
  definePrototypeStrategy,
  ErrorCode,
  HyperprotoError,
  z,
  type Matrix,
  type PrototypeStrategy,
} from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { conformanceExpectations } from './test-support/conformance-expectations.js';
import { runConformanceCases } from './conformance-case.js';
import { prototypeStrategyConformance } from './prototype-strategy-conformance.js';

const { expectAllPass, expectOnlyFailure } = conformanceExpectations('prototypes');

const unitRows = (classes: number, dims: number, fill: (data: Float32Array) => void): Matrix => {
  const m = createMatrix(classes, dims);
  fill(m.data);
  for (let i = 0; i < classes; i++) {
    const row = m.data.subarray(i * dims, (i + 1) * dims);
    const norm = Math.hypot(...row);
    for (let k = 0; k < dims; k++) row[k]! /= norm;
  }
  return m;
};

const strategy = (name: string, generate: PrototypeStrategy['generate'], extra: Partial<PrototypeStrategy> = {}) =>
  definePrototypeStrategy({ name, summary: 'test strategy', options: z.object({}).strict(), generate, ...extra });

/** Seeded Gaussian directions that stop with E_ABORTED: what a well-behaved strategy does. */
const seededRandom = strategy('seeded', (ctx, { classes, dims }) => {
  if (ctx.signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, 'interrupted');
  return unitRows(classes, dims, (data) => ctx.rng.fillNormal(data));
});

/** The README's example: deterministic signed axes, with a size limit. */
const axes = strategy(
  'axes',
  (_ctx, { classes, dims }) => {
    const m = createMatrix(classes, dims);
    for (let i = 0; i < classes; i++) m.data[i * dims + (i >> 1)] = i % 2 ? -1 : 1;
    return m;
  },
  { unsupported: ({ classes, dims }) => (classes > 2 * dims ? 'needs dims >= classes / 2' : undefined) },
);

describe('prototypeStrategyConformance', () => {
  it('passes a seeded strategy that honours the signal, and names its cases after the sizes', async () => {
    const cases = prototypeStrategyConformance(seededRandom);
    expect(cases.map((c) => c.name)).toContain('returns 12 x 16 float32 finite unit rows');
    await expectAllPass(cases);
  });

  it('passes a deterministic strategy declared as such, skipping the sizes it declares unsupported', async () => {
    await expectAllPass(
      prototypeStrategyConformance(axes, {
        deterministic: true,
        sizes: [
          { classes: 30, dims: 4 },
          { classes: 6, dims: 3 },
        ],
      }),
    );
  });

  it('fails a strategy whose rows do not depend on the seed, unless declared deterministic', async () => {
    await expectOnlyFailure(
      prototypeStrategyConformance(axes),
      /identical bytes for the same seed/,
      /seeds 1 and 2 gave identical rows .*deterministic: true/,
    );
    await expectOnlyFailure(
      prototypeStrategyConformance(seededRandom, { deterministic: true }),
      /deterministic/,
      /told it is deterministic/,
    );
  });

  it('fails rows that are not of unit norm', async () => {
    const doubled = strategy('doubled', (ctx, request) => {
      const m = seededRandom.generate(ctx, request, {}) as Matrix;
      return { ...m, data: m.data.map((x) => 2 * x) };
    });
    const failures = await runConformanceCases(prototypeStrategyConformance(doubled));
    expect(failures.map((f) => f.name)).toEqual([
      'returns 10 x 5 float32 finite unit rows',
      'returns 12 x 16 float32 finite unit rows',
      'returns 3 x 2 float32 finite unit rows',
    ]);
    expect(failures[0]!.error.message).toMatch(
      /^prototypes:doubled: generate\(10 x 5\) row 0 has L2 norm 2\.000000; expected unit rows \(\|norm - 1\| < 0\.0001\)$/,
    );
  });

  it('fails non-finite values, float64 data and the wrong shape', async () => {
    const sizes = [{ classes: 4, dims: 3 }];
    const withNaN = strategy('nan', (ctx, request) => {
      const m = seededRandom.generate(ctx, request, {}) as Matrix;
      m.data[4] = Number.NaN;
      return m;
    });
    await expectOnlyFailure(
      prototypeStrategyConformance(withNaN, { sizes }),
      /unit rows/,
      /row 1 has the non-finite value NaN in column 1/,
    );
    const float64 = strategy('float64', (ctx, request) => {
      const m = seededRandom.generate(ctx, request, {}) as Matrix;
      return { ...m, data: Float64Array.from(m.data) as unknown as Float32Array };
    });
    await expectOnlyFailure(
      prototypeStrategyConformance(float64, { sizes }),
      /unit rows/,
      /data is a Float64Array; expected a Float32Array/,
    );
    const transposed = strategy('transposed', (ctx, { classes, dims }) => seededRandom.generate(ctx, { classes: dims, dims: classes }, {}));
    await expectOnlyFailure(prototypeStrategyConformance(transposed, { sizes }), /unit rows/, /returned 3 x 4; expected 4 x 3/);
  });

  it('fails unseeded randomness', async () => {
    const unseeded = strategy('unseeded', (_ctx, { classes, dims }) =>
      unitRows(classes, dims, (data) => data.forEach((_, i) => (data[i] = Math.random() - 0.5))),
    );
    await expectOnlyFailure(
      prototypeStrategyConformance(unseeded),
      /identical bytes/,
      /seed 1 gave different bytes on two runs .*never Math\.random/,
    );
  });

  it('fails an unsupported that answers with something other than undefined or a reason', async () => {
    const empty = strategy('empty-reason', seededRandom.generate, { unsupported: () => '' });
    // Every case but the schema's asks unsupported first, so each of them reports it.
    const emptyFailures = await runConformanceCases(prototypeStrategyConformance(empty));
    expect(emptyFailures).toHaveLength(6);
    for (const { error } of emptyFailures)
      expect(error.message).toMatch(
        /^prototypes:empty-reason: unsupported\(\d+ x \d+\) returned ""; expected undefined \(served\) or a non-empty reason/,
      );
    const none = strategy('serves-none', seededRandom.generate, { unsupported: () => 'never' });
    const failures = await runConformanceCases(prototypeStrategyConformance(none));
    expect(failures.map((f) => f.error.message)).toContain(
      "prototypes:serves-none: declares every size unsupported (10 x 5, 12 x 16, 3 x 2); pass sizes it serves in the suite's options",
    );
  });

  it('fails options without defaults', async () => {
    const needsSteps = definePrototypeStrategy({ ...seededRandom, name: 'needs-steps', options: z.object({ steps: z.number() }) });
    const failures = await runConformanceCases(prototypeStrategyConformance(needsSteps, { options: { steps: 3 } }));
    expect(failures.map((f) => f.name)).toEqual(['options schema parses {} (the defaults)']);
    expect(failures[0]!.error.message).toMatch(/^prototypes:needs-steps: its options schema refuses \{\}/);
  });

  it('fails a strategy that ignores an aborted signal in a long loop, within the time limit', async () => {
    const stubborn = strategy('stubborn', async (ctx, request) => {
      if (ctx.signal?.aborted)
        for (let started = Date.now(); Date.now() - started < 1000; ) await new Promise((resolve) => setTimeout(resolve, 5));
      return seededRandom.generate(ctx, request, {});
    });
    const started = Date.now();
    await expectOnlyFailure(
      prototypeStrategyConformance(stubborn, { timeLimitMs: 200 }),
      /aborted signal/,
      /did not settle within 200 ms; expected long loops to check ctx\.signal/,
    );
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('fails a strategy that stops on abort with an error other than E_ABORTED', async () => {
    const plain = strategy('plain-abort', (ctx, request) => {
      if (ctx.signal?.aborted) throw new Error('stopped');
      return seededRandom.generate(ctx, request, {});
    });
    await expectOnlyFailure(
      prototypeStrategyConformance(plain),
      /aborted signal/,
      /threw stopped; expected a HyperprotoError with code E_ABORTED/,
    );
  });
});
