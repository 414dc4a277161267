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

/**
 * Most scores one `predict` call returns: 2^31 float32 values (8 GiB). More do not fit a typed array in Node.js
 * (and seldom in memory); `predictLabels` has no such bound.
 */
export const MAX_PREDICT_SCORES = 2 ** 31;

/** A trained MLP: engine-neutral weights (the network's names, so saved models and the exporter take it as is). */
export interface TrainedMlp extends TrainedModel {
  readonly batchNormEpsilon: number;
  predictLabels(features: Matrix): Promise<Int32Array>;
}

export interface TrainedMlpParts {
  readonly inputWidth: number;
  readonly classes: number;
  readonly trainer: TrainerSettings;
  readonly head: HeadDefinition;
  readonly weights: readonly NamedWeight[];
  readonly batchNormEpsilon?: number;
}

/** The checked network a trained model's inference runs. */
export interface MlpNetwork {
  readonly shape: MlpShape;
  readonly weights: readonly NamedWeight[];
  readonly batchNormEpsilon: number;
}

/** An engine's inference of one trained network; every batch it is given is already checked and not empty. */
export interface MlpInference {
  /** Scores [N, C] and their argmax. */
  predict(features: Matrix): Promise<{ scores: Matrix; labels: Int32Array }>;
  /** The argmax alone, byte for byte `predict`'s labels, without holding N x C scores. */
  predictLabels(features: Matrix): Promise<Int32Array>;
  /** Frees what the engine holds for the network (sessions, tensors); called once, when no call is running. */
  release(): void | Promise<void>;
}

/**
 * A trained MLP whose weights stay plain Float32Arrays. `inference` is called once, with the checked network; the
 * engine may hold native resources from its first prediction (made lazily, so that a model nobody predicts with,
 * e.g. the best-so-far model of a failed run, holds nothing native) until `dispose`, which releases them once the
 * calls in flight have finished. Weights are checked against the network here, and every batch before the engine
 * sees it.
 */
export function createTrainedMlpModel(
  parts: TrainedMlpParts,
  inference: (network: MlpNetwork) => MlpInference,
  source = 'model',
): TrainedMlp {
  const shape = mlpShape(parts.inputWidth, parts.trainer, parts.head);
  const weights = orderedMlpWeights(shape, parts.weights, source);
  const batchNormEpsilon = parts.batchNormEpsilon ?? BATCH_NORM_EPSILON;
  const engine = inference({ shape, weights, batchNormEpsilon });
  let disposed = false;
  let released = false;
  let running = 0;
  const releaseWhenIdle = () => {
    if (!disposed || running > 0 || released) return;
    released = true;
    // Nothing is left to report a failed release to: the model is unusable either way.
    Promise.resolve(engine.release()).catch(() => undefined);
  };
  const checked = async <T>(call: string, features: Matrix, empty: () => T, run: (features: Matrix) => Promise<T>): Promise<T> => {
    if (disposed) throw new HyperprotoError(ErrorCode.Internal, `${call} was called on a disposed model`);
    if (features.cols !== parts.inputWidth || features.data.length !== features.rows * features.cols) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `features are ${features.rows} x ${features.cols} (${features.data.length} values); the model expects ${parts.inputWidth} columns`,
        { hint: 'Use features generated or preprocessed the same way as the training data.' },
      );
    }
    if (features.rows === 0) return empty();
    running += 1;
    try {
      return await run(features);
    } finally {
      running -= 1;
      releaseWhenIdle();
    }
  };
  return {
    inputWidth: parts.inputWidth,
    classes: parts.classes,
    trainer: parts.trainer,
    head: parts.head,
    weights,
    batchNormEpsilon,
    predict: (features: Matrix) =>
      checked(
        'predict',
        features,
        () => ({ scores: createMatrix(0, parts.classes), labels: new Int32Array(0) }),
        (f) => {
          if (f.rows * parts.classes > MAX_PREDICT_SCORES) {
            throw new HyperprotoError(
              ErrorCode.InvalidInput,
              `predict of ${f.rows} rows x ${parts.classes} classes would return ${f.rows * parts.classes} scores, more than ${MAX_PREDICT_SCORES}`,
              {
                hint: `Predict at most ${Math.floor(MAX_PREDICT_SCORES / parts.classes)} rows per call, or call predictLabels for the labels alone.`,
              },
            );
          }
          return engine.predict(f);
        },
      ),
    predictLabels: (features: Matrix) =>
      checked(
        'predictLabels',
        features,
        () => new Int32Array(0),
        (f) => engine.predictLabels(f),
      ),
    dispose() {
      disposed = true;
      releaseWhenIdle();
    },
  };
}
