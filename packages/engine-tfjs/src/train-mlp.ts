import {
  bindHeadParams,
  type DatasetSplit,
  headParamsFromWeights,
  headParamWeights,
  type NamedWeight,
  type PluginContext,
  ClassSampler,
  headClassSampleSize,
  type Rng,
  rowSampledParams,
  startHeadParams,
  type TrainingJob,
} from '@hyperproto/core';
import {
  ADAM_BETA1,
  ADAM_BETA2,
  ADAM_EPSILON,
  BATCH_NORM_EPSILON,
  BATCH_NORM_MOMENTUM,
  type MlpShape,
  type MlpTrainingDriver,
  type MlpTrainingResult,
  type MlpTrainingSetup,
  mlpLayerList,
  mlpWeightSpecs,
  runMlpTraining,
} from '@hyperproto/mlp';
import type { Scalar, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import { evaluateHeadExpr, type HeadExprInputs, readHeadParams, type Tf } from './evaluate-head-expr.js';
import { forEachChunk, headConstantTensors, inferScores } from './mlp-inference.js';
import {
  disposeMlpTensors,
  dropoutMaskValues,
  forwardMlp,
  type MlpTensors,
  mlpTensorsFromWeights,
  trainableVariables,
} from './mlp-network.js';
import { headParamTraining, type SampledRowsAdam } from './sampled-rows-adam.js';
import { createTrainedMlp, type TrainedMlp } from './trained-mlp.js';

export interface TfjsHandle {
  readonly tf: Tf;
  /** Reported as `tfjs/<backend>`. */
  readonly backend: string;
}

/**
 * Trains the seed's MLP with the job's head in TensorFlow.js: the epoch loop of @hyperproto/mlp (shuffled
 * mini-batches, validation after every epoch, early stopping, the best epoch's weights returned) driving tfjs'
 * Adam one batch at a time. Dropout masks are drawn from the run's 'dropout' stream one draw per unit, so the same
 * seed gives the same run on the same backend.
 */
export function trainMlp(runtime: TfjsHandle, ctx: PluginContext, job: TrainingJob): Promise<MlpTrainingResult<TrainedMlp>> {
  return runMlpTraining(ctx, job, (setup) =>
    openTfjsTraining(runtime, setup, { headParams: ctx.rng.fork('head-params'), classSample: ctx.rng.fork('class-sample') }),
  );
}

/**
 * The network as tf.Variables with tfjs' Adam: the engine's side of the epoch loop. The head's parameters start
 * from the run's 'head-params' stream and class samples come from its 'class-sample' stream, as on every engine.
 */
function openTfjsTraining(
  runtime: TfjsHandle,
  setup: MlpTrainingSetup,
  streams: { readonly headParams: Rng; readonly classSample: Rng },
): MlpTrainingDriver<TrainedMlp> {
  const { tf } = runtime;
  const { dataset, trainer, shape, dropoutRng } = setup;
  const head = startHeadParams(setup.head, streams.headParams);
  // Checked before anything is allocated: a share outside (0, 1] or sampled rows that are not one per class.
  const classSample = headClassSampleSize(head, dataset.classes, setup.batchRows);
  const sampler = classSample === undefined ? undefined : new ClassSampler(dataset.classes, classSample, streams.classSample);
  const rowSampled = sampler ? rowSampledParams(head.loss) : new Set<string>();
  // The job was checked before this runs (head constants included), so nothing below throws before `release`.
  const net = mlpTensorsFromWeights(tf, shape, setup.initialWeights(), true);
  // The head's own parameters (a learned scale, say) are trained by the same Adam as the network's weights; those
  // a sampled loss reads only through their sampled rows, row by row (lazy Adam).
  const { params, sampledRowsAdam, withNetwork } = headParamTraining(tf, head, rowSampled, trainer.learningRate);
  const trainable = [...trainableVariables(shape, net), ...withNetwork];
  const optimizer = tf.train.adam(trainer.learningRate, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON);
  const constants = headConstantTensors(tf, head);
  const train = splitTensors(tf, dataset.train);
  const evaluated = new Map<DatasetSplit, SplitTensors>();
  const parts = { net, head, constants, params, batchNormEpsilon: BATCH_NORM_EPSILON };
  const loss: TrainStep['loss'] = (output, labels, sample) =>
    evaluateHeadExpr(tf, head.loss, { output, labels, constants, params, ...(sample ? { sample } : {}) }) as Scalar;
  return {
    backend: `tfjs/${runtime.backend}`,
    async step(run) {
      const dropoutMasks =
        trainer.dropout > 0
          ? net.hidden.map(() => dropoutMaskValues(dropoutRng, run.size * trainer.hiddenUnits, trainer.dropout))
          : undefined;
      const cost = trainStep(tf, {
        net,
        trainable,
        optimizer,
        loss,
        features: train.features,
        labels: train.labels,
        indices: run.rows,
        dropoutMasks,
        ...(sampler ? { sample: drawClassSample(sampler, dataset.train.labels, run.rows), sampledRowsAdam } : {}),
      });
      const [value = Number.NaN, statistics = Number.NaN] = await readAndDispose(cost);
      return { losses: [value], statistics: [statistics] };
    },
    async evaluate(split) {
      let tensors = evaluated.get(split);
      if (!tensors) evaluated.set(split, (tensors = splitTensors(tf, split)));
      return scoreSplit(tf, parts, tensors);
    },
    snapshot: async () => [...(await readWeights(shape, net)), ...headParamWeights(head, await readHeadParams(params))],
    model: (weights) =>
      createTrainedMlp(tf, {
        inputWidth: dataset.inputWidth,
        classes: dataset.classes,
        trainer,
        head: bindHeadParams(head, headParamsFromWeights(weights)),
        weights,
        batchNormEpsilon: BATCH_NORM_EPSILON,
      }),
    release() {
      disposeMlpTensors(net);
      for (const variable of Object.values(params)) variable.dispose();
      sampledRowsAdam?.dispose();
      optimizer.dispose();
      const splits = [train, ...evaluated.values()];
      for (const tensor of [...Object.values(constants), ...splits.flatMap((t) => [t.features, t.labels])]) tensor.dispose();
    },
  };
}

/** A batch's class sample: its sampled classes [S] and each row's label as a position among them [N]. */
export interface ClassSampleValues {
  readonly classes: Int32Array;
  readonly positions: Int32Array;
}

/** The class sample of the training rows `rows`, drawn by `sampler`. */
export function drawClassSample(sampler: ClassSampler, labels: Int32Array, rows: Int32Array): ClassSampleValues {
  const sample = { classes: new Int32Array(sampler.size), positions: new Int32Array(rows.length) };
  sampler.draw(
    Int32Array.from(rows, (row) => labels[row]!),
    sample.classes,
    sample.positions,
  );
  return sample;
}

export interface TrainStep {
  readonly net: MlpTensors;
  /** The variables tfjs' Adam updates (all but those `sampledRowsAdam` updates). */
  readonly trainable: Variable[];
  readonly optimizer: ReturnType<Tf['train']['adam']>;
  readonly loss: (output: Tensor2D, labels: Tensor1D, sample?: HeadExprInputs['sample']) => Scalar;
  readonly features: Tensor2D;
  readonly labels: Tensor1D;
  readonly indices: Int32Array;
  /** One inverted-dropout mask [batch rows x hidden units] per hidden layer, or none when dropout is off. */
  readonly dropoutMasks: readonly Float32Array[] | undefined;
  /** The batch's class sample, when the head's loss trains on one. */
  readonly sample?: ClassSampleValues;
  /** With a sample: updates the head parameters read only through `sampledRows`, in the sampled rows alone. */
  readonly sampledRowsAdam?: SampledRowsAdam | undefined;
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
    const sample = step.sample && {
      classes: tf.tensor1d(step.sample.classes, 'int32'),
      labels: tf.tensor1d(step.sample.positions, 'int32'),
    };
    // The sampled rows of the row-sampled parameters, as variables of their own: the loss's gradient is taken for
    // them ([S, ...]), not for the whole parameters.
    const rows = sample && step.sampledRowsAdam ? step.sampledRowsAdam.rows(sample.classes) : undefined;
    let batchStats: { mean: Tensor1D; variance: Tensor1D }[] = [];
    const objective = () => {
      const forward = forwardMlp(tf, step.net, features, { training: true, dropoutMasks });
      // The gradient closure runs in its own tidy; keep the batch statistics for the moving averages.
      batchStats = forward.batchStats.map((s) => ({ mean: tf.keep(s.mean), variance: tf.keep(s.variance) }));
      return step.loss(forward.output, labels, sample && { ...sample, ...(rows ? { rows } : {}) });
    };
    let cost: Scalar;
    try {
      if (rows) {
        const { value, grads } = tf.variableGrads(objective, [...step.trainable, ...Object.values(rows)]);
        step.optimizer.applyGradients(step.trainable.map((variable) => ({ name: variable.name, tensor: grads[variable.name]! })));
        step.sampledRowsAdam!.apply(sample!.classes, rows, grads);
        cost = value;
      } else {
        cost = step.optimizer.minimize(objective, true, step.trainable)!;
      }
    } finally {
      // Variables outlive every tidy.
      for (const variable of Object.values(rows ?? {})) variable.dispose();
    }
    try {
      const statistics = batchStats.flatMap((stats) => [tf.sum(stats.mean), tf.sum(stats.variance)]);
      const check = statistics.length > 0 ? tf.addN(statistics) : tf.scalar(0);
      step.net.hidden.forEach((layer, i) => {
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
 * The head's loss, the accuracy of argmax(scores) and the argmax itself over a split in inference mode. The loss is
 * the row-weighted mean of the per-chunk losses, which equals the loss over the whole split for heads whose loss is
 * a row mean.
 */
async function scoreSplit(
  tf: Tf,
  parts: Parameters<typeof inferScores>[1],
  split: SplitTensors,
): Promise<{ loss: number; accuracy: number; predictions: Int32Array }> {
  const rows = split.labels.shape[0];
  let lossSum = 0;
  let correct = 0;
  const predictions = new Int32Array(rows);
  await forEachChunk(rows, async (start, size) => {
    const [loss, hits, predicted] = tf.tidy(() => {
      const features = tf.slice(split.features, [start, 0], [size, -1]);
      const labels = tf.slice(split.labels, [start], [size]);
      const { output, scores } = inferScores(tf, parts, features);
      const chunkLoss = evaluateHeadExpr(tf, parts.head.loss, { output, labels, constants: parts.constants, params: parts.params });
      const argMax = tf.argMax(scores, 1);
      return [chunkLoss, tf.sum(tf.cast(tf.equal(argMax, labels), 'int32')), argMax];
    });
    lossSum += (await loss.data())[0]! * size;
    correct += (await hits.data())[0]!;
    predictions.set(await predicted.data(), start);
    loss.dispose();
    hits.dispose();
    predicted.dispose();
  });
  return { loss: lossSum / rows, accuracy: correct / rows, predictions };
}

/** A copy of the current parameters as engine-neutral named weights. */
export async function readWeights(shape: MlpShape, net: MlpTensors): Promise<NamedWeight[]> {
  const specs = mlpWeightSpecs(shape);
  return Promise.all(
    mlpLayerList(net).map(async (tensor, i) => ({
      name: specs[i]!.name,
      shape: [...tensor.shape],
      data: new Float32Array(await tensor.data()),
    })),
  );
}
