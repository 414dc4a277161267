import {
  createMatrix,
  createRegistry,
  createRng,
  ErrorCode,
  h,
  type Dataset,
  type DatasetSplit,
  type HeadDefinition,
  initialMlpWeights,
  type PluginContext,
  type TrainerSettings,
} from '@hyperproto/core';
import { initTfjs, type TfjsRuntime } from '@hyperproto/tfjs-backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { dropoutMaskValues, tfjsEngine, TFJS_FALLBACK_PRIORITY, trainMlpSteps, type GivenBatch } from './index.js';
import { trainMlp, TrainingFailedError, type MlpTrainingResult } from './train-mlp.js';

let runtime: TfjsRuntime;
beforeAll(async () => {
  runtime = await initTfjs();
});

/** Gaussian blobs around class centers drawn from [-1, 1]^width: separable when sd is small. */
function blobs(seed: number, { classes = 4, width = 20, rows = 240, sd = 0.5, scale = 1, randomLabels = false } = {}): Dataset {
  const rng = createRng(seed);
  const centers = Array.from({ length: classes }, () => Array.from({ length: width }, () => 2 * rng.float() - 1));
  const split = (n: number): DatasetSplit => {
    const features = new Float32Array(n * width);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = rng.int(classes);
      labels[i] = randomLabels ? rng.int(classes) : c;
      for (let j = 0; j < width; j++) features[i * width + j] = (centers[c]![j]! + sd * rng.normal()) * scale;
    }
    return { features: createMatrix(n, width, features), labels };
  };
  return { classes, inputWidth: width, train: split(rows), validation: split(rows / 2), test: split(rows / 2), info: {} };
}

/** The two heads' formulas, written here so the engine does not depend on the head packages. */
const softmaxHead = (classes: number): HeadDefinition => ({
  outputUnits: classes,
  loss: h.mean(h.neg(h.pickPerRow(h.logSoftmax(h.output()), h.labels()))),
  scores: h.softmax(h.output()),
  scoresName: 'probabilities',
  constants: {},
});
const hpnHead = (classes: number): HeadDefinition => {
  const prototypes = createMatrix(classes, classes);
  for (let i = 0; i < classes; i++) prototypes.data[i * classes + i] = 1;
  const p = h.constant('prototypes');
  return {
    outputUnits: classes,
    loss: h.mean(h.pow(h.sub(h.scalar(1), h.rowSum(h.mul(h.l2normalize(h.output()), h.gatherRows(p, h.labels())))), 2)),
    scores: h.matmulTransposed(h.l2normalize(h.output()), p),
    scoresName: 'scores',
    constants: { prototypes },
  };
};

const tiny: TrainerSettings = {
  hiddenUnits: 16,
  hiddenLayers: 2,
  dropout: 0.1,
  batchSize: 32,
  learningRate: 0.01,
  patience: 5,
  maxEpochs: 15,
};
const context = (seed: number, extra: Partial<PluginContext> = {}): PluginContext => ({ seed, rng: createRng(seed), ...extra });

async function accuracy(result: MlpTrainingResult, split: DatasetSplit): Promise<number> {
  const { labels } = await result.model.predict(split.features);
  return labels.filter((label, i) => label === split.labels[i]).length / labels.length;
}

