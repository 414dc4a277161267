import { defineEngine, defineHead, ErrorCode, h, HyperprotoError, z, type HeadPlugin } from '@hyperproto/core';
import { TrainingFailedError } from '@hyperproto/mlp';
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

describe('engineConformance', () => {
  it('has one learning case per head and names the engine in every failure', async () => {
    const cases = engineConformance(broken, { heads: [crossEntropyHead] });
    expect(cases.filter((c) => /learns a separable problem/.test(c.name)).map((c) => c.name)).toEqual([
      'learns a separable problem with the test-classifier head, reporting each epoch',
    ]);
    const failures = await runConformanceCases(cases);
    expect(failures.map((f) => f.name)).toEqual(cases.map((c) => c.name));
    for (const { error } of failures) expect(error.message).toMatch(/^engine:broken: /);
    expect(failures[0]!.error.message).toMatch(/cannot run: not here/);
  });

  it('adds the learned-parameter and class-sample cases only for the heads given, naming a head that cannot serve', async () => {
    const plain = engineConformance(broken, { heads: [crossEntropyHead] });
    const cases = engineConformance(broken, {
      heads: [crossEntropyHead],
      learnedParamsHead: { plugin: crossEntropyHead },
      sampledHead: { plugin: crossEntropyHead, options: {} },
    });
    const added = cases.slice(plain.length);
    expect(cases.slice(0, plain.length).map((c) => c.name)).toEqual(plain.map((c) => c.name));
    expect(added.map((c) => c.name)).toEqual([
      'trains the learned parameters of the test-classifier head with the network: the loss falls, the same seed gives the same numbers',
      'learns on 32 of 40 classes per step with the test-classifier head (sampledShare 0.25), and the same seed gives the same numbers',
      'trains the test-classifier head with a sampled share of 1, or a sample as large as the classes, exactly as unsampled',
      'refuses the test-classifier head with a sampled share outside (0, 1] before training',
    ]);
    const failures = await runConformanceCases(added);
    expect(failures.map((f) => f.error.message)).toEqual([
      expect.stringMatching(/^engine:broken: head test-classifier has no learned parameters \(h\.param\)/),
      ...[0.25, 1, 0.25].map((share) =>
        expect.stringMatching(new RegExp(`^head:test-classifier: its options schema refused \\{"sampledShare":${share}\\}`)),
      ),
    ]);
  });

  it("checks that a diverging run fails with @hyperproto/mlp's TrainingFailedError where the engine uses its loop", async () => {
    const message = 'training loss became NaN at epoch 1, batch 1; lower the learning rate or check the features for extreme values';
    const diverging = (error: () => Error) =>
      defineEngine({
        name: 'diverging',
        summary: 'fails at the first batch',
        priority: 1,
        options: z.strictObject({}),
        probe: async () => ({ ok: true, backend: 'diverging/cpu', skipped: [] }),
        train: async () => {
          throw error();
        },
      });
    const extremeCase = (engine: ReturnType<typeof diverging>, usesMlpTrainingLoop: boolean) =>
      engineConformance(engine, { heads: [crossEntropyHead], usesMlpTrainingLoop }).filter((c) => /features x 1e30/.test(c.name));
    const ownError = diverging(() => new HyperprotoError(ErrorCode.TrainingFailed, message));
    const loopError = diverging(() => new TrainingFailedError('training loss became NaN at epoch 1, batch 1', undefined));
    expect(await runConformanceCases(extremeCase(ownError, false))).toEqual([]);
    expect(await runConformanceCases(extremeCase(loopError, true))).toEqual([]);
    const [failure, ...rest] = await runConformanceCases(extremeCase(ownError, true));
    expect(rest).toEqual([]);
    expect(failure!.error.message).toMatch(/^engine:diverging: .*expected @hyperproto\/mlp's TrainingFailedError \(usesMlpTrainingLoop\)$/);
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
