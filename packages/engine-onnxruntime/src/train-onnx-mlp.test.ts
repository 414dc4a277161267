import { existsSync, readdirSync } from 'node:fs';
import { chooseEngine, createRegistry, ErrorCode, headParamWeights, HyperprotoError, resolveOptions } from '@hyperproto/core';
import { bottleneckSoftmaxHead } from '@hyperproto/head-bottleneck-softmax';
import { hpnHead as hpnHeadPlugin } from '@hyperproto/head-hpn';
import { softmaxHead as softmaxHeadPlugin } from '@hyperproto/head-softmax';
import { TrainingFailedError } from '@hyperproto/mlp';
import { cudaProviderInstalled } from '@hyperproto/onnxruntime-session';
import { engineConformance, engineTestContext as context, engineTestHead } from '@hyperproto/plugin-testing';
import { ENGINE_TEST_TRAINER as tiny, engineTestDataset as blobs } from '@hyperproto/plugin-testing';
import { describe, expect, it } from 'vitest';
import { builtinGradientRules, type GradientRule } from './gradient-rules.js';
import { onnxruntimeEngine, onnxruntimeEngineOptionsSchema } from './index.js';
import { explainRunFailure } from './run-failures.js';
import { trainOnnxMlp } from './train-onnx-mlp.js';

// What every engine promises (learning, weights, determinism, stopping, failures, aborts, refusals): the shared
// suite in @hyperproto/plugin-testing, the same cases the tfjs engine runs.
describe('engine:onnxruntime conformance', () => {
  const heads = [softmaxHeadPlugin, hpnHeadPlugin, bottleneckSoftmaxHead];
  for (const c of engineConformance(onnxruntimeEngine, { heads, requirePredictLabels: true })) it(c.name, c.run);
});

const softmaxHead = (classes: number) => engineTestHead(softmaxHeadPlugin, classes);
const hpnHead = (classes: number) => engineTestHead(hpnHeadPlugin, classes);

describe('trainOnnxMlp (onnxruntime only)', () => {
  it('trains on the CPU provider here, with softmax scores that sum to 1 and the batch norm epsilon of tfjs', async () => {
    const dataset = blobs(1, { rows: 64 });
    const result = await trainOnnxMlp(context(1), { dataset, head: softmaxHead(4), trainer: { ...tiny, maxEpochs: 2 } });
    expect(result.backend).toBe('onnxruntime/cpu');
    expect(result.model.batchNormEpsilon).toBe(1e-3);
    const { scores } = await result.model.predict(dataset.test.features);
    for (let row = 0; row < 3; row++) expect(scores.data.subarray(row * 4, row * 4 + 4).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    result.model.dispose();
  });

  it("fails with @hyperproto/mlp's TrainingFailedError on extreme features", async () => {
    const dataset = blobs(6, { rows: 64, scale: 1e30 });
    await expect(trainOnnxMlp(context(6), { dataset, head: softmaxHead(4), trainer: tiny })).rejects.toBeInstanceOf(TrainingFailedError);
  });

  it('refuses a head whose loss needs an operator without a gradient rule, before starting', async () => {
    const dataset = blobs(9, { rows: 32 });
    const rules = new Map<string, GradientRule>(builtinGradientRules);
    rules.delete('Max');
    await expect(trainOnnxMlp(context(9), { dataset, head: hpnHead(4), trainer: tiny }, { rules })).rejects.toMatchObject({
      code: ErrorCode.Unsupported,
      message: expect.stringMatching(/head operation "l2normalize".*ONNX operator Max has no gradient rule/),
    });
  });
});

describe('a head with learned matrix parameters (bottleneck-softmax)', () => {
  it('trains its classifier and bias in the state: the loss falls, the same seed gives the same numbers', async () => {
    const head = bottleneckSoftmaxHead.build({ classes: 4 }, resolveOptions(bottleneckSoftmaxHead, { dims: 6 }));
    const job = { dataset: blobs(21, { rows: 160 }), head, trainer: { ...tiny, maxEpochs: 4, patience: 10 } };
    const [a, b, c] = [await trainOnnxMlp(context(21), job), await trainOnnxMlp(context(21), job), await trainOnnxMlp(context(22), job)];
    try {
      expect(a.history.at(-1)!.trainLoss).toBeLessThan(0.7 * a.history[0]!.trainLoss);
      const params = (r: typeof a) => headParamWeights(r.model.head);
      expect(params(a).map((w) => [w.name, w.shape])).toEqual([
        ['head/param/classifier', [4, 6]],
        ['head/param/bias', [4]],
      ]);
      expect(params(a)[1]!.data.some((v) => v !== 0)).toBe(true);
      const numbers = (r: typeof a) =>
        JSON.stringify([r.history.map(({ seconds: _, ...rest }) => rest), [...r.model.weights, ...params(r)].map((w) => [...w.data])]);
      expect(numbers(b)).toBe(numbers(a));
      expect(numbers(c)).not.toBe(numbers(a));
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
    const [a, b, c] = [await trainOnnxMlp(context(23), job), await trainOnnxMlp(context(23), job), await trainOnnxMlp(context(24), job)];
    try {
      expect(a.history.at(-1)!.trainLoss).toBeLessThan(0.5 * a.history[0]!.trainLoss);
      // Evaluated on every class: far above chance (1/40), and about as well as the full softmax on this data.
      const full = await trainOnnxMlp(context(23), { ...job, head: sampledHead(1) });
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
      await trainOnnxMlp(context(25), job(plain)),
      await trainOnnxMlp(context(25), job({ ...sampledExpressions, sampledShare: 1 })),
      await trainOnnxMlp(context(25), { ...job(sampledExpressions), trainer: { ...trainer, maxEpochs: 2, batchSize: 40 } }),
      await trainOnnxMlp(context(25), { ...job(plain), trainer: { ...trainer, maxEpochs: 2, batchSize: 40 } }),
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
    await expect(trainOnnxMlp(context(26), { dataset, head: { ...sampledHead(0.25), sampledShare: 1.5 }, trainer })).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/sampled share of 1\.5, which is outside \(0, 1\]/),
    });
  });
});