describe('trainMlp', () => {
  it('learns a separable problem with the softmax head', async () => {
    const dataset = blobs(1);
    const progress: string[] = [];
    const result = await trainMlp(runtime, context(1, { progress: (done, total, label) => progress.push(`${done}/${total} ${label}`) }), {
      dataset,
      head: softmaxHead(4),
      trainer: tiny,
    });
    expect(await accuracy(result, dataset.test)).toBeGreaterThan(0.9);
    expect(result.backend).toBe(`tfjs/${runtime.backend}`);
    expect(progress).toHaveLength(result.history.length);
    expect(progress[0]).toMatch(/^1\/15 loss \d+\.\d{3} val acc \d\.\d{3}$/);
    result.history.forEach((record, i) => {
      expect(record.epoch).toBe(i + 1);
      expect(record.seconds).toBeGreaterThan(0);
      expect(Number.isFinite(record.trainLoss) && Number.isFinite(record.validationLoss)).toBe(true);
    });
    result.model.dispose();
  });

  it('learns a separable problem with the HPN head', async () => {
    const dataset = blobs(2);
    const result = await trainMlp(runtime, context(2), { dataset, head: hpnHead(4), trainer: tiny });
    expect(await accuracy(result, dataset.test)).toBeGreaterThan(0.9);
    const { scores } = await result.model.predict(dataset.test.features);
    // Scores are cosines.
    for (const value of scores.data) expect(Math.abs(value)).toBeLessThanOrEqual(1 + 1e-5);
  });

  it('exposes engine-neutral weights with the documented names and shapes', async () => {
    const dataset = blobs(3, { rows: 64 });
    const result = await trainMlp(runtime, context(3), { dataset, head: hpnHead(4), trainer: { ...tiny, hiddenUnits: 8, maxEpochs: 1 } });
    expect(result.model.weights.map((w) => `${w.name} [${w.shape.join(',')}]`)).toEqual([
      'trunk/dense0/kernel [20,8]',
      'trunk/bn0/gamma [8]',
      'trunk/bn0/beta [8]',
      'trunk/bn0/moving_mean [8]',
      'trunk/bn0/moving_variance [8]',
      'trunk/dense1/kernel [8,8]',
      'trunk/bn1/gamma [8]',
      'trunk/bn1/beta [8]',
      'trunk/bn1/moving_mean [8]',
      'trunk/bn1/moving_variance [8]',
      'head/dense/kernel [8,4]',
      'head/dense/bias [4]',
    ]);
    for (const weight of result.model.weights) expect(weight.data).toHaveLength(weight.shape.reduce((a, b) => a * b, 1));
    // The moving averages moved off their starting values (0 and 1) while training.
    expect(result.model.weights[3]!.data.some((v) => v !== 0)).toBe(true);
    expect(result.model.weights[4]!.data.some((v) => v !== 1)).toBe(true);
    await expect(result.model.predict(createMatrix(2, 19))).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/expects 20 columns/),
    });
    expect((await result.model.predict(createMatrix(0, 20))).labels).toHaveLength(0);
  });

  it('gives identical history and weights for the same seed, different ones for another seed', async () => {
    const dataset = blobs(4, { rows: 96 });
    const job = { dataset, head: softmaxHead(4), trainer: { ...tiny, maxEpochs: 4, patience: 10 } };
    const [a, b, c] = [
      await trainMlp(runtime, context(11), job),
      await trainMlp(runtime, context(11), job),
      await trainMlp(runtime, context(12), job),
    ];
    const withoutTime = (r: MlpTrainingResult) => r.history.map(({ seconds: _, ...rest }) => rest);
    expect(withoutTime(b)).toEqual(withoutTime(a));
    expect(b.bestEpoch).toBe(a.bestEpoch);
    expect(b.model.weights).toEqual(a.model.weights);
    expect(c.model.weights).not.toEqual(a.model.weights);
    expect(withoutTime(c)).not.toEqual(withoutTime(a));
  });

  it('stops early on a plateau and returns the best epoch, whose validation accuracy the model reproduces', async () => {
    // Random labels: nothing to learn, so validation accuracy wanders and the validation loss climbs.
    const dataset = blobs(5, { rows: 160, randomLabels: true });
    const logs: string[] = [];
    const trainer = { ...tiny, learningRate: 0.02, patience: 3, maxEpochs: 40 };
    const result = await trainMlp(runtime, context(5, { log: (m) => logs.push(m) }), { dataset, head: softmaxHead(4), trainer });
    expect(result.history.length).toBeLessThan(40);
    expect(result.history.length).toBe(result.bestEpoch + trainer.patience);
    expect(logs.some((m) => /early stopping after epoch \d+/.test(m))).toBe(true);
    const best = result.history[result.bestEpoch - 1]!;
    for (const record of result.history) {
      const better = record.validationAccuracy > best.validationAccuracy;
      const tieButLower = record.validationAccuracy === best.validationAccuracy && record.validationLoss < best.validationLoss;
      expect(better || tieButLower).toBe(false);
    }
    expect(await accuracy(result, dataset.validation)).toBe(best.validationAccuracy);
  });

  it('fails with TrainingFailed when features are extreme (features x 1e30), tagged with the engine id once', async () => {
    const dataset = blobs(6, { rows: 64, scale: 1e30 });
    const failure = tfjsEngine.train(context(6), { dataset, head: softmaxHead(4), trainer: tiny }, {});
    await expect(failure).rejects.toBeInstanceOf(TrainingFailedError);
    await expect(failure).rejects.toMatchObject({
      code: ErrorCode.TrainingFailed,
      pluginId: 'engine:tfjs',
      message: expect.stringMatching(
        /^engine:tfjs: (?!engine:tfjs).*at epoch 1, batch 1; lower the learning rate or check the features for extreme values$/,
      ),
    });
  });

  it('reports a NaN loss with its epoch and batch, and keeps the best model so far usable', async () => {
    // sqrt(0.99 - p_true) turns NaN once the network grows confident, a few epochs in.
    const head = softmaxHead(4);
    const confident = h.mean(h.pow(h.sub(h.scalar(0.99), h.pickPerRow(h.softmax(h.output()), h.labels())), 0.5));
    const dataset = blobs(7);
    let error: unknown;
    try {
      await trainMlp(runtime, context(7), {
        dataset,
        head: { ...head, loss: h.add(head.loss, confident) },
        trainer: { ...tiny, maxEpochs: 40, patience: 40 },
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TrainingFailedError);
    const failed = error as TrainingFailedError;
    expect(failed.message).toMatch(/training loss became NaN at epoch \d+, batch \d+; lower the learning rate/);
    const partial = failed.partial!;
    expect(partial.history.length).toBeGreaterThanOrEqual(1);
    expect(failed.hint).toContain(`epoch ${partial.bestEpoch}`);
    const best = partial.history[partial.bestEpoch - 1]!;
    expect(await accuracy(partial, dataset.validation)).toBe(best.validationAccuracy);
  });

  it('stops between batches when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      trainMlp(runtime, context(8, { signal: controller.signal }), {
        dataset: blobs(8, { rows: 64 }),
        head: softmaxHead(4),
        trainer: tiny,
      }),
    ).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
  });

  it('notices an abort from a timer or signal handler while it trains', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const long = { ...tiny, batchSize: 8, maxEpochs: 200, patience: 200 };
    await expect(
      trainMlp(runtime, context(8, { signal: controller.signal }), {
        dataset: blobs(8, { rows: 2000 }),
        head: softmaxHead(4),
        trainer: long,
      }),
    ).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
  });

  it('rejects jobs it cannot train before starting', async () => {
    const dataset = blobs(9, { rows: 32 });
    await expect(trainMlp(runtime, context(9), { dataset, head: { ...hpnHead(4), constants: {} }, trainer: tiny })).rejects.toThrow(
      /constant "prototypes"/,
    );
    dataset.train.features.data[5] = Number.NaN;
    await expect(trainMlp(runtime, context(9), { dataset, head: softmaxHead(4), trainer: tiny })).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/train features have a non-finite value at row 0, column 5/),
    });
    await expect(
      trainMlp(runtime, context(9), { dataset, head: softmaxHead(4), trainer: { ...tiny, batchSize: 0 } }),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
    });
  });

  it('leaks no tensors: training, prediction, failures and aborts included', async () => {
    const { tf } = runtime;
    const before = tf.memory().numTensors;
    const dataset = blobs(10, { rows: 64 });
    const result = await trainMlp(runtime, context(10), { dataset, head: hpnHead(4), trainer: { ...tiny, maxEpochs: 3 } });
    await result.model.predict(dataset.test.features);
    result.model.dispose();
    await expect(
      trainMlp(runtime, context(10), { dataset: blobs(10, { rows: 64, scale: 1e30 }), head: softmaxHead(4), trainer: tiny }),
    ).rejects.toThrow();
    const controller = new AbortController();
    controller.abort();
    await expect(
      trainMlp(runtime, context(10, { signal: controller.signal }), { dataset, head: softmaxHead(4), trainer: tiny }),
    ).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(before);
    await expect(result.model.predict(dataset.test.features)).rejects.toThrow(/disposed/);
  });
});

