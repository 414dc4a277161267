import { ErrorCode, HyperprotoError, type NamedWeight, type Rng } from '@hyperproto/core';
import {
  type MlpLayers,
  type MlpShape,
  mlpLayerList,
  mlpLayers,
  mlpLayersFromList,
  mlpWeightSpecs,
  type WeightSpec,
} from './mlp-layers.js';

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Starting weights: Glorot-uniform kernels drawn from `rng` (layer by layer, the head's last), zero biases and
 * betas, unit gammas, moving statistics 0 and 1. The same seed starts every engine from the same weights.
 */
export function initialMlpWeights(shape: MlpShape, rng: Rng): NamedWeight[] {
  const filled = ({ name, shape: dims }: WeightSpec, value: number): NamedWeight => ({
    name,
    shape: dims,
    data: new Float32Array(size(dims)).fill(value),
  });
  const glorot = (spec: WeightSpec): NamedWeight => {
    const weight = filled(spec, 0);
    const limit = Math.sqrt(6 / (spec.shape[0]! + spec.shape[1]!));
    rng.fillUniform(weight.data, -limit, limit);
    return weight;
  };
  const layers = mlpLayers(shape);
  return mlpLayerList({
    hidden: layers.hidden.map((layer) => ({
      kernel: glorot(layer.kernel),
      gamma: filled(layer.gamma, 1),
      beta: filled(layer.beta, 0),
      movingMean: filled(layer.movingMean, 0),
      movingVariance: filled(layer.movingVariance, 1),
    })),
    head: { kernel: glorot(layers.head.kernel), bias: filled(layers.head.bias, 0) },
  });
}

/** Weights in the network's fixed order, looked up by name and checked against the network's shapes. */
export function orderedMlpWeights(shape: MlpShape, weights: readonly NamedWeight[], source: string): NamedWeight[] {
  const byName = new Map(weights.map((w) => [w.name, w]));
  return mlpWeightSpecs(shape).map((spec) => {
    const weight = byName.get(spec.name);
    if (!weight) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `${source} has no weight "${spec.name}"`, {
        hint: 'Use a model trained by a hyperproto engine: its weights follow the network of @hyperproto/mlp.',
      });
    }
    if (weight.shape.join(',') !== spec.shape.join(',') || weight.data.length !== size(spec.shape)) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `${source}: weight "${spec.name}" has shape [${weight.shape.join(', ')}] with ${weight.data.length} values, expected [${spec.shape.join(', ')}]`,
      );
    }
    return { name: spec.name, shape: spec.shape, data: weight.data };
  });
}

/** The checked weights of {@link orderedMlpWeights}, arranged by role. */
export function mlpWeightsByRole(shape: MlpShape, weights: readonly NamedWeight[], source: string): MlpLayers<NamedWeight> {
  return mlpLayersFromList(orderedMlpWeights(shape, weights, source), shape.hiddenLayers);
}
