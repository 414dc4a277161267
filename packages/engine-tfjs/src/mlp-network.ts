import { BATCH_NORM_EPSILON, type NamedWeight, type Rng } from '@hyperproto/core';
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import { denseMatMul } from './dense-matmul.js';
import type { Tf } from './evaluate-head-expr.js';

export interface BatchNormTensors {
  readonly gamma: Tensor1D;
  readonly beta: Tensor1D;
  readonly movingMean: Tensor1D;
  readonly movingVariance: Tensor1D;
}

export interface HiddenLayerTensors extends BatchNormTensors {
  readonly kernel: Tensor2D;
}

/** The network's parameters as tensors (plain tensors for inference, tf.Variables while training). */
export interface MlpTensors {
  readonly layers: readonly HiddenLayerTensors[];
  readonly headKernel: Tensor2D;
  readonly headBias: Tensor1D;
}

/**
 * Builds the tensors of a network from weights in `mlpWeightSpecs` order. `trainable` makes tf.Variables (moving
 * statistics are variables too, updated by assignment, but never trained); the caller disposes what it gets.
 */
export function mlpTensorsFromWeights(tf: Tf, hiddenLayers: number, ordered: readonly NamedWeight[], trainable: boolean): MlpTensors {
  const make = (index: number, train: boolean) => {
    const weight = ordered[index]!;
    const tensor = tf.tensor(weight.data, [...weight.shape], 'float32');
    if (!trainable) return tensor;
    const variable = tf.variable(tensor, train);
    tensor.dispose();
    return variable;
  };
  const layers: HiddenLayerTensors[] = [];
  for (let i = 0; i < hiddenLayers; i++) {
    const at = i * 5;
    layers.push({
      kernel: make(at, true) as Tensor2D,
      gamma: make(at + 1, true) as Tensor1D,
      beta: make(at + 2, true) as Tensor1D,
      movingMean: make(at + 3, false) as Tensor1D,
      movingVariance: make(at + 4, false) as Tensor1D,
    });
  }
  return {
    layers,
    headKernel: make(hiddenLayers * 5, true) as Tensor2D,
    headBias: make(hiddenLayers * 5 + 1, true) as Tensor1D,
  };
}

/** The tensors in `mlpWeightSpecs` order. */
export function mlpTensorList(net: MlpTensors): (Tensor1D | Tensor2D)[] {
  return [
    ...net.layers.flatMap((layer) => [layer.kernel, layer.gamma, layer.beta, layer.movingMean, layer.movingVariance]),
    net.headKernel,
    net.headBias,
  ];
}

export function disposeMlpTensors(net: MlpTensors): void {
  for (const tensor of mlpTensorList(net)) tensor.dispose();
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
  net.layers.forEach((layer, i) => {
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
  const output = tf.add(denseMatMul(tf, hidden, net.headKernel), net.headBias) as Tensor2D;
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
