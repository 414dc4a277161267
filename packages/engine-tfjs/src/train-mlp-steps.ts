import {
  ErrorCode,
  type HeadDefinition,
  headParamWeights,
  HyperprotoError,
  type Matrix,
  type NamedWeight,
  rowSampledParams,
} from '@hyperproto/core';
import { ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON, type MlpShape, orderedMlpWeights } from '@hyperproto/mlp';
import type { Scalar } from '@tensorflow/tfjs';
import { evaluateHeadExpr, readHeadParams } from './evaluate-head-expr.js';
import { headConstantTensors } from './mlp-inference.js';
import { disposeMlpTensors, mlpTensorsFromWeights, trainableVariables } from './mlp-network.js';
import { headParamTraining } from './sampled-rows-adam.js';
import { type ClassSampleValues, readAndDispose, readWeights, trainStep, type TfjsHandle } from './train-mlp.js';

/** One mini-batch fed as it is: rows, labels and, when dropout is on, a mask per hidden layer. */
export interface GivenBatch {
  readonly features: Matrix;
  readonly labels: Int32Array;
  /** One [rows x hidden units] mask per hidden layer (values 0 or 1 / keep); absent means no dropout. */
  readonly dropoutMasks?: readonly Float32Array[];
  /** The batch's class sample, for a head whose loss trains on one (its `sampledShare` below 1). */
  readonly sample?: ClassSampleValues;
}

export interface GivenSteps {
  readonly inputWidth: number;
  readonly hiddenUnits: number;
  readonly hiddenLayers: number;
  readonly learningRate: number;
  readonly head: HeadDefinition;
  /** Starting weights, by the names of `mlpWeightSpecs`. */
  readonly weights: readonly NamedWeight[];
  readonly batches: readonly GivenBatch[];
}

/**
 * Runs the trainer's exact step (forward, loss, Adam, moving averages) over batches and starting weights the
 * caller chooses, with no shuffling, dropout draws or validation: what another engine needs to check that it
 * trains the same way. Returns the loss of every step and the weights after the last (the head's parameters after
 * the network's, as `headParamWeights` names them).
 */
export async function trainMlpSteps(runtime: TfjsHandle, steps: GivenSteps): Promise<{ losses: number[]; weights: NamedWeight[] }> {
  const { tf } = runtime;
  const shape: MlpShape = {
    inputWidth: steps.inputWidth,
    hiddenUnits: steps.hiddenUnits,
    hiddenLayers: steps.hiddenLayers,
    outputUnits: steps.head.outputUnits,
  };
  const ordered = orderedMlpWeights(shape, steps.weights, 'the starting weights');
  const net = mlpTensorsFromWeights(tf, shape, ordered, true);
  // The head's own parameters are trained with the weights, as in a full training: with class samples, those the
  // loss reads only through their sampled rows are updated in those rows alone.
  const rowSampled = steps.batches.some((batch) => batch.sample) ? rowSampledParams(steps.head.loss) : new Set<string>();
  const { params, sampledRowsAdam, withNetwork } = headParamTraining(tf, steps.head, rowSampled, steps.learningRate);
  const trainable = [...trainableVariables(shape, net), ...withNetwork];
  const optimizer = tf.train.adam(steps.learningRate, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON);
  const constants = headConstantTensors(tf, steps.head);
  const losses: number[] = [];
  try {
    for (const batch of steps.batches) {
      const rows = batch.labels.length;
      if (batch.features.rows !== rows || batch.features.cols !== steps.inputWidth) {
        throw new HyperprotoError(
          ErrorCode.InvalidInput,
          `a batch has ${batch.features.rows} x ${batch.features.cols} features for ${rows} labels`,
        );
      }
      const features = tf.tensor2d(batch.features.data, [rows, steps.inputWidth]);
      const labels = tf.tensor1d(batch.labels, 'int32');
      try {
        const cost = trainStep(tf, {
          net,
          trainable,
          optimizer,
          loss: (output, batchLabels, sample) =>
            evaluateHeadExpr(tf, steps.head.loss, {
              output,
              labels: batchLabels,
              constants,
              params,
              ...(sample ? { sample } : {}),
            }) as Scalar,
          features,
          labels,
          indices: Int32Array.from({ length: rows }, (_, i) => i),
          dropoutMasks: batch.dropoutMasks,
          ...(batch.sample ? { sample: batch.sample, sampledRowsAdam } : {}),
        });
        losses.push((await readAndDispose(cost))[0]!);
      } finally {
        features.dispose();
        labels.dispose();
      }
    }
    return { losses, weights: [...(await readWeights(shape, net)), ...headParamWeights(steps.head, await readHeadParams(params))] };
  } finally {
    disposeMlpTensors(net);
    for (const variable of Object.values(params)) variable.dispose();
    sampledRowsAdam?.dispose();
    optimizer.dispose();
    for (const tensor of Object.values(constants)) tensor.dispose();
  }
}
