import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode, HyperprotoError, tagPluginError, withPluginErrors } from './errors.js';
import { h } from './head-graph.js';
import { createMatrix } from './matrix.js';
import { resolveOptions } from './options.js';
import { callPlugin, UnsupportedRequestError } from './plugin-call.js';
import {
  defineDataset,
  defineEngine,
  type DatasetPlugin,
  defineEvaluator,
  defineHead,
  definePrototypeStrategy,
  type Dataset,
  type PluginContext,
} from './plugins.js';
import { createRegistry } from './registry.js';
import { createRng } from './rng.js';

const ctx = (): PluginContext => ({ seed: 1, rng: createRng(1) });

/** An error class of a plugin's own, with a field the caller needs (like an engine's `partial`). */
class DivergedError extends HyperprotoError {
  constructor(readonly partial: { epoch: number }) {
    super(ErrorCode.TrainingFailed, 'loss became NaN');
  }
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const head = (build: () => never) =>
  defineHead({
    name: 'wobbly',
    summary: 'test head',
    usesPrototypes: false,
    options: z.strictObject({ scale: z.number().positive().default(1) }),
    build,
  });

describe('tagPluginError', () => {
  it('tags a HyperprotoError in place: same object, class, stack and fields, the id added once', () => {
    const error = new DivergedError({ epoch: 3 });
    const stack = error.stack;
    const tagged = tagPluginError(error, 'engine:fake');
    expect(tagged).toBe(error);
    expect(tagged).toBeInstanceOf(DivergedError);
    expect(tagged.stack).toBe(stack);
    expect((tagged as DivergedError).partial).toEqual({ epoch: 3 });
    expect(tagged).toMatchObject({ code: ErrorCode.TrainingFailed, pluginId: 'engine:fake', message: 'engine:fake: loss became NaN' });
    // Tagging again, by the same or an outer plugin, changes nothing: the innermost plugin keeps the error.
    expect(tagPluginError(tagPluginError(error, 'engine:fake'), 'head:outer')).toMatchObject({
      pluginId: 'engine:fake',
      message: 'engine:fake: loss became NaN',
    });
  });

  it('does not prefix a message that already starts with the id', () => {
    const error = tagPluginError(new HyperprotoError(ErrorCode.InvalidInput, 'prototypes:spread needs classes >= 2'), 'prototypes:spread');
    expect(error.message).toBe('prototypes:spread needs classes >= 2');
    expect(error.pluginId).toBe('prototypes:spread');
    // A longer id that merely starts alike is not the same plugin.
    expect(tagPluginError(new HyperprotoError(ErrorCode.InvalidInput, 'prototypes:spread-x broke'), 'prototypes:spread').message).toBe(
      'prototypes:spread: prototypes:spread-x broke',
    );
  });

  it('turns anything else into E_PLUGIN_FAILED with the original as cause', () => {
    const original = new TypeError('x is undefined');
    const error = tagPluginError(original, 'head:wobbly');
    expect(error).toBeInstanceOf(HyperprotoError);
    expect(error).toMatchObject({ code: ErrorCode.PluginFailed, pluginId: 'head:wobbly', message: 'head:wobbly failed: x is undefined' });
    expect(error.cause).toBe(original);
    expect(tagPluginError('a string', 'head:wobbly')).toMatchObject({
      code: ErrorCode.PluginFailed,
      message: 'head:wobbly failed: a string',
      cause: 'a string',
    });
  });

  it('wraps a frozen error it cannot tag, keeping it as the cause', () => {
    const frozen = Object.freeze(new HyperprotoError(ErrorCode.InvalidInput, 'bad rows'));
    const error = tagPluginError(frozen, 'dataset:x');
    expect(error).toMatchObject({ code: ErrorCode.InvalidInput, pluginId: 'dataset:x', message: 'dataset:x: bad rows' });
    expect(error.cause).toBe(frozen);
  });

  it('withPluginErrors tags what its work throws the same way', async () => {
    const error = new DivergedError({ epoch: 1 });
    await expect(withPluginErrors('engine:fake', () => Promise.reject(error))).rejects.toBe(error);
    expect(error.pluginId).toBe('engine:fake');
  });
});

describe('callPlugin', () => {
  it('keeps a synchronous hook synchronous and tags its throw', () => {
    const error = new DivergedError({ epoch: 2 });
    const plugin = head(() => {
      throw error;
    });
    expect(thrown(() => plugin.build({ classes: 3 }, {} as never))).toBe(error);
    expect(error).toMatchObject({ pluginId: 'head:wobbly', message: 'head:wobbly: loss became NaN' });
    const plain = head(() => {
      throw new RangeError('too big');
    });
    const failed = thrown(() => callPlugin(plain, 'build', { classes: 3 }, {} as never));
    expect(failed).toMatchObject({ code: ErrorCode.PluginFailed, pluginId: 'head:wobbly', message: 'head:wobbly failed: too big' });
    expect((failed as Error).cause).toBeInstanceOf(RangeError);
  });

  it('tags a rejected promise in place, prefixing once through nested calls', async () => {
    const error = new DivergedError({ epoch: 5 });
    const engine = defineEngine({
      name: 'fake',
      summary: 'test engine',
      priority: 1,
      options: z.strictObject({}),
      probe: async () => ({ ok: true as const, backend: 'fake', skipped: [] }),
      train: async () => {
        throw error;
      },
    });
    const job = {} as never;
    // The pipeline's callPlugin around the defined hook, around callPlugin again: one prefix.
    await expect(callPlugin(engine, 'train', ctx(), job, {})).rejects.toBe(error);
    await expect(withPluginErrors('engine:fake', () => callPlugin(engine, 'train', ctx(), job, {}))).rejects.toBe(error);
    expect(error.message).toBe('engine:fake: loss became NaN');
    expect(error.partial).toEqual({ epoch: 5 });
  });

  it('keeps the innermost plugin when one plugin calls another', () => {
    const inner = definePrototypeStrategy({
      name: 'inner',
      summary: 'test strategy',
      options: z.strictObject({}),
      generate: () => {
        throw new HyperprotoError(ErrorCode.InvalidInput, 'no rows');
      },
    });
    const outer = definePrototypeStrategy({
      name: 'outer',
      summary: 'test strategy',
      options: z.strictObject({}),
      generate: (c, request) => inner.generate(c, request, {}),
    });
    expect(thrown(() => outer.generate(ctx(), { classes: 3, dims: 2 }, {}))).toMatchObject({
      pluginId: 'prototypes:inner',
      message: 'prototypes:inner: no rows',
    });
  });

  it('answers undefined for an optional hook the plugin lacks', () => {
    const plain = definePrototypeStrategy({
      name: 'plain',
      summary: 's',
      options: z.strictObject({}),
      generate: (_c, { classes, dims }) => createMatrix(classes, dims),
    });
    expect(callPlugin(plain, 'unsupported', { classes: 3, dims: 2 }, {})).toBeUndefined();
  });

  it('works for plain plugin objects too (not made by a define helper)', async () => {
    const plain: DatasetPlugin = {
      kind: 'dataset',
      name: 'plain',
      summary: 's',
      options: z.strictObject({ rows: z.number().int().default(2) }),
      generate: () => {
        throw new Error('disk on fire');
      },
    };
    expect(thrown(() => callPlugin(plain, 'generate', ctx(), { rows: 'two' } as never))).toMatchObject({
      code: ErrorCode.InvalidOptions,
      pluginId: 'dataset:plain',
    });
    expect(thrown(() => callPlugin(plain, 'generate', ctx(), {} as never))).toMatchObject({
      code: ErrorCode.PluginFailed,
      message: 'dataset:plain failed: disk on fire',
    });
  });
});

describe('options at the boundary', () => {
  const schema = z.strictObject({ steps: z.number().int().min(1).default(10) });

  it('a direct call with bad options gets E_INVALID_OPTIONS naming the plugin, for every kind of hook', async () => {
    const seen: string[] = [];
    const dataset = defineDataset({ name: 'd', summary: 's', options: schema, generate: () => (seen.push('generate'), {}) as Dataset });
    const strategy = definePrototypeStrategy({
      name: 's',
      summary: 's',
      options: schema,
      unsupported: () => (seen.push('unsupported'), undefined),
      generate: (_c, { classes, dims }) => (seen.push('generate'), createMatrix(classes, dims)),
    });
    const evaluator = defineEvaluator({ name: 'e', summary: 's', options: schema, evaluate: () => (seen.push('evaluate'), {}) });
    const engine = defineEngine({
      name: 'n',
      summary: 's',
      priority: 1,
      options: schema,
      probe: async () => ({ ok: false as const, reason: 'none' }),
      train: async () => (seen.push('train'), {}) as never,
    });
    const plugin = head(() => (seen.push('build'), {}) as never);
    const bad = { steps: 0 } as never;
    const expectInvalid = (error: unknown, id: string, path = 'steps') => {
      expect(error).toBeInstanceOf(HyperprotoError);
      expect(error).toMatchObject({
        code: ErrorCode.InvalidOptions,
        pluginId: id,
        message: expect.stringMatching(new RegExp(`^${id} ${path}: `)),
      });
      expect(error).not.toBeInstanceOf(z.ZodError);
    };
    expectInvalid(
      thrown(() => dataset.generate(ctx(), bad)),
      'dataset:d',
    );
    expectInvalid(
      thrown(() => strategy.generate(ctx(), { classes: 3, dims: 2 }, bad)),
      'prototypes:s',
    );
    expectInvalid(
      thrown(() => strategy.unsupported!({ classes: 3, dims: 2 }, bad)),
      'prototypes:s',
    );
    expectInvalid(
      thrown(() => evaluator.evaluate({ classes: 2, labels: new Int32Array(), predictions: new Int32Array() }, bad)),
      'evaluator:e',
    );
    expectInvalid(
      thrown(() => plugin.build({ classes: 3 }, { scale: -1 } as never)),
      'head:wobbly',
      'scale',
    );
    // An engine's hooks are asynchronous by contract: the refusal is a rejection.
    expectInvalid(await engine.train(ctx(), {} as never, bad).catch((error: unknown) => error), 'engine:n');
    expect(seen).toEqual([]);
  });

  it('fills the defaults on a direct call, and does not parse what the schema already parsed', () => {
    let parses = 0;
    // Not idempotent on purpose: a second parse would add 1 again.
    const counted = z.strictObject({ n: z.number().default(1) }).transform((o) => (parses++, { n: o.n + 1 }));
    const received: unknown[] = [];
    const strategy = definePrototypeStrategy({
      name: 'counted',
      summary: 's',
      options: counted,
      unsupported: (_r, options) => (received.push(options), undefined),
      generate: (_c, { classes, dims }, options) => (received.push(options), createMatrix(classes, dims)),
    });
    strategy.generate(ctx(), { classes: 2, dims: 2 }, undefined as never);
    expect(received).toEqual([{ n: 2 }, { n: 2 }]);
    expect(parses).toBe(1);

    received.length = 0;
    parses = 0;
    const resolved = resolveOptions(strategy, { n: 5 });
    expect(resolved).toEqual({ n: 6 });
    strategy.generate(ctx(), { classes: 2, dims: 2 }, resolved);
    callPlugin(strategy, 'generate', ctx(), { classes: 2, dims: 2 }, resolved);
    expect(resolveOptions(strategy, resolved)).toBe(resolved);
    expect(received.every((options) => options === resolved)).toBe(true);
    expect(parses).toBe(1);

    // A changed copy is validated again.
    expect(() => resolveOptions(strategy, { ...resolved, extra: true })).toThrow(/prototypes:counted/);
  });

  it('validates and tags a copy (`{ ...plugin, name }`) as the copy', () => {
    const original = head(() => {
      throw new Error('boom');
    });
    const copy = { ...original, name: 'copy' };
    expect(thrown(() => copy.build({ classes: 3 }, {} as never))).toMatchObject({
      pluginId: 'head:copy',
      message: 'head:copy failed: boom',
    });
    const redefined = defineHead({ ...original, name: 'again' });
    expect(thrown(() => redefined.build({ classes: 3 }, {} as never))).toMatchObject({
      pluginId: 'head:again',
      message: 'head:again failed: boom',
    });
  });
});

describe('unsupported before generate', () => {
  const order: string[] = [];
  const picky = definePrototypeStrategy({
    name: 'picky',
    summary: 's',
    options: z.strictObject({ limit: z.number().default(4) }),
    unsupported: ({ classes }, { limit }) => (order.push('unsupported'), classes > limit ? `at most ${limit} classes` : undefined),
    generate: (_c, { classes, dims }) => (order.push('generate'), createMatrix(classes, dims)),
  });

  it('asks unsupported first and never runs generate for a refused request', () => {
    order.length = 0;
    picky.generate(ctx(), { classes: 3, dims: 2 }, {} as never);
    expect(order).toEqual(['unsupported', 'generate']);
    order.length = 0;
    const error = thrown(() => picky.generate(ctx(), { classes: 9, dims: 2 }, { limit: 5 }));
    expect(order).toEqual(['unsupported']);
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect(error).toMatchObject({
      code: ErrorCode.Unsupported,
      pluginId: 'prototypes:picky',
      reason: 'at most 5 classes',
      message: 'prototype strategy "picky" cannot make 9 prototypes in 2 dimensions: at most 5 classes',
    });
  });

  it('rejects (never throws) from an async generate, whether the boundary or the strategy refuses', async () => {
    const slow = definePrototypeStrategy({
      name: 'slow',
      summary: 's',
      options: z.strictObject({ steps: z.number().int().min(1).default(3) }),
      unsupported: ({ classes }) => (classes > 4 ? 'at most 4 classes' : undefined),
      async generate(_c, { classes, dims }) {
        if (dims < 1) throw new HyperprotoError(ErrorCode.InvalidInput, 'needs dims >= 1');
        return createMatrix(classes, dims);
      },
    });
    const request = (classes: number, dims: number) => slow.generate(ctx(), { classes, dims }, { steps: 1 });
    await expect(request(9, 2)).rejects.toBeInstanceOf(UnsupportedRequestError);
    await expect(slow.generate(ctx(), { classes: 3, dims: 2 }, { steps: 0 })).rejects.toMatchObject({ code: ErrorCode.InvalidOptions });
    await expect(request(3, 0)).rejects.toMatchObject({ code: ErrorCode.InvalidInput, message: 'prototypes:slow: needs dims >= 1' });
    expect((await request(3, 2)).rows).toBe(3);
  });

  it('the same through callPlugin', () => {
    order.length = 0;
    expect(() => callPlugin(picky, 'generate', ctx(), { classes: 9, dims: 2 }, {} as never)).toThrow(UnsupportedRequestError);
    expect(order).toEqual(['unsupported']);
  });
});

describe('the registry keeps defined plugins as they are', () => {
  it('registers a defined plugin under its kind and name', () => {
    const plugin = head(() => ({ outputUnits: 2, loss: h.mean(h.output()), scores: h.output(), scoresName: 's', constants: {} }) as never);
    expect(createRegistry(plugin).get('head', 'wobbly')).toBe(plugin);
  });
});

describe("a dataset's describe at the boundary", () => {
  const blobs = (describe?: (options: { classes: number; perClass: number }) => unknown) =>
    defineDataset({
      name: 'blobs',
      summary: 'test dataset',
      options: z.strictObject({ classes: z.number().int().min(2), perClass: z.number().int().min(1).default(5) }),
      ...(describe ? { describe: describe as never } : {}),
      generate: () => {
        throw new Error('not generated in these tests');
      },
    });

  it('gets its options validated with defaults filled, directly and through callPlugin', () => {
    const plugin = blobs(({ classes, perClass }) => ({ classes, trainRows: classes * perClass, inputWidth: 2 }));
    expect(plugin.describe!({ classes: 4 } as never)).toEqual({ classes: 4, trainRows: 20, inputWidth: 2 });
    expect(callPlugin(plugin, 'describe', { classes: 3, perClass: 2 })).toEqual({ classes: 3, trainRows: 6, inputWidth: 2 });
    expect(() => callPlugin(plugin, 'describe', { classes: 1 } as never)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidOptions, message: expect.stringMatching(/^dataset:blobs classes: /) }),
    );
  });

