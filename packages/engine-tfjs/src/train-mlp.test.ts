import { createMatrix, createRegistry, createRng, ErrorCode, headParamWeights, resolveOptions } from '@hyperproto/core';
import { bottleneckSoftmaxHead } from '@hyperproto/head-bottleneck-softmax';
import { hpnHead as hpnHeadPlugin } from '@hyperproto/head-hpn';
import { initialMlpWeights, TrainingFailedError } from '@hyperproto/mlp';
import { softmaxHead as softmaxHeadPlugin } from '@hyperproto/head-softmax';
import { engineConformance, engineTestContext as context, engineTestHead } from '@hyperproto/plugin-testing';
import { ENGINE_TEST_TRAINER as tiny, engineTestDataset as blobs } from '@hyperproto/plugin-testing';
import { initTfjs, type TfjsRuntime } from '@hyperproto/tfjs-backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { dropoutMaskValues, tfjsEngine, TFJS_FALLBACK_PRIORITY, trainMlpSteps, type GivenBatch } from './index.js';
import { trainMlp } from './train-mlp.js';

let runtime: TfjsRuntime;
beforeAll(async () => {
  runtime = await initTfjs();
});

// What every engine promises (learning, weights, determinism, stopping, failures, aborts, refusals): the shared
// suite in @hyperproto/plugin-testing, the same cases the onnxruntime engine runs.
describe('engine:tfjs conformance', () => {
  const heads = [softmaxHeadPlugin, hpnHeadPlugin, bottleneckSoftmaxHead];
  for (const c of engineConformance(tfjsEngine, { heads, requirePredictLabels: true })) it(c.name, c.run);
});

const softmaxHead = (classes: number) => engineTestHead(softmaxHeadPlugin, classes);
const hpnHead = (classes: number) => engineTestHead(hpnHeadPlugin, classes);

describe('trainMlp (tfjs only)', () => {
  it("fails with @hyperproto/mlp's TrainingFailedError on extreme features", async () => {
    const dataset = blobs(6, { rows: 64, scale: 1e30 });
    await expect(trainMlp(runtime, context(6), { dataset, head: softmaxHead(4), trainer: tiny })).rejects.toBeInstanceOf(
      TrainingFailedError,
    );
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

describe('a head with learned matrix parameters (bottleneck-softmax)', () => {
  it('trains its classifier and bias with the network: the loss falls, the same seed gives the same numbers', async () => {
    const head = bottleneckSoftmaxHead.build({ classes: 4 }, resolveOptions(bottleneckSoftmaxHead, { dims: 6 }));
    const job = { dataset: blobs(21, { rows: 160 }), head, trainer: { ...tiny, maxEpochs: 4, patience: 10 } };
    const [a, b, c] = [
      await trainMlp(runtime, context(21), job),
      await trainMlp(runtime, context(21), job),
      await trainMlp(runtime, context(22), job),
    ];
    try {
      expect(a.history.at(-1)!.trainLoss).toBeLessThan(0.7 * a.history[0]!.trainLoss);
      const params = (r: typeof a) => headParamWeights(r.model.head);
      expect(params(a).map((w) => [w.name, w.shape])).toEqual([
        ['head/param/classifier', [4, 6]],
        ['head/param/bias', [4]],
      ]);
      // Trained: the bias left its zeros.
      expect(params(a)[1]!.data.some((v) => v !== 0)).toBe(true);
      const numbers = (r: typeof a) =>
        JSON.stringify([r.history.map(({ seconds: _, ...rest }) => rest), [...r.model.weights, ...params(r)].map((w) => [...w.data])]);
      expect(numbers(b)).toBe(numbers(a));
      expect(numbers(c)).not.toBe(numbers(a));
      // The model predicts with its trained classifier.
      const { labels } = await a.model.predict(job.dataset.test.features);
      expect(labels.filter((label, i) => label === job.dataset.test.labels[i]).length / labels.length).toBeGreaterThan(0.9);
    } finally {
      for (const r of [a, b, c]) r.model.dispose();
    }
  });
});

describe('sampled softmax (a class sample per step, lazy Adam)', () => {
  const sampledHead = (sampledShare: number) =>
    bottleneckSoftmaxHead.build({ classes: 40 }, resolveOptions(bottleneckSoftmaxHead, { dims: 8, sampledShare }));
  const dataset = blobs(23, { classes: 40, rows: 800 });
  const trainer = { ...tiny, maxEpochs: 6, patience: 10 };

  it('learns on 32 of 40 classes per step, and the same seed gives the same numbers', async () => {
    const job = { dataset, head: sampledHead(0.25), trainer };
    const [a, b, c] = [
      await trainMlp(runtime, context(23), job),
      await trainMlp(runtime, context(23), job),
      await trainMlp(runtime, context(24), job),
    ];
    try {
      expect(a.history.at(-1)!.trainLoss).toBeLessThan(0.5 * a.history[0]!.trainLoss);
      // Evaluated on every class: far above chance (1/40), and about as well as the full softmax on this data.
      const full = await trainMlp(runtime, context(23), { ...job, head: sampledHead(1) });
      const accuracy = async (r: typeof a) => {
        const { labels } = await r.model.predict(dataset.test.features);
        return labels.filter((label, i) => label === dataset.test.labels[i]).length / labels.length;
      };
      expect(await accuracy(a)).toBeGreaterThan(0.4);
      expect(await accuracy(a)).toBeGreaterThan((await accuracy(full)) - 0.1);
      full.model.dispose();
      const numbers = (r: typeof a) =>
        JSON.stringify([
          r.history.map(({ seconds: _, ...rest }) => rest),
          [...r.model.weights, ...headParamWeights(r.model.head)].map((w) => [...w.data]),
        ]);
      expect(numbers(b)).toBe(numbers(a));
      expect(numbers(c)).not.toBe(numbers(a));
    } finally {
      for (const r of [a, b, c]) r.model.dispose();
    }
  });

  it('with a share of 1, or a sample as large as the classes, trains exactly as the unsampled head', async () => {
    const plain = sampledHead(1);
    // The sampled expressions with a share of 1, and with a share whose sample would hold every class.
    const sampledExpressions = sampledHead(0.25);
    const job = (head: typeof plain) => ({ dataset, head, trainer: { ...trainer, maxEpochs: 2 } });
    const runs = [
      await trainMlp(runtime, context(25), job(plain)),
      await trainMlp(runtime, context(25), job({ ...sampledExpressions, sampledShare: 1 })),
      await trainMlp(runtime, context(25), { ...job(sampledExpressions), trainer: { ...trainer, maxEpochs: 2, batchSize: 40 } }),
      await trainMlp(runtime, context(25), { ...job(plain), trainer: { ...trainer, maxEpochs: 2, batchSize: 40 } }),
    ];
    try {
      const numbers = (r: (typeof runs)[number]) =>
        JSON.stringify([
          r.history.map(({ seconds: _, ...rest }) => rest),
          [...r.model.weights, ...headParamWeights(r.model.head)].map((w) => [...w.data]),
        ]);
      expect(numbers(runs[1]!)).toBe(numbers(runs[0]!));
      expect(numbers(runs[2]!)).toBe(numbers(runs[3]!));
    } finally {
      for (const r of runs) r.model.dispose();
    }
  });

  it('refuses a head whose sampled share is outside (0, 1] before training', async () => {
    await expect(
      trainMlp(runtime, context(26), { dataset, head: { ...sampledHead(0.25), sampledShare: 1.5 }, trainer }),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/sampled share of 1\.5, which is outside \(0, 1\]/),
    });
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
