import { BATCH_NORM_EPSILON, createMatrix, ErrorCode, type HeadDefinition, HyperprotoError, type Matrix, type MlpShape, type NamedWeight, orderedMlpWeights, type TrainedModel, type TrainerSettings } from '@hyperproto/core';
import { InferenceSession } from './inference-session.js';

/** A trained MLP: engine-neutral weights (the tfjs engine's names, so saveModel and the exporters take it as is). */
export interface TrainedOnnxMlp extends TrainedModel {
  readonly batchNormEpsilon: number;
}

export interface TrainedOnnxMlpParts {
  readonly inputWidth: number;
  readonly classes: number;
  readonly trainer: TrainerSettings;
  readonly head: HeadDefinition;
  readonly weights: readonly NamedWeight[];
  readonly executionProviders?: readonly string[];
}

/**
 * A model that keeps its weights as plain Float32Arrays and opens an onnxruntime session only for the length of a
 * `predict` call, so a model nobody disposes (e.g. the best-so-far model of a failed run) holds nothing native.
 */
export function createTrainedOnnxMlp(parts: TrainedOnnxMlpParts, source = 'model'): TrainedOnnxMlp {
  const shape: MlpShape = {
    inputWidth: parts.inputWidth,
    hiddenUnits: parts.trainer.hiddenUnits,
    hiddenLayers: parts.trainer.hiddenLayers,
    outputUnits: parts.head.outputUnits,
  };
  const weights = orderedMlpWeights(shape, parts.weights, source);
  let disposed = false;
  return {
    inputWidth: parts.inputWidth,
    classes: parts.classes,
    trainer: parts.trainer,
    head: parts.head,
    weights,
    batchNormEpsilon: BATCH_NORM_EPSILON,
    async predict(features: Matrix) {
      if (disposed) throw new HyperprotoError(ErrorCode.Internal, 'predict was called on a disposed model');
      if (features.cols !== parts.inputWidth || features.data.length !== features.rows * features.cols) {
        throw new HyperprotoError(
          ErrorCode.InvalidInput,
          `features are ${features.rows} x ${features.cols} (${features.data.length} values); the model expects ${parts.inputWidth} columns`,
          { hint: 'Use features generated or preprocessed the same way as the training data.' },
        );
      }
      if (features.rows === 0) return { scores: createMatrix(0, parts.classes), labels: new Int32Array(0) };
      const session = await InferenceSession.create(shape, parts.head, parts.classes, parts.executionProviders);
      try {
        return await session.predict(weights, features);
      } finally {
        await session.release();
      }
    },
    dispose() {
      disposed = true;
    },
  };
}
