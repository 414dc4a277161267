import {
  checkDatasetSplit,
  constantsUsed,
  type DatasetSplit,
  type EpochRecord,
  EpochHistory,
  ErrorCode,
  firstNonFinite,
  formatIssues,
  HyperprotoError,
  initialMlpWeights,
  type MlpShape,
  type NamedWeight,
  type PluginContext,
  throwIfAborted,
  type TrainerSettings,
  TrainerSettingsSchema,
  type TrainingJob,
  type TrainingResult,
} from '@hyperproto/core';
import type { GradientRules } from './gradient-rules.js';
import { InferenceSession } from './inference-session.js';
import { fillDropoutMask } from './mlp-weights.js';
import { runOrExplain } from './run-failures.js';
import { createTrainedOnnxMlp, type TrainedOnnxMlp } from './trained-onnx-mlp.js';
import { TrainingSession, type PackedBatches } from './training-session.js';

export interface OnnxTrainingResult extends TrainingResult {
  readonly model: TrainedOnnxMlp;
}

export interface OnnxTrainingOptions {
  /** onnxruntime execution providers in order of preference; `['cpu']` by default. */
  readonly executionProviders?: readonly string[];
  /** Gradient rules to differentiate with; the built-in registry by default. */
  readonly rules?: GradientRules;
}

/**
 * Training stopped because the loss stopped being finite. `partial` is the run up to that point with the model of
 * the best epoch so far (undefined when no epoch finished); it holds plain arrays, so ignoring it leaks nothing.
 */
export class OnnxTrainingFailedError extends HyperprotoError {
  readonly partial: OnnxTrainingResult | undefined;

  constructor(message: string, partial: OnnxTrainingResult | undefined, hint: string) {
    super(ErrorCode.TrainingFailed, message, { hint });
    this.partial = partial;
  }
}

/**
 * How long a run (several batches) should take: long enough to amortise handing the whole state (weights and
 * Adam's moments) in and out, short enough for Ctrl-C to get through soon. onnxruntime-node returns every output in
 * a freshly allocated array, and fresh memory was measured at about 5 ms per MiB on this project's machines, so
 * the target grows with the state: 0.25 s for the seed's 1,000 classes (6 MiB), 5 s at 100,000 (360 MiB).
 */
function targetSecondsPerRun(stateBytes: number): number {
  return Math.min(5, Math.max(0.25, (0.02 * stateBytes) / 2 ** 20));
}
const MAX_BATCHES_PER_RUN = 32;

/**
 * Trains the seed's MLP with the job's head in onnxruntime, the same way as the tfjs engine: Adam on shuffled
 * mini-batches, validation after every epoch, early stopping on validation accuracy (ties go to the lower
 * validation loss), and the best epoch's weights returned. Random streams are forks of ctx.rng named as in the
 * tfjs engine: 'weights' (the same starting weights), 'batch-order' (the same batches) and 'dropout' (masks of the
 * same distribution, drawn faster: see fillDropoutMask).
 */
export async function trainOnnxMlp(ctx: PluginContext, job: TrainingJob, options: OnnxTrainingOptions = {}): Promise<OnnxTrainingResult> {
  const trainer = checkJob(job);
  const { dataset, head } = job;
  const executionProviders = options.executionProviders ?? ['cpu'];
  const backend = `onnxruntime/${executionProviders[0]}`;
  const shape: MlpShape = {
    inputWidth: dataset.inputWidth,
    hiddenUnits: trainer.hiddenUnits,
    hiddenLayers: trainer.hiddenLayers,
    outputUnits: head.outputUnits,
  };
  const weightRng = ctx.rng.fork('weights');
  const orderRng = ctx.rng.fork('batch-order');
  const dropoutRng = ctx.rng.fork('dropout');
  const snapshotModel = (weights: readonly NamedWeight[]) =>
    createTrainedOnnxMlp({ inputWidth: dataset.inputWidth, classes: dataset.classes, trainer, head, weights, executionProviders });

  const training = await runOrExplain('allocating the network', { outputUnits: head.outputUnits, rows: trainer.batchSize }, () =>
    TrainingSession.create({
      shape,
      head,
      learningRate: trainer.learningRate,
      dropout: trainer.dropout,
      rules: options.rules,
      weights: initialMlpWeights(shape, weightRng),
      executionProviders,
      batchSize: trainer.batchSize,
    }),
  );
  let validation: InferenceSession | undefined;

  const epochs = new EpochHistory(ctx, trainer);
  const fail = (what: string): never => {
    const partial = epochs.result(snapshotModel, backend);
    throw new OnnxTrainingFailedError(
      `${what}; lower the learning rate or check the features for extreme values`,
      partial,
      partial
        ? `The error's "partial" result holds the model of epoch ${partial.bestEpoch}, the best before training failed.`
        : 'No epoch finished, so there is no model to keep.',
    );
  };

  try {
    validation = await InferenceSession.create(shape, head, dataset.classes, executionProviders);
    const rows = dataset.train.labels.length;
    const order = new Int32Array(rows);
    const packer = new BatchPacker(dataset.inputWidth, trainer);
    let batchesPerRun = 1;
    const secondsPerRun = targetSecondsPerRun(training.stateBytes);
    for (let epoch = 1; epoch <= trainer.maxEpochs; epoch++) {
      const started = performance.now();
      for (let i = 0; i < rows; i++) order[i] = i;
      orderRng.shuffle(order);
      let lossSum = 0;
      const fullBatches = Math.floor(rows / trainer.batchSize);
      const totalBatches = Math.ceil(rows / trainer.batchSize);
      for (let batch = 0; batch < totalBatches; ) {
        // Let Ctrl-C through: a run holds the thread until it returns.
        await new Promise((resolve) => setImmediate(resolve));
        throwIfAborted(ctx.signal);
        // Batches of one run share their size: full batches together, the short last one alone.
        const count = batch < fullBatches ? Math.min(batchesPerRun, fullBatches - batch) : 1;
        const size = Math.min(trainer.batchSize, rows - batch * trainer.batchSize);
        const packed = packer.pack(dataset.train, order, batch * trainer.batchSize, count, size, dropoutRng);
        const runStarted = performance.now();
        const { losses, statistics } = await training.run(packed);
        const perBatch = (performance.now() - runStarted) / 1000 / count;
        // At most doubling: one quick run on a busy machine must not commit the next to a long one.
        batchesPerRun = Math.max(1, Math.min(MAX_BATCHES_PER_RUN, 2 * batchesPerRun, Math.round(secondsPerRun / Math.max(perBatch, 1e-6))));
        for (let k = 0; k < count; k++) {
          const value = losses[k]!;
          if (!Number.isFinite(value)) fail(`training loss became ${value} at epoch ${epoch}, batch ${batch + k + 1}`);
          // Batch norm absorbs overflowing activations (an infinite variance scales them to 0) and would go on
          // training a network that outputs a constant; that is a failure too.
          if (!Number.isFinite(statistics[k]!)) fail(`batch normalization statistics overflowed at epoch ${epoch}, batch ${batch + k + 1}`);
          lossSum += value * size;
        }
        batch += count;
      }
      await new Promise((resolve) => setImmediate(resolve));
      throwIfAborted(ctx.signal);
      const weights = training.weights();
      const scored = await validation.evaluate(weights, dataset.validation);
      if (!Number.isFinite(scored.loss)) fail(`validation loss became ${scored.loss} at epoch ${epoch}`);
      const record: EpochRecord = {
        epoch,
        trainLoss: lossSum / rows,
        validationLoss: scored.loss,
        validationAccuracy: scored.accuracy,
        seconds: (performance.now() - started) / 1000,
      };
      if (await epochs.add(record, () => weights)) break;
    }
  } finally {
    await training.release();
    await validation?.release();
  }
  // maxEpochs >= 1 and every epoch either records a best or throws, so there is a result here.
  return epochs.result(snapshotModel, backend)!;
}

