import {
  chooseEngine,
  createMatrix,
  createRegistry,
  createRng,
  ErrorCode,
  h,
  HyperprotoError,
  type Dataset,
  type DatasetSplit,
  type HeadDefinition,
  type PluginContext,
  type TrainerSettings,
} from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { builtinGradientRules, type GradientRule } from './gradient-rules.js';
import { onnxruntimeEngine } from './index.js';
import { explainRunFailure } from './run-failures.js';
import { OnnxTrainingFailedError, trainOnnxMlp, type OnnxTrainingResult } from './train-onnx-mlp.js';

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

async function accuracy(result: OnnxTrainingResult, split: DatasetSplit): Promise<number> {
  const { labels } = await result.model.predict(split.features);
  return labels.filter((label, i) => label === split.labels[i]).length / labels.length;
}

describe('trainOnnxMlp', () => {
  it('learns a separable problem with the softmax head, reporting progress per epoch', async () => {
    const dataset = blobs(1);
    const progress: string[] = [];
    const result = await trainOnnxMlp(context(1, { progress: (done, total, label) => progress.push(`${done}/${total} ${label}`) }), {
      dataset,
      head: softmaxHead(4),
      trainer: tiny,
    });
    expect(await accuracy(result, dataset.test)).toBeGreaterThan(0.9);
    expect(result.backend).toBe('onnxruntime/cpu');
    expect(progress).toHaveLength(result.history.length);
    expect(progress[0]).toMatch(/^1\/15 loss \d+\.\d{3} val acc \d\.\d{3}$/);
    result.history.forEach((record, i) => {
      expect(record.epoch).toBe(i + 1);
      expect(record.seconds).toBeGreaterThan(0);
      expect(Number.isFinite(record.trainLoss) && Number.isFinite(record.validationLoss)).toBe(true);
    });
    const { scores } = await result.model.predict(dataset.test.features);
    for (let row = 0; row < 3; row++) expect(scores.data.subarray(row * 4, row * 4 + 4).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('learns a separable problem with the HPN head; scores are cosines', async () => {
    const dataset = blobs(2);
    const result = await trainOnnxMlp(context(2), { dataset, head: hpnHead(4), trainer: tiny });
    expect(await accuracy(result, dataset.test)).toBeGreaterThan(0.9);
    const { scores } = await result.model.predict(dataset.test.features);
    for (const value of scores.data) expect(Math.abs(value)).toBeLessThanOrEqual(1 + 1e-5);
  });

  it("exposes the tfjs engine's weight names and shapes, with moving averages that moved", async () => {
    const dataset = blobs(3, { rows: 64 });
    const result = await trainOnnxMlp(context(3), { dataset, head: hpnHead(4), trainer: { ...tiny, hiddenUnits: 8, maxEpochs: 1 } });
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
    expect(result.model.weights[3]!.data.some((v) => v !== 0)).toBe(true);
    expect(result.model.weights[4]!.data.some((v) => v !== 1)).toBe(true);
    expect(result.model.batchNormEpsilon).toBe(1e-3);
    await expect(result.model.predict(createMatrix(2, 19))).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/expects 20 columns/),
    });
    expect((await result.model.predict(createMatrix(0, 20))).labels).toHaveLength(0);
    result.model.dispose();
    await expect(result.model.predict(dataset.test.features)).rejects.toThrow(/disposed/);
  });

  it('gives identical history and weights for the same seed, different ones for another seed', async () => {
    const dataset = blobs(4, { rows: 200 });
    // Batches of 16 over 200 rows: full batches grouped into runs, and a short last batch of 8.
    const job = { dataset, head: softmaxHead(4), trainer: { ...tiny, batchSize: 16, maxEpochs: 4, patience: 10 } };
    const [a, b, c] = [await trainOnnxMlp(context(11), job), await trainOnnxMlp(context(11), job), await trainOnnxMlp(context(12), job)];
    const withoutTime = (r: OnnxTrainingResult) => r.history.map(({ seconds: _, ...rest }) => rest);
    expect(withoutTime(b)).toEqual(withoutTime(a));
    expect(b.bestEpoch).toBe(a.bestEpoch);
    expect(b.model.weights).toEqual(a.model.weights);
    expect(c.model.weights).not.toEqual(a.model.weights);
  });

  it('stops early on a plateau and returns the best epoch, whose validation accuracy the model reproduces', async () => {
    const dataset = blobs(5, { rows: 160, randomLabels: true });
    const logs: string[] = [];
    const trainer = { ...tiny, learningRate: 0.02, patience: 3, maxEpochs: 40 };
    const result = await trainOnnxMlp(context(5, { log: (m) => logs.push(m) }), { dataset, head: softmaxHead(4), trainer });
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
    const failure = onnxruntimeEngine.train(context(6), { dataset, head: softmaxHead(4), trainer: tiny }, {});
    await expect(failure).rejects.toBeInstanceOf(OnnxTrainingFailedError);
    await expect(failure).rejects.toMatchObject({
      code: ErrorCode.TrainingFailed,
      pluginId: 'engine:onnxruntime',
      message: expect.stringMatching(
        /^engine:onnxruntime: (?!engine:onnxruntime).*at epoch 1, batch 1; lower the learning rate or check the features for extreme values$/,
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
      await trainOnnxMlp(context(7), {
        dataset,
        head: { ...head, loss: h.add(head.loss, confident) },
        trainer: { ...tiny, maxEpochs: 40, patience: 40 },
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(OnnxTrainingFailedError);
    const failed = error as OnnxTrainingFailedError;
    expect(failed.message).toMatch(/training loss became NaN at epoch \d+, batch \d+; lower the learning rate/);
    const partial = failed.partial!;
    expect(partial.history.length).toBeGreaterThanOrEqual(1);
    expect(failed.hint).toContain(`epoch ${partial.bestEpoch}`);
    const best = partial.history[partial.bestEpoch - 1]!;
    expect(await accuracy(partial, dataset.validation)).toBe(best.validationAccuracy);
  });

  it('stops between runs when the signal is aborted, also while training', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      trainOnnxMlp(context(8, { signal: controller.signal }), { dataset: blobs(8, { rows: 64 }), head: softmaxHead(4), trainer: tiny }),
    ).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
    const later = new AbortController();
    const running = trainOnnxMlp(context(8, { signal: later.signal, progress: (done) => done === 2 && later.abort() }), {
      dataset: blobs(8, { rows: 64 }),
      head: softmaxHead(4),
      trainer: tiny,
    });
    await expect(running).rejects.toMatchObject({ code: ErrorCode.Aborted });
  });

  it('rejects jobs it cannot train before starting', async () => {
    const dataset = blobs(9, { rows: 32 });
    await expect(trainOnnxMlp(context(9), { dataset, head: { ...hpnHead(4), constants: {} }, trainer: tiny })).rejects.toThrow(
      /constant "prototypes"/,
    );
    const rules = new Map<string, GradientRule>(builtinGradientRules);
    rules.delete('Max');
    await expect(trainOnnxMlp(context(9), { dataset, head: hpnHead(4), trainer: tiny }, { rules })).rejects.toMatchObject({
      code: ErrorCode.Unsupported,
      message: expect.stringMatching(/head operation "l2normalize".*ONNX operator Max has no gradient rule/),
    });
    dataset.train.features.data[5] = Number.NaN;
    await expect(trainOnnxMlp(context(9), { dataset, head: softmaxHead(4), trainer: tiny })).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/train features have a non-finite value at row 0, column 5/),
    });
    await expect(trainOnnxMlp(context(9), { dataset, head: softmaxHead(4), trainer: { ...tiny, batchSize: 0 } })).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
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
    const probe = await onnxruntimeEngine.probe();
    expect(probe).toMatchObject({ ok: true, backend: expect.stringMatching(/^onnxruntime\/(cpu|cuda)$/) });
    expect((await chooseEngine(registry)).engine).toBe(onnxruntimeEngine);
    const result = await onnxruntimeEngine.train(
      context(12),
      { dataset: blobs(12, { rows: 64 }), head: softmaxHead(4), trainer: { ...tiny, maxEpochs: 2 } },
      {},
    );
    expect(result.history).toHaveLength(2);
  });
});
