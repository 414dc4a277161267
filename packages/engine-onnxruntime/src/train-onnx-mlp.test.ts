import { existsSync, readdirSync } from 'node:fs';
import { chooseEngine, createRegistry, ErrorCode, HyperprotoError } from '@hyperproto/core';
import { bottleneckSoftmaxHead } from '@hyperproto/head-bottleneck-softmax';
import { hpnHead as hpnHeadPlugin } from '@hyperproto/head-hpn';
import { softmaxHead as softmaxHeadPlugin } from '@hyperproto/head-softmax';
import { cudaProviderInstalled } from '@hyperproto/onnxruntime-session';
import { engineConformance, engineTestContext as context, engineTestHead } from '@hyperproto/plugin-testing';
import { ENGINE_TEST_TRAINER as tiny, engineTestDataset as blobs } from '@hyperproto/plugin-testing';
import { describe, expect, it } from 'vitest';
import { builtinGradientRules, type GradientRule } from './gradient-rules.js';
import { onnxruntimeEngine, onnxruntimeEngineOptionsSchema } from './index.js';
import { explainRunFailure } from './run-failures.js';
import { nextBatchesPerRun, trainOnnxMlp } from './train-onnx-mlp.js';

// What every engine promises (learning, weights, determinism, stopping, failures, aborts, refusals, learned head
// parameters, sampled softmax): the shared suite in @hyperproto/plugin-testing, the same cases the tfjs engine runs.
describe('engine:onnxruntime conformance', () => {
  const heads = [softmaxHeadPlugin, hpnHeadPlugin, bottleneckSoftmaxHead];
  const cases = engineConformance(onnxruntimeEngine, {
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

describe('nextBatchesPerRun', () => {
  it('doubles while twice as many batches fit the time of a run, up to the largest run', () => {
    const sizes = [1];
    for (let i = 0; i < 9; i++) sizes.push(nextBatchesPerRun(sizes.at(-1)!, 500, 128));
    expect(sizes).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 128, 128]);
    expect(nextBatchesPerRun(32, 500, 39)).toBe(39);
    expect(nextBatchesPerRun(39, 500, 39)).toBe(39);
  });

  it('keeps its size while the batches that fit a run wander, so that runs keep one shape', () => {
    // 104 batches fit a run's time, then 82, 127, 48: runs stay at 64.
    const sizes = [104, 82, 127, 48].map((fitting) => nextBatchesPerRun(64, fitting, 128));
    expect(sizes).toEqual([64, 64, 64, 64]);
  });

  it('halves once fewer than three quarters of its batches fit (a machine that became busy), never below one', () => {
    expect(nextBatchesPerRun(64, 47, 128)).toBe(32);
    expect(nextBatchesPerRun(32, 47, 128)).toBe(32);
    expect(nextBatchesPerRun(1, 0, 128)).toBe(1);
  });
});

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
      hint: expect.stringMatching(/^Use fewer output units .*the output layer's 16 x 2147483648 kernel.*--batch-size 16/),
    });
  });

  it('names the hidden width when the hidden layers are what does not fit', async () => {
    // 20 inputs x 2^28 units, then 2^28 x 2^28: the first kernel alone is past the largest Float32Array.
    const wide = { ...tiny, hiddenUnits: 2 ** 28 };
    await expect(
      trainOnnxMlp(context(14), { dataset: blobs(14, { rows: 32 }), head: softmaxHead(4), trainer: wide }),
    ).rejects.toMatchObject({
      code: ErrorCode.TrainingFailed,
      message: expect.stringMatching(/out of memory in allocating the network with 4 output units/),
      hint: expect.stringMatching(
        /^Use fewer hidden units \(--hidden-units, now 268435456\): the hidden layers' kernels \(20 x 268435456, then/,
      ),
    });
    // 4,096 rows x 100,300 activations (1.5 GiB) against a 300 x 100,000 output layer with its moments (0.3 GiB).
    const batch = explainRunFailure(new Error('std::bad_alloc'), 'a training step', { outputUnits: 100_000, rows: 4096, hiddenUnits: 300 });
    expect(batch.hint).toMatch(/^Use a smaller batch \(e\.g\. --batch-size 2048\)/);
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