describe('trainMlpSteps', () => {
  it("is the trainer's own step: fed trainMlp's batches, masks and starting weights, it reproduces its first epoch's loss", async () => {
    const dataset = blobs(13, { rows: 100 });
    const trainer = { ...tiny, batchSize: 32, maxEpochs: 1 };
    const head = softmaxHead(4);
    const run = await trainMlp(runtime, context(13), { dataset, head, trainer });
    const rng = createRng(13);
    const shape = { inputWidth: 20, hiddenUnits: trainer.hiddenUnits, hiddenLayers: trainer.hiddenLayers, outputUnits: 4 };
    const weights = initialMlpWeights(shape, rng.fork('weights'));
    const order = rng.fork('batch-order').shuffle(Int32Array.from({ length: 100 }, (_, i) => i));
    const dropoutRng = rng.fork('dropout');
    const batches: GivenBatch[] = [];
    for (let start = 0; start < 100; start += 32) {
      const rows = order.subarray(start, start + 32);
      const features = createMatrix(rows.length, 20);
      rows.forEach((row, i) => features.data.set(dataset.train.features.data.subarray(row * 20, row * 20 + 20), i * 20));
      const dropoutMasks = [0, 1].map(() => dropoutMaskValues(dropoutRng, rows.length * trainer.hiddenUnits, trainer.dropout));
      batches.push({ features, labels: Int32Array.from(rows, (row) => dataset.train.labels[row]!), dropoutMasks });
    }
    const { losses, weights: after } = await trainMlpSteps(runtime, {
      ...shape,
      learningRate: trainer.learningRate,
      head,
      weights,
      batches,
    });
    const epochLoss = losses.reduce((sum, loss, i) => sum + loss * batches[i]!.labels.length, 0) / 100;
    expect(epochLoss).toBeCloseTo(run.history[0]!.trainLoss, 6);
    expect(after.map((w) => w.data)).toEqual(run.model.weights.map((w) => w.data));
  });
});

describe('engine:tfjs plugin', () => {
  it('registers, probes and trains through the plugin interface', async () => {
    const registry = createRegistry(tfjsEngine);
    expect(registry.get('engine', 'tfjs')).toBe(tfjsEngine);
    expect(tfjsEngine.priority).toBe(10);
    expect(tfjsEngine.options.safeParse({}).success).toBe(true);
    expect(tfjsEngine.options.safeParse({ threads: 2 }).success).toBe(false);
    const probe = await tfjsEngine.probe();
    expect(probe).toMatchObject({ ok: true, backend: `tfjs/${runtime.backend}` });
    // Ranked below native engines unless libtensorflow runs.
    expect(probe.ok && probe.priority).toBe(runtime.backend === 'tensorflow' ? undefined : TFJS_FALLBACK_PRIORITY);
    const dataset = blobs(12, { rows: 64 });
    const result = await tfjsEngine.train(context(12), { dataset, head: softmaxHead(4), trainer: { ...tiny, maxEpochs: 2 } }, {});
    expect(result.backend).toBe(`tfjs/${runtime.backend}`);
    expect(result.history).toHaveLength(2);
  });
});
