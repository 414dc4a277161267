import {
  createMatrix,
  ErrorCode,
  type HeadDefinition,
  HyperprotoError,
  type Matrix,
  type NamedWeight,
  type TrainedModel,
  type TrainerSettings,
} from '@hyperproto/core';
import { BATCH_NORM_EPSILON, type MlpShape, mlpShape } from './mlp-layers.js';
import { orderedMlpWeights } from './mlp-weights.js';

/** A trained MLP: engine-neutral weights (the network's names, so saved models and the exporter take it as is). */
export interface TrainedMlp extends TrainedModel {
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

/** An engine's forward pass over a batch that is already checked and not empty. */
export type MlpForward = (
  network: { readonly shape: MlpShape; readonly weights: readonly NamedWeight[]; readonly batchNormEpsilon: number },
  features: Matrix,
) => Promise<{ scores: Matrix; labels: Int32Array }>;

/**
 * A trained MLP whose weights stay plain Float32Arrays: each engine's `forward` loads them only for the length of
 * a `predict` call, so a model nobody disposes (e.g. the best-so-far model of a failed run) holds nothing native;
 * `dispose` only marks it unusable. Weights are checked against the network here, and every batch before `forward`.
 */
export function createTrainedMlpModel(parts: TrainedMlpParts, forward: MlpForward, source = 'model'): TrainedMlp {
  const shape = mlpShape(parts.inputWidth, parts.trainer, parts.head);
  const weights = orderedMlpWeights(shape, parts.weights, source);
  const batchNormEpsilon = parts.batchNormEpsilon ?? BATCH_NORM_EPSILON;
  let disposed = false;
  return {
    inputWidth: parts.inputWidth,
    classes: parts.classes,
    trainer: parts.trainer,
    head: parts.head,
    weights,
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
      if (features.rows === 0) return { scores: createMatrix(0, parts.classes), labels: new Int32Array(0) };
      return forward({ shape, weights, batchNormEpsilon }, features);
    },
    dispose() {
      disposed = true;
    },
  };
}
