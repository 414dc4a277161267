import { ErrorCode, HyperprotoError } from './errors.js';
import type { NamedWeight } from './plugins.js';
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