/**
 * Lays out consecutive batches of the shuffled order for one run, with their dropout masks, in buffers reused from
 * run to run (fresh arrays of several MiB per run cost more in page faults than the copying itself).
 */
class BatchPacker {
  private features = new Float32Array(0);
  private labels = new Int32Array(0);
  private masks: Float32Array[] = [];

  constructor(
    private readonly width: number,
    private readonly trainer: TrainerSettings,
  ) {}

  /** `count` batches of `size` rows from position `start` of `order`. */
  pack(split: DatasetSplit, order: Int32Array, start: number, count: number, size: number, rng: PluginContext['rng']): PackedBatches {
    const { width, trainer } = this;
    const rows = count * size;
    if (this.labels.length < rows) {
      this.features = new Float32Array(rows * width);
      this.labels = new Int32Array(rows);
      this.masks =
        trainer.dropout > 0 ? Array.from({ length: trainer.hiddenLayers }, () => new Float32Array(rows * trainer.hiddenUnits)) : [];
    }
    const features = this.features.subarray(0, rows * width);
    const labels = this.labels.subarray(0, rows);
    for (let i = 0; i < rows; i++) {
      const row = order[start + i]!;
      features.set(split.features.data.subarray(row * width, (row + 1) * width), i * width);
      labels[i] = split.labels[row]!;
    }
    const maskSize = size * trainer.hiddenUnits;
    const dropoutMasks = this.masks.map((mask) => mask.subarray(0, rows * trainer.hiddenUnits));
    for (let k = 0; k < count; k++) {
      for (const mask of dropoutMasks) fillDropoutMask(rng, mask, k * maskSize, maskSize, trainer.dropout);
    }
    return { count, rows: size, features, labels, dropoutMasks };
  }
}

/** Everything that can reject a job, checked before any session starts. */
function checkJob(job: TrainingJob): TrainerSettings {
  const parsed = TrainerSettingsSchema.safeParse(job.trainer);
  if (!parsed.success) throw new HyperprotoError(ErrorCode.InvalidOptions, `trainer settings: ${formatIssues(parsed.error.issues)}`);
  const { dataset, head } = job;
  checkDatasetSplit(dataset.train, 'train', dataset.inputWidth, dataset.classes);
  checkDatasetSplit(dataset.validation, 'validation', dataset.inputWidth, dataset.classes);
  if (!Number.isInteger(head.outputUnits) || head.outputUnits < 1) {
    throw new HyperprotoError(ErrorCode.InvalidInput, `the head asks for ${head.outputUnits} output units; it needs a positive integer`);
  }
  for (const name of new Set([...constantsUsed(head.loss), ...constantsUsed(head.scores)])) {
    if (!head.constants[name])
      throw new HyperprotoError(ErrorCode.InvalidInput, `the head's expressions use constant "${name}", which the head does not provide`);
  }
  for (const [name, matrix] of Object.entries(head.constants)) {
    if (matrix.data.length !== matrix.rows * matrix.cols || firstNonFinite(matrix.data) >= 0) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `head constant "${name}" is not a finite ${matrix.rows} x ${matrix.cols} matrix`);
    }
  }
  return parsed.data;
}
