import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { canonicalInputJson, datasetInputKey, derivedInputKey, prototypeInputKey } from './experiment-inputs.js';
import { createMatrix } from './matrix.js';
import { defineDataset, definePrototypeStrategy } from './plugins.js';

const dataset = (name: string) =>
  defineDataset({
    name,
    summary: 'test dataset',
    options: z.object({}).passthrough(),
    generate: () => {
      throw new Error('not called');
    },
  });
const strategy = definePrototypeStrategy({
  name: 'axes',
  summary: 'test strategy',
  options: z.object({}).passthrough(),
  generate: (_ctx, { classes, dims }) => createMatrix(classes, dims),
});

describe('canonicalInputJson', () => {
  it('writes equal plain values alike, whatever the order of their keys', () => {
    expect(canonicalInputJson({ b: [1, { d: true, c: 'x' }], a: null })).toBe('{"a":null,"b":[1,{"c":"x","d":true}]}');
    expect(canonicalInputJson({ a: null, b: [1, { c: 'x', d: true }] })).toBe(canonicalInputJson({ b: [1, { d: true, c: 'x' }], a: null }));
    // As in JSON, an undefined field is an absent one.
    expect(canonicalInputJson({ a: 1, b: undefined })).toBe(canonicalInputJson({ a: 1 }));
    expect(canonicalInputJson(Object.assign(Object.create(null), { a: 1 }))).toBe('{"a":1}');
    expect(canonicalInputJson({ a: 1 })).not.toBe(canonicalInputJson({ a: '1' }));
  });

  it('refuses values it could not compare by their text', () => {
    class Options {
      a = 1;
    }
    for (const value of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      () => 1,
      new Date(0),
      new Map(),
      new Options(),
      new Float32Array(2),
      1n,
      [1, Number.NaN],
      { a: { b: Symbol('s') } },
    ]) {
      expect(canonicalInputJson(value)).toBeUndefined();
    }
  });
});

describe('input keys', () => {
  const plan = (options: unknown, strategyOptions: unknown = {}) => ({
    dataset: dataset('blobs'),
    datasetOptions: options,
    strategy,
    strategyOptions,
  });

  it('differ when the plugin, its options, the seed or the thread budget differ, and only then', () => {
    const key = datasetInputKey(plan({ classes: 4, sigma: 1 }), 0, 2);
    expect(datasetInputKey(plan({ sigma: 1, classes: 4 }), 0, 2)).toBe(key);
    const others = [
      datasetInputKey({ dataset: dataset('other'), datasetOptions: { classes: 4, sigma: 1 } }, 0, 2),
      datasetInputKey(plan({ classes: 4, sigma: 2 }), 0, 2),
      datasetInputKey(plan({ classes: 4, sigma: 1 }), 1, 2),
      datasetInputKey(plan({ classes: 4, sigma: 1 }), 0, 1),
      datasetInputKey(plan({ classes: 4, sigma: 1 }), 0),
    ];
    expect(new Set([key, ...others]).size).toBe(6);
    expect(datasetInputKey(plan({ classes: 4, sigma: Number.NaN }), 0)).toBeUndefined();
  });

  it('name the prototype size, and a derived value names what it comes from', () => {
    const a = prototypeInputKey(plan({}), { classes: 10, dims: 3 }, 0);
    expect(a).toMatch(/^prototypes:axes 10x3 seed=0 /);
    expect(prototypeInputKey(plan({}), { classes: 10, dims: 4 }, 0)).not.toBe(a);
    expect(prototypeInputKey(plan({}, { steps: 5 }), { classes: 10, dims: 3 }, 0)).not.toBe(a);
    expect(prototypeInputKey({ dataset: dataset('blobs'), datasetOptions: {} }, { classes: 10, dims: 3 }, 0)).toBeUndefined();
    expect(derivedInputKey('geometry', a)).toBe(`geometry of ${a}`);
    expect(derivedInputKey('geometry', undefined)).toBeUndefined();
  });
});