describe('running out of memory', () => {
  it('becomes a TrainingFailed error that suggests a smaller batch', () => {
    for (const message of [
      'std::bad_alloc',
      '/onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:359 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 5120000000',
      'Array buffer allocation failed',
    ]) {
      const error = explainRunFailure(new Error(message), 'a training step', { outputUnits: 100_000, rows: 256 });
      expect(error).toBeInstanceOf(HyperprotoError);
      expect(error.code).toBe(ErrorCode.TrainingFailed);
      expect(error.message).toMatch(/out of memory in a training step with 100000 output units and batches of 256 rows/);
      expect(error.hint).toMatch(/--batch-size 128/);
    }
    expect(
      explainRunFailure(new Error('Non-zero status code returned while running Gemm node'), 'a training step', { outputUnits: 3, rows: 8 })
        .message,
    ).toMatch(/onnxruntime failed in a training step: Non-zero status/);
  });

  it('stops a network too large to allocate with that advice, before any session starts', async () => {
    // 300 x 2^31 weights: more than a Float32Array can hold, so the allocation fails at once and costs nothing.
    const huge = { ...softmaxHead(4), outputUnits: 2 ** 31 };
    await expect(trainOnnxMlp(context(13), { dataset: blobs(13, { rows: 32 }), head: huge, trainer: tiny })).rejects.toMatchObject({
      code: ErrorCode.TrainingFailed,
      message: expect.stringMatching(/out of memory in allocating the network with 2147483648 output units and batches of 32 rows/),
      hint: expect.stringMatching(/--batch-size 16/),
    });
  });
});

describe('engine:onnxruntime plugin', () => {
  it('registers, probes and trains through the plugin interface', async () => {
    const registry = createRegistry(onnxruntimeEngine);
    expect(registry.get('engine', 'onnxruntime')).toBe(onnxruntimeEngine);
    expect(onnxruntimeEngine.options.safeParse({}).success).toBe(true);
    expect(onnxruntimeEngine.options.safeParse({ threads: 2 }).success).toBe(false);
    expect(onnxruntimeEngine.options.safeParse({ provider: 'gpu' }).success).toBe(false);
    const probe = await onnxruntimeEngine.probe();
    expect(probe).toMatchObject({ ok: true, backend: expect.stringMatching(/^onnxruntime\/(cpu|cuda)$/) });
    expect((await chooseEngine(registry)).engine).toBe(onnxruntimeEngine);
    const result = await onnxruntimeEngine.train(
      context(12),
      { dataset: blobs(12, { rows: 64 }), head: softmaxHead(4), trainer: { ...tiny, maxEpochs: 2 } },
      { provider: 'auto' },
    );
    expect(result.history).toHaveLength(2);
  });
});

describe('engine:onnxruntime options', () => {
  it('runs on the provider it is told: cpu always starts, cuda only where its library is installed', async () => {
    const cpu = onnxruntimeEngineOptionsSchema.parse({ provider: 'cpu' });
    expect(await onnxruntimeEngine.probe(cpu)).toEqual({ ok: true, backend: 'onnxruntime/cpu', skipped: [] });
    const result = await onnxruntimeEngine.train(
      context(14),
      { dataset: blobs(14, { rows: 64 }), head: softmaxHead(4), trainer: { ...tiny, maxEpochs: 1 } },
      cpu,
    );
    expect(result.backend).toBe('onnxruntime/cpu');
    const cuda = await onnxruntimeEngine.probe(onnxruntimeEngineOptionsSchema.parse({ provider: 'cuda' }));
    if (cudaProviderInstalled()) {
      expect(cuda).toMatchObject({ ok: true, backend: 'onnxruntime/cuda' });
    } else {
      expect(cuda).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/CUDA execution provider was asked for but cannot start: its provider library is not installed/),
      });
    }
  });

  it.skipIf(!existsSync('/proc/self/task'))(
    'gives its sessions the thread budget of the context (Linux: threads counted in /proc)',
    async () => {
      // Counted while training runs (after the first epoch): the training and validation sessions are both open.
      const job = { dataset: blobs(15, { rows: 64 }), head: softmaxHead(4), trainer: { ...tiny, maxEpochs: 1 } };
      const threadsWhileTraining = async (threads: number) => {
        let seen = 0;
        const result = await trainOnnxMlp(context(15, { threads, progress: () => (seen = readdirSync('/proc/self/task').length) }), job);
        result.model.dispose();
        return seen;
      };
      const wide = await threadsWhileTraining(4);
      const narrow = await threadsWhileTraining(1);
      // Each of the two sessions has a pool of threads - 1 threads besides the caller's.
      expect(wide - narrow).toBeGreaterThanOrEqual(6);
    },
  );
});
