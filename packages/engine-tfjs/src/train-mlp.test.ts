import { createMatrix, createRegistry, createRng, ErrorCode } from '@hyperproto/core';
import { bottleneckSoftmaxHead } from '@hyperproto/head-bottleneck-softmax';
import { hpnHead as hpnHeadPlugin } from '@hyperproto/head-hpn';
import { initialMlpWeights } from '@hyperproto/mlp';
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

// What every engine promises (learning, weights, determinism, stopping, failures, aborts, refusals, learned head
// parameters, sampled softmax): the shared suite in @hyperproto/plugin-testing, the same cases the onnxruntime engine
// runs.
describe('engine:tfjs conformance', () => {
  const heads = [softmaxHeadPlugin, hpnHeadPlugin, bottleneckSoftmaxHead];
  const cases = engineConformance(tfjsEngine, {
    heads,
    requirePredictLabels: true,
    usesMlpTrainingLoop: true,
    learnedParamsHead: { plugin: bottleneckSoftmaxHead, options: { dims: 6 } },
    sampledHead: { plugin: bottleneckSoftmaxHead, options: { dims: 8 } },
  });
  for (const c of cases) it(c.name, c.run);
});

const softmaxHead = (classes: number) => engineTestHead(softmaxHeadPlugin, classes);
const hpnHead = (classes: number) => engineTestHead(hpnHeadPlugin, classes);

describe('trainMlp (tfjs only)', () => {
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
