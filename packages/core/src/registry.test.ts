import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode, HyperprotoError } from './errors.js';
import { createMatrix } from './matrix.js';
import { resolveOptions } from './options.js';
import { defineEngine, definePrototypeStrategy } from './plugins.js';
import { assertPluginShape, closestName, createRegistry } from './registry.js';
import { chooseEngine } from './engines.js';

const strategy = (name: string) =>
  definePrototypeStrategy({
    name,
    summary: 'test strategy',
    options: z.object({ steps: z.number().int().min(1).default(10) }).strict(),
    generate: (_ctx, { classes, dims }) => createMatrix(classes, dims),
  });

function caught(fn: () => unknown): HyperprotoError {
  try {
    fn();
  } catch (error) {
    if (error instanceof HyperprotoError) return error;
    throw error;
  }
  throw new Error('expected a HyperprotoError');
}

describe('registry', () => {
  it('registers by kind and name, and the same object twice is a no-op', () => {
    const plugin = strategy('spiral');
    const registry = createRegistry(plugin);
    registry.register(plugin);
    expect(registry.list('prototypes')).toEqual([plugin]);
    expect(registry.get('prototypes', 'spiral')).toBe(plugin);
    expect(registry.has('head', 'spiral')).toBe(false);
  });

  it('refuses a different plugin under a taken name', () => {
    const registry = createRegistry(strategy('spiral'));
    const error = caught(() => registry.register(strategy('spiral')));
    expect(error.code).toBe(ErrorCode.InvalidPlugin);
    expect(error.message).toMatch(/already registered/);
  });

  it('answers an unknown name with the known ones and the closest match', () => {
    const registry = createRegistry([strategy('random'), strategy('optimized'), strategy('tammes')]);
    const error = caught(() => registry.get('prototypes', 'optimised'));
    expect(error.code).toBe(ErrorCode.UnknownPlugin);
    expect(error.message).toContain('Did you mean "optimized"?');
    expect(error.message).toContain('Known: random, optimized, tammes.');
    expect(caught(() => registry.get('prototypes', 'zzzzzzzz')).message).not.toContain('Did you mean');
  });

  it('checks the shape of what is registered', () => {
    expect(() => assertPluginShape({ kind: 'head', name: 'x', summary: 's', options: z.object({}) })).toThrow(/needs a "build" function/);
    expect(() => assertPluginShape({ kind: 'nope', name: 'x' })).toThrow(/"kind" must be one of/);
    expect(() => assertPluginShape({ ...strategy('ok'), name: 'Not Kebab' })).toThrow(/kebab-case/);
    expect(() => assertPluginShape(42, 'my-pkg')).toThrow(/my-pkg is not a valid hyperproto plugin/);
  });

  it('closestName needs a reasonable edit distance', () => {
    expect(closestName('softmx', ['softmax', 'hpn'])).toBe('softmax');
    expect(closestName('banana', ['softmax', 'hpn'])).toBeUndefined();
  });
});

describe('resolveOptions', () => {
  it('applies defaults and reports the dotted path of a bad value', () => {
    const plugin = strategy('spiral');
    expect(resolveOptions(plugin, undefined)).toEqual({ steps: 10 });
    const error = caught(() => resolveOptions(plugin, { steps: 0 }));
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(/^prototypes:spiral steps: /);
    expect(caught(() => resolveOptions(plugin, { stepz: 3 })).message).toMatch(/stepz/);
  });
});

describe('chooseEngine', () => {
  const probed: string[] = [];
  const engine = (name: string, priority: number, ok: boolean, foundPriority?: number) =>
    defineEngine({
      name,
      summary: 'test engine',
      priority,
      options: z.object({}),
      probe: async () => {
        probed.push(name);
        return ok
          ? {
              ok: true as const,
              backend: `${name}/x`,
              skipped: foundPriority === undefined ? [] : ['fast backend: absent'],
              ...(foundPriority === undefined ? {} : { priority: foundPriority }),
            }
          : { ok: false as const, reason: `${name} is absent` };
      },
      train: async () => {
        throw new Error('not used');
      },
    });

  it('takes the highest-priority engine that starts and records those skipped', async () => {
    const registry = createRegistry([engine('slow', 1, true), engine('fast', 9, false), engine('mid', 5, true)]);
    const choice = await chooseEngine(registry);
    expect(choice.engine.name).toBe('mid');
    expect(choice.skipped).toEqual(['[fast] fast is absent']);
  });

  it('lets a probe lower its engine below the next one, and probes no further than needed', async () => {
    probed.length = 0;
    const slowFallback = createRegistry([engine('native', 10, true, 1), engine('graph', 5, true), engine('last', 2, true)]);
    const choice = await chooseEngine(slowFallback);
    expect(choice.engine.name).toBe('graph');
    expect(choice.skipped).toEqual(['[native] fast backend: absent', '[native] native/x ranks 1, below graph on graph/x (5)']);
    expect(probed).toEqual(['native', 'graph']);

    probed.length = 0;
    const fast = createRegistry([engine('native', 10, true), engine('graph', 5, true)]);
    expect((await chooseEngine(fast)).engine.name).toBe('native');
    expect(probed).toEqual(['native']);

    // A probe cannot raise an engine above its declared priority.
    expect((await chooseEngine(createRegistry([engine('boastful', 3, true, 99), engine('graph', 5, true)]))).engine.name).toBe('graph');
    // A lowered engine still runs when nothing outranks it.
    expect((await chooseEngine(createRegistry([engine('native', 10, true, 1), engine('broken', 5, false)]))).engine.name).toBe('native');
  });

  it('lists every reason when none starts', async () => {
    const registry = createRegistry([engine('a', 1, false), engine('b', 2, false)]);
    await expect(chooseEngine(registry)).rejects.toThrow(/\[b\] b is absent\n {2}\[a\] a is absent/);
  });
});
