import { BATCH_NORM_EPSILON, createMatrix, ErrorCode, type HeadDefinition, HyperprotoError, type Matrix, type MlpShape, type NamedWeight, orderedMlpWeights, type TrainedModel, type TrainerSettings } from '@hyperproto/core';
import type { Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from './evaluate-head-expr.js';
import { forEachChunk, headConstantTensors, inferScores } from './mlp-inference.js';
import { disposeMlpTensors, mlpTensorsFromWeights } from './mlp-network.js';

/** A trained MLP: engine-neutral weights plus what is needed to rebuild and run it. */
export interface TrainedMlp extends TrainedModel {
  readonly classes: number;
  readonly batchNormEpsilon: number;
}

export interface TrainedMlpParts {
  readonly inputWidth: number;
  readonly classes: number;
  readonly trainer: TrainerSettings;
  readonly head: HeadDefinition;
  readonly weights: readonly NamedWeight[];
  readonly batchNormEpsilon?: number;
}

/**
 * A model that keeps its weights as plain Float32Arrays and uploads them to tfjs only for the length of a
 * `predict` call. It holds no tensors between calls, so a model nobody disposes (e.g. the best-so-far model on a
 * failed run) leaks nothing; `dispose` only marks it unusable.
 */
export function createTrainedMlp(tf: Tf, parts: TrainedMlpParts, source = 'model'): TrainedMlp {
  const shape: MlpShape = {
    inputWidth: parts.inputWidth,
    hiddenUnits: parts.trainer.hiddenUnits,
    hiddenLayers: parts.trainer.hiddenLayers,
    outputUnits: parts.head.outputUnits,
  };
  const ordered = orderedMlpWeights(shape, parts.weights, source);
  const batchNormEpsilon = parts.batchNormEpsilon ?? BATCH_NORM_EPSILON;
  let disposed = false;

  return {
    inputWidth: parts.inputWidth,
    classes: parts.classes,
    trainer: parts.trainer,
    head: parts.head,
    weights: ordered,
    batchNormEpsilon,
    async predict(features: Matrix) {
      if (disposed) throw new HyperprotoError(ErrorCode.Internal, 'predict was called on a disposed model');
      if (features.cols !== parts.inputWidth || features.data.length !== features.rows * features.cols) {
        throw new HyperprotoError(
          ErrorCode.InvalidInput,
          `features are ${features.rows} x ${features.cols} (${features.data.length} values); the model expects ${parts.inputWidth} columns`,
          { hint: 'Use features generated or preprocessed the same way as the training data.' },
        );
      }
      const scores = createMatrix(features.rows, parts.classes);
      const labels = new Int32Array(features.rows);
      const net = mlpTensorsFromWeights(tf, shape.hiddenLayers, ordered, false);
      const constants = headConstantTensors(tf, parts.head);
      try {
        await forEachChunk(features.rows, async (start, size) => {
          const [chunkScores, chunkLabels] = tf.tidy(() => {
            const x = tf.tensor2d(features.data.subarray(start * features.cols, (start + size) * features.cols), [size, features.cols]);
            const { scores: s } = inferScores(tf, { net, head: parts.head, constants, batchNormEpsilon }, x);
            return [s, tf.argMax(s, 1)] as const;
          });
          try {
            if ((chunkScores as Tensor2D).shape[1] !== parts.classes) {
              throw new HyperprotoError(ErrorCode.InvalidInput, `the head's scores have ${chunkScores.shape[1]} columns, expected ${parts.classes} classes`);
            }
            scores.data.set(await chunkScores.data(), start * parts.classes);
            labels.set(await chunkLabels.data(), start);
          } finally {
            chunkScores.dispose();
            chunkLabels.dispose();
          }
        });
      } finally {
        disposeMlpTensors(net);
        for (const tensor of Object.values(constants)) tensor.dispose();
      }
      return { scores, labels };
    },
    dispose() {
      disposed = true;
    },
  };
}
