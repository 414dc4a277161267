import {
  bindHeadParams,
  type DatasetSplit,
  headParamsFromWeights,
  headParamWeights,
  type NamedWeight,
  type PluginContext,
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
import { evaluateHeadExpr, headParamVariables, readHeadParams, type Tf } from './evaluate-head-expr.js';
import { forEachChunk, headConstantTensors, inferScores } from './mlp-inference.js';
import {
  disposeMlpTensors,
  dropoutMaskValues,
  forwardMlp,
  type MlpTensors,
  mlpTensorsFromWeights,
  trainableVariables,
} from './mlp-network.js';
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
  return runMlpTraining(ctx, job, (setup) => openTfjsTraining(runtime, setup));
}

/** The network as tf.Variables with tfjs' Adam: the engine's side of the epoch loop. */
function openTfjsTraining(runtime: TfjsHandle, setup: MlpTrainingSetup): MlpTrainingDriver<TrainedMlp> {
  const { tf } = runtime;
  const { dataset, head, trainer, shape, dropoutRng } = setup;
  // The job was checked before this runs (head constants included), so nothing below throws before `release`.
  const net = mlpTensorsFromWeights(tf, shape, setup.initialWeights(), true);
  // The head's own parameters (a learned scale, say) are trained by the same Adam as the network's weights.
  const params = headParamVariables(tf, head);
  const trainable = [...trainableVariables(shape, net), ...Object.values(params)];
  const optimizer = tf.train.adam(trainer.learningRate, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON);
  const constants = headConstantTensors(tf, head);
  const train = splitTensors(tf, dataset.train);
  const evaluated = new Map<DatasetSplit, SplitTensors>();
  const parts = { net, head, constants, batchNormEpsilon: BATCH_NORM_EPSILON };
  const loss = (output: Tensor2D, labels: Tensor1D) => evaluateHeadExpr(tf, head.loss, { output, labels, constants, params }) as Scalar;
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
      });
      const [value = Number.NaN, statistics = Number.NaN] = await readAndDispose(cost);
      return { losses: [value], statistics: [statistics] };
    },
    async evaluate(split) {
      let tensors = evaluated.get(split);
      if (!tensors) evaluated.set(split, (tensors = splitTensors(tf, split)));
      return scoreSplit(tf, { ...parts, head: bindHeadParams(head, await readHeadParams(params)) }, tensors);
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
      optimizer.dispose();
      const splits = [train, ...evaluated.values()];
      for (const tensor of [...Object.values(constants), ...splits.flatMap((t) => [t.features, t.labels])]) tensor.dispose();
    },
  };
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
