import { ErrorCode, HyperprotoError } from './errors.js';
import type { HeadDefinition } from './head-graph.js';
import { createMatrix, type Matrix } from './matrix.js';
import type { NamedWeight, TrainedModel, TrainerSettings } from './plugins.js';
import type { Rng } from './rng.js';

// The seed's network as every engine builds it: the same weight names, shapes and starting weights, so that models
// from any engine load, export and compare alike, and the same seed starts every engine from the same weights.

/** Keras' BatchNormalization defaults, which the seed's network used. */
export const BATCH_NORM_EPSILON = 1e-3;
export const BATCH_NORM_MOMENTUM = 0.99;

export interface MlpShape {
  readonly inputWidth: number;
  readonly hiddenUnits: number;
  readonly hiddenLayers: number;
  readonly outputUnits: number;
}

export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Trained by the optimizer; the batch norm moving statistics are updated by averaging instead. */
  readonly trainable: boolean;
}

/** Every parameter in a fixed order: per hidden layer its dense kernel and batch norm, then the head's dense layer. */
export function mlpWeightSpecs(shape: MlpShape): WeightSpec[] {
  const specs: WeightSpec[] = [];
  let width = shape.inputWidth;
  for (let i = 0; i < shape.hiddenLayers; i++) {
    const units = [shape.hiddenUnits];
    specs.push(
      { name: `trunk/dense${i}/kernel`, shape: [width, shape.hiddenUnits], trainable: true },
      { name: `trunk/bn${i}/gamma`, shape: units, trainable: true },
      { name: `trunk/bn${i}/beta`, shape: units, trainable: true },
      { name: `trunk/bn${i}/moving_mean`, shape: units, trainable: false },
      { name: `trunk/bn${i}/moving_variance`, shape: units, trainable: false },
    );
    width = shape.hiddenUnits;
  }
  specs.push(
    { name: 'head/dense/kernel', shape: [width, shape.outputUnits], trainable: true },
    { name: 'head/dense/bias', shape: [shape.outputUnits], trainable: true },
  );
  return specs;
}

/** Starting weights: Glorot-uniform kernels from `rng`, zero biases and betas, unit gammas, moving stats 0 and 1. */
export function initialMlpWeights(shape: MlpShape, rng: Rng): NamedWeight[] {
  return mlpWeightSpecs(shape).map(({ name, shape: dims }) => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    if (name.endsWith('/kernel')) {
      const limit = Math.sqrt(6 / (dims[0]! + dims[1]!));
      rng.fillUniform(data, -limit, limit);
    } else if (name.endsWith('/gamma') || name.endsWith('/moving_variance')) {
      data.fill(1);
    }
    return { name, shape: dims, data };
  });
}

/** Weights in `mlpWeightSpecs` order, looked up by name and checked against the network's shapes. */
export function orderedMlpWeights(shape: MlpShape, weights: readonly NamedWeight[], source: string): NamedWeight[] {
  const byName = new Map(weights.map((w) => [w.name, w]));
  return mlpWeightSpecs(shape).map((spec) => {
    const weight = byName.get(spec.name);
    if (!weight) throw new HyperprotoError(ErrorCode.InvalidInput, `${source} has no weight "${spec.name}"`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (weight.shape.join(',') !== spec.shape.join(',') || weight.data.length !== size) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `${source}: weight "${spec.name}" has shape [${weight.shape.join(', ')}] with ${weight.data.length} values, expected [${spec.shape.join(', ')}]`,
      );
    }
    return { name: spec.name, shape: spec.shape, data: weight.data };
  });
}

/** A trained MLP: engine-neutral weights (these names, so saved models and the exporter take it as is). */
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
  const shape: MlpShape = {
    inputWidth: parts.inputWidth,
    hiddenUnits: parts.trainer.hiddenUnits,
    hiddenLayers: parts.trainer.hiddenLayers,
    outputUnits: parts.head.outputUnits,
  };
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
