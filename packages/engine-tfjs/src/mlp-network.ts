import type { NamedWeight, Rng } from '@hyperproto/core';
import { BATCH_NORM_EPSILON, type MlpLayers, mlpLayerList, mlpLayersFromList, type MlpShape, mlpWeightSpecs } from '@hyperproto/mlp';
import type { Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import { denseMatMul } from './dense-matmul.js';
import type { Tf } from './evaluate-head-expr.js';

/** The network's parameters as tensors by role (plain tensors for inference, tf.Variables while training). */
export type MlpTensors = MlpLayers<Tensor2D, Tensor1D>;

/**
 * Builds the tensors of a network from weights in the network's order. `trainable` makes tf.Variables (moving
 * statistics are variables too, updated by assignment, but never trained); the caller disposes what it gets.
 */
export function mlpTensorsFromWeights(tf: Tf, shape: MlpShape, ordered: readonly NamedWeight[], trainable: boolean): MlpTensors {
  const specs = mlpWeightSpecs(shape);
  const tensors = ordered.map((weight, i) => {
    const tensor = tf.tensor(weight.data, [...weight.shape], 'float32');
    if (!trainable) return tensor;
    const variable = tf.variable(tensor, specs[i]!.trainable);
    tensor.dispose();
    return variable;
  });
  return mlpLayersFromList<Tensor2D, Tensor1D>(tensors as (Tensor2D | Tensor1D)[], shape.hiddenLayers);
}

/** The variables the optimizer trains, in the network's order (the moving statistics are averaged instead). */
export function trainableVariables(shape: MlpShape, net: MlpTensors): Variable[] {
  const specs = mlpWeightSpecs(shape);
  return mlpLayerList(net).filter((_, i) => specs[i]!.trainable) as Variable[];
}

export function disposeMlpTensors(net: MlpTensors): void {
  for (const tensor of mlpLayerList(net)) tensor.dispose();
}

export type ForwardMode =
  | { readonly training: false }
  /** One mask [N, hiddenUnits] per hidden layer (values 0 or 1/keep), or none when dropout is off. */
  | { readonly training: true; readonly dropoutMasks?: readonly Tensor2D[] };

export interface ForwardResult {
  readonly output: Tensor2D;
  /** Training mode only: each hidden layer's batch mean and (biased) variance, for the moving averages. */
  readonly batchStats: readonly { readonly mean: Tensor1D; readonly variance: Tensor1D }[];
}

/**
 * The seed's network: per hidden layer dense (no bias: batch norm's beta takes its place) -> batch norm -> ReLU ->
 * dropout, then the head's dense layer with bias. Batch norm uses batch statistics while training and the moving
 * averages otherwise.
 */
export function forwardMlp(tf: Tf, net: MlpTensors, features: Tensor2D, mode: ForwardMode, epsilon = BATCH_NORM_EPSILON): ForwardResult {
  let hidden = features;
  const batchStats: { mean: Tensor1D; variance: Tensor1D }[] = [];
  net.hidden.forEach((layer, i) => {
    const z = denseMatMul(tf, hidden, layer.kernel);
    let mean = layer.movingMean;
    let variance = layer.movingVariance;
    if (mode.training) {
      ({ mean, variance } = tf.moments(z, 0) as { mean: Tensor1D; variance: Tensor1D });
      batchStats.push({ mean, variance });
    }
    const normalised = tf.mul(tf.sub(z, mean), tf.rsqrt(tf.add(variance, epsilon)));
    hidden = tf.relu(tf.add(tf.mul(normalised, layer.gamma), layer.beta)) as Tensor2D;
    const mask = mode.training ? mode.dropoutMasks?.[i] : undefined;
    if (mask) hidden = tf.mul(hidden, mask);
  });
  const output = tf.add(denseMatMul(tf, hidden, net.head.kernel), net.head.bias) as Tensor2D;
  return { output, batchStats };
}

/**
 * Inverted-dropout masks drawn from `rng`: each unit kept with probability 1 - rate and scaled by 1 / (1 - rate),
 * so inference needs no rescaling. One 32-bit draw per unit.
 */
export function dropoutMaskValues(rng: Rng, size: number, rate: number): Float32Array {
  const keep = 1 - rate;
  const threshold = keep * 0x100000000;
  const scale = 1 / keep;
  const mask = new Float32Array(size);
  for (let i = 0; i < size; i++) if (rng.uint32() < threshold) mask[i] = scale;
  return mask;
}
