import { defineEngine, defineHead, ErrorCode, h, HyperprotoError, z, type HeadPlugin } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { runConformanceCases } from './conformance-case.js';
import { engineConformance, engineTestDataset } from './engine-conformance.js';

// The suite runs on real engines in their packages (engine-tfjs, engine-onnxruntime); here it is checked on engines
// that cannot train, which every case must reject with a plain error naming the engine.
const crossEntropyHead: HeadPlugin = defineHead({
  name: 'test-classifier',
  summary: 'test head',
  options: z.strictObject({}),
  usesPrototypes: false,
  build: ({ classes }) => ({
    outputUnits: classes,
    // Never evaluated: the engine below trains nothing.
    loss: h.mean(h.output()),
    scores: h.output(),
    scoresName: 'scores',
    constants: {},
  }),
});

describe('engineConformance', () => {
  it('has one learning case per head and names the engine in every failure', async () => {
    const broken = defineEngine({
      name: 'broken',
      summary: 'never trains',
      priority: 1,
      options: z.strictObject({}),
      probe: async () => ({ ok: false, reason: 'not here' }),
      train: async () => {
        throw new HyperprotoError(ErrorCode.TrainingFailed, 'nothing to train with');
      },
    });
    const cases = engineConformance(broken, { heads: [crossEntropyHead] });
    expect(cases.filter((c) => /learns a separable problem/.test(c.name)).map((c) => c.name)).toEqual([
      'learns a separable problem with the test-classifier head, reporting each epoch',
    ]);
    const failures = await runConformanceCases(cases);
    expect(failures.map((f) => f.name)).toEqual(cases.map((c) => c.name));
    for (const { error } of failures) expect(error.message).toMatch(/^engine:broken: /);
    expect(failures[0]!.error.message).toMatch(/cannot run: not here/);
  });

  it('makes the same toy dataset for a seed, with separable or random labels', () => {
    const a = engineTestDataset(1, { rows: 40 });
    expect(a).toMatchObject({ classes: 4, inputWidth: 20 });
    expect([a.train.labels.length, a.validation.labels.length, a.test.labels.length]).toEqual([40, 20, 20]);
    expect(engineTestDataset(1, { rows: 40 })).toEqual(a);
    expect(engineTestDataset(1, { rows: 40, randomLabels: true }).train.labels).not.toEqual(a.train.labels);
    expect(engineTestDataset(1, { rows: 40, scale: 2 }).train.features.data[0]).toBeCloseTo(2 * a.train.features.data[0]!, 5);
  });
});
