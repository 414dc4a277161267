import {
  BATCH_NORM_EPSILON,
  BATCH_NORM_MOMENTUM,
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
  mlpWeightSpecs,
  type NamedWeight,
  type PluginContext,
  throwIfAborted,
  type TrainerSettings,
  TrainerSettingsSchema,
  type TrainingJob,
  type TrainingResult,
} from '@hyperproto/core';
import type { Scalar, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import { evaluateHeadExpr, type Tf } from './evaluate-head-expr.js';
import { forEachChunk, headConstantTensors, inferScores } from './mlp-inference.js';
import { disposeMlpTensors, dropoutMaskValues, forwardMlp, mlpTensorList, mlpTensorsFromWeights, type MlpTensors } from './mlp-network.js';
import { createTrainedMlp, type TrainedMlp } from './trained-mlp.js';

/** Adam as in Keras: the seed trained with Keras' Adam at its default betas and epsilon. */
export const ADAM_BETA1 = 0.9;
export const ADAM_BETA2 = 0.999;
export const ADAM_EPSILON = 1e-7;

export interface MlpTrainingResult extends TrainingResult {
  readonly model: TrainedMlp;
}

/**
 * Training stopped because the loss stopped being finite. `partial` is the run up to that point with the model of
 * the best epoch so far (undefined when no epoch finished): it holds plain arrays, so ignoring it leaks nothing.
 * The plugin boundary (callPlugin) tags it with `engine:tfjs` in place, so `partial` reaches the caller with it.
 */
export class TrainingFailedError extends HyperprotoError {
  readonly partial: MlpTrainingResult | undefined;

  constructor(message: string, partial: MlpTrainingResult | undefined, hint: string) {
    super(ErrorCode.TrainingFailed, message, { hint });
    this.partial = partial;
  }
}

export interface TfjsHandle {
  readonly tf: Tf;
  /** Reported as `tfjs/<backend>`. */
  readonly backend: string;
}

/**
 * Trains the seed's MLP with the job's head: Adam on shuffled mini-batches, validation after every epoch, early
 * stopping on validation accuracy (ties go to the lower validation loss), and the best epoch's weights returned.
 * Random streams are forks of ctx.rng, one per purpose, so the same seed gives the same run on the same backend.
 */
export async function trainMlp(runtime: TfjsHandle, ctx: PluginContext, job: TrainingJob): Promise<MlpTrainingResult> {
  const { tf } = runtime;
  const trainer = checkTrainer(job.trainer);
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

  const shape: MlpShape = {
    inputWidth: dataset.inputWidth,
    hiddenUnits: trainer.hiddenUnits,
    hiddenLayers: trainer.hiddenLayers,
    outputUnits: head.outputUnits,
  };
  const weightRng = ctx.rng.fork('weights');
  const orderRng = ctx.rng.fork('batch-order');
  const dropoutRng = ctx.rng.fork('dropout');
  const backend = `tfjs/${runtime.backend}`;
  const names = mlpWeightSpecs(shape).map((spec) => spec.name);
  const snapshotModel = (weights: NamedWeight[]) =>
    createTrainedMlp(tf, {
      inputWidth: dataset.inputWidth,
      classes: dataset.classes,
      trainer,
      head,
      weights,
      batchNormEpsilon: BATCH_NORM_EPSILON,
    });

  // Everything that can reject the job was checked above, so nothing below throws before the try that frees it.
  const net = mlpTensorsFromWeights(tf, trainer.hiddenLayers, initialMlpWeights(shape, weightRng), true);
  const trainable = [...net.layers.flatMap((l) => [l.kernel, l.gamma, l.beta]), net.headKernel, net.headBias] as Variable[];
  const optimizer = tf.train.adam(trainer.learningRate, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON);
  const constants = headConstantTensors(tf, head);
  const train = splitTensors(tf, dataset.train);
  const validation = splitTensors(tf, dataset.validation);
  const parts = { net, head, constants, batchNormEpsilon: BATCH_NORM_EPSILON };

  const epochs = new EpochHistory(ctx, trainer);
  const fail = (what: string): never => {
    const partial = epochs.result(snapshotModel, backend);
    throw new TrainingFailedError(
      `${what}; lower the learning rate or check the features for extreme values`,
      partial,
      partial
        ? `The error's "partial" result holds the model of epoch ${partial.bestEpoch}, the best before training failed.`
        : 'No epoch finished, so there is no model to keep.',
    );
  };

  try {
    const rows = dataset.train.labels.length;
    const order = new Int32Array(rows);
    for (let epoch = 1; epoch <= trainer.maxEpochs; epoch++) {
      const started = performance.now();
      for (let i = 0; i < rows; i++) order[i] = i;
      orderRng.shuffle(order);
      let lossSum = 0;
      for (let batch = 0, start = 0; start < rows; batch++, start += trainer.batchSize) {
        await yieldNowAndThen();
        throwIfAborted(ctx.signal);
        const size = Math.min(trainer.batchSize, rows - start);
        const dropoutMasks =
          trainer.dropout > 0
            ? net.layers.map(() => dropoutMaskValues(dropoutRng, size * trainer.hiddenUnits, trainer.dropout))
            : undefined;
        const cost = trainStep(tf, {
          net,
          trainable,
          optimizer,
          loss: (output, labels) => evaluateHeadExpr(tf, head.loss, { output, labels, constants }) as Scalar,
          features: train.features,
          labels: train.labels,
          indices: order.subarray(start, start + size),
          dropoutMasks,
        });
        const [value = Number.NaN, statistics = Number.NaN] = await readAndDispose(cost);
        if (!Number.isFinite(value)) fail(`training loss became ${value} at epoch ${epoch}, batch ${batch + 1}`);
        // Batch norm absorbs overflowing activations (an infinite variance scales them to 0) and would go on
        // training a network that outputs a constant; that is a failure too.
        if (!Number.isFinite(statistics)) fail(`batch normalization statistics overflowed at epoch ${epoch}, batch ${batch + 1}`);
        lossSum += value * size;
      }
      throwIfAborted(ctx.signal);
      const scored = await scoreSplit(tf, parts, validation);
      if (!Number.isFinite(scored.loss)) fail(`validation loss became ${scored.loss} at epoch ${epoch}`);
      const record: EpochRecord = {
        epoch,
        trainLoss: lossSum / rows,
        validationLoss: scored.loss,
        validationAccuracy: scored.accuracy,
        seconds: (performance.now() - started) / 1000,
      };
      if (await epochs.add(record, () => readWeights(net, names))) break;
    }
  } finally {
    disposeMlpTensors(net);
    optimizer.dispose();
    for (const tensor of [...Object.values(constants), train.features, train.labels, validation.features, validation.labels])
      tensor.dispose();
  }
  // maxEpochs >= 1 and every epoch either records a best or throws, so there is a result here.
  return epochs.result(snapshotModel, backend)!;
}

export interface TrainStep {
  readonly net: MlpTensors;
  readonly trainable: Variable[];
  readonly optimizer: ReturnType<Tf['train']['adam']>;
  readonly loss: (output: Tensor2D, labels: Tensor1D) => Scalar;
  readonly features: Tensor2D;
  readonly labels: Tensor1D;
  readonly indices: Int32Array;
  /** One inverted-dropout mask [batch rows x hidden units] per hidden layer, or none when dropout is off. */
  readonly dropoutMasks: readonly Float32Array[] | undefined;
}

/**
 * One Adam step on one mini-batch, then the batch norm moving averages. Returns [batch loss, sum of the batch
 * statistics], one tensor so that a single read checks both for non-finite values.
 */
export function trainStep(tf: Tf, step: TrainStep): Tensor1D {
  return tf.tidy(() => {
    const indices = tf.tensor1d(step.indices, 'int32');
    const features = tf.gather(step.features, indices) as Tensor2D;
    const labels = tf.gather(step.labels, indices) as Tensor1D;
    const size = step.indices.length;
    const dropoutMasks = step.dropoutMasks?.map((values) => tf.tensor2d(values, [size, values.length / size]));
    let batchStats: { mean: Tensor1D; variance: Tensor1D }[] = [];
    const cost = step.optimizer.minimize(
      () => {
        const forward = forwardMlp(tf, step.net, features, { training: true, dropoutMasks });
        // The gradient closure runs in its own tidy; keep the batch statistics for the moving averages.
        batchStats = forward.batchStats.map((s) => ({ mean: tf.keep(s.mean), variance: tf.keep(s.variance) }));
        return step.loss(forward.output, labels);
      },
      true,
      step.trainable,
    )!;
    try {
      const statistics = batchStats.flatMap((stats) => [tf.sum(stats.mean), tf.sum(stats.variance)]);
      const check = statistics.length > 0 ? tf.addN(statistics) : tf.scalar(0);
      step.net.layers.forEach((layer, i) => {
        const stats = batchStats[i]!;
        const decay = (moving: Tensor1D, batch: Tensor1D) =>
          tf.add(tf.mul(moving, BATCH_NORM_MOMENTUM), tf.mul(batch, 1 - BATCH_NORM_MOMENTUM));
        (layer.movingMean as Variable).assign(decay(layer.movingMean, stats.mean));
        (layer.movingVariance as Variable).assign(decay(layer.movingVariance, stats.variance));
      });
      return tf.stack([cost, check]) as Tensor1D;
    } finally {
      // Kept tensors outlive every tidy, so they are released by hand.
      for (const stats of batchStats) {
        stats.mean.dispose();
        stats.variance.dispose();
      }
    }
  });
}

export async function readAndDispose(tensor: Tensor1D): Promise<Float32Array> {
  try {
    return (await tensor.data()) as Float32Array;
  } finally {
    tensor.dispose();
  }
}

interface SplitTensors {
  readonly features: Tensor2D;
  readonly labels: Tensor1D;
}

function splitTensors(tf: Tf, split: DatasetSplit): SplitTensors {
  return {
    features: tf.tensor2d(split.features.data, [split.features.rows, split.features.cols], 'float32'),
    labels: tf.tensor1d(split.labels, 'int32'),
  };
}

/**
 * The head's loss and the accuracy of argmax(scores) over a split in inference mode. The loss is the row-weighted
 * mean of the per-chunk losses, which equals the loss over the whole split for heads whose loss is a row mean.
 */
async function scoreSplit(
  tf: Tf,
  parts: Parameters<typeof inferScores>[1],
  split: SplitTensors,
): Promise<{ loss: number; accuracy: number }> {
  const rows = split.labels.shape[0];
  let lossSum = 0;
  let correct = 0;
  await forEachChunk(rows, async (start, size) => {
    const [loss, hits] = tf.tidy(() => {
      const features = tf.slice(split.features, [start, 0], [size, -1]);
      const labels = tf.slice(split.labels, [start], [size]);
      const { output, scores } = inferScores(tf, parts, features);
      const chunkLoss = evaluateHeadExpr(tf, parts.head.loss, { output, labels, constants: parts.constants });
      return [chunkLoss, tf.sum(tf.cast(tf.equal(tf.argMax(scores, 1), labels), 'int32'))];
    });
    lossSum += (await loss.data())[0]! * size;
    correct += (await hits.data())[0]!;
    loss.dispose();
    hits.dispose();
  });
  return { loss: lossSum / rows, accuracy: correct / rows };
}

/** A copy of the current parameters as engine-neutral named weights. */
export async function readWeights(net: MlpTensors, names: readonly string[]): Promise<NamedWeight[]> {
  const tensors = mlpTensorList(net);
  return Promise.all(
    tensors.map(async (tensor, i) => ({ name: names[i]!, shape: [...tensor.shape], data: new Float32Array(await tensor.data()) })),
  );
}

function checkTrainer(trainer: TrainerSettings): TrainerSettings {
  const parsed = TrainerSettingsSchema.safeParse(trainer);
  if (!parsed.success) throw new HyperprotoError(ErrorCode.InvalidOptions, `trainer settings: ${formatIssues(parsed.error.issues)}`);
  return parsed.data;
}

const YIELD_EVERY_MS = 100;
let lastYield = performance.now();

/**
 * Lets timers and signal handlers run about every 100 ms. On the wasm and cpu backends reading a tensor resolves
 * at once, so without this an epoch never leaves the microtask queue and Ctrl-C or SIGTERM would wait for the
 * whole training run.
 */
async function yieldNowAndThen(): Promise<void> {
  if (performance.now() - lastYield < YIELD_EVERY_MS) return;
  await new Promise((resolve) => setImmediate(resolve));
  lastYield = performance.now();
}