  it('answers undefined when the dataset has no describe', () => {
    expect(callPlugin(blobs(), 'describe', { classes: 3 } as never)).toBeUndefined();
  });

  it('tags what describe throws with the plugin id', () => {
    const plugin = blobs(() => {
      throw new Error('no idea');
    });
    expect(() => callPlugin(plugin, 'describe', { classes: 3 } as never)).toThrow(
      expect.objectContaining({ code: ErrorCode.PluginFailed, pluginId: 'dataset:blobs', message: 'dataset:blobs failed: no idea' }),
    );
  });

  it('refuses an answer that is not sizes, and an async describe, by throwing E_INVALID_PLUGIN', () => {
    for (const [answer, message] of [
      [null, /describe returned null; expected an object/],
      [{ classes: 1 }, /describe returned classes 1; expected an integer >= 2 or no classes/],
      [{ classes: 3, trainRows: 2.5 }, /trainRows 2.5; expected an integer >= 1/],
      [{ inputWidth: '8' }, /inputWidth "8"; expected an integer >= 1/],
      [Promise.resolve({ classes: 3 }), /describe returned a promise; expected an object \(describe is synchronous\)/],
    ] as const) {
      expect(() =>
        callPlugin(
          blobs(() => answer),
          'describe',
          { classes: 3 } as never,
        ),
      ).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidPlugin, pluginId: 'dataset:blobs', message: expect.stringMatching(message) }),
      );
    }
    const asyncDescribe = blobs((async () => ({ classes: 3 })) as never);
    expect(() => asyncDescribe.describe!({ classes: 3 } as never)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidPlugin }));
  });
});
