import type { TrainerSettings } from '@hyperproto/core';

// The seed's network as every engine builds it: the same weight names, shapes and roles, so that models from any
// engine load, export and compare alike. Code reaches a weight through its role (`hidden[i].gamma`, `head.bias`),
// never through its name.

/** Keras' BatchNormalization defaults, which the seed's network used. */
export const BATCH_NORM_EPSILON = 1e-3;
export const BATCH_NORM_MOMENTUM = 0.99;

export interface MlpShape {
  readonly inputWidth: number;
  readonly hiddenUnits: number;
  readonly hiddenLayers: number;
  readonly outputUnits: number;
}

/** The shape of a network for these inputs, trainer and head. */
export function mlpShape(
  inputWidth: number,
  trainer: Pick<TrainerSettings, 'hiddenUnits' | 'hiddenLayers'>,
  head: { readonly outputUnits: number },
): MlpShape {
  return { inputWidth, hiddenUnits: trainer.hiddenUnits, hiddenLayers: trainer.hiddenLayers, outputUnits: head.outputUnits };
}

export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Trained by the optimizer; the batch norm moving statistics are updated by averaging instead. */
  readonly trainable: boolean;
}

/** A hidden layer's parameters by role: the dense kernel (no bias: batch norm's beta takes its place) and batch norm. */
export interface HiddenLayer<K, V = K> {
  readonly kernel: K;
  readonly gamma: V;
  readonly beta: V;
  readonly movingMean: V;
  readonly movingVariance: V;
}

/** The head's dense layer by role. */
export interface HeadLayer<K, V = K> {
  readonly kernel: K;
  readonly bias: V;
}

/**
 * Something per parameter of the network, arranged by role: weight specs, named weights, tensors or graph values.
 * `K` is what a kernel (a matrix) is, `V` what a vector is.
 */
export interface MlpLayers<K, V = K> {
  readonly hidden: readonly HiddenLayer<K, V>[];
  readonly head: HeadLayer<K, V>;
}

/** The network's weight specs by role. */
export function mlpLayers(shape: MlpShape): MlpLayers<WeightSpec> {
  const hidden: HiddenLayer<WeightSpec>[] = [];
  let width = shape.inputWidth;
  for (let i = 0; i < shape.hiddenLayers; i++) {
    const units = [shape.hiddenUnits];
    hidden.push({
      kernel: { name: `trunk/dense${i}/kernel`, shape: [width, shape.hiddenUnits], trainable: true },
      gamma: { name: `trunk/bn${i}/gamma`, shape: units, trainable: true },
      beta: { name: `trunk/bn${i}/beta`, shape: units, trainable: true },
      movingMean: { name: `trunk/bn${i}/moving_mean`, shape: units, trainable: false },
      movingVariance: { name: `trunk/bn${i}/moving_variance`, shape: units, trainable: false },
    });
    width = shape.hiddenUnits;
  }
  return {
    hidden,
    head: {
      kernel: { name: 'head/dense/kernel', shape: [width, shape.outputUnits], trainable: true },
      bias: { name: 'head/dense/bias', shape: [shape.outputUnits], trainable: true },
    },
  };
}

/**
 * The network's parameters in their fixed order: per hidden layer its kernel, gamma, beta, moving mean and moving
 * variance, then the head's kernel and bias. Saved models, training states and graph inputs all use this order.
 */
export function mlpLayerList<K, V>(layers: MlpLayers<K, V>): (K | V)[] {
  return [
    ...layers.hidden.flatMap((layer) => [layer.kernel, layer.gamma, layer.beta, layer.movingMean, layer.movingVariance]),
    layers.head.kernel,
    layers.head.bias,
  ];
}

/** The inverse of {@link mlpLayerList}: items in the fixed order, arranged by role. */
export function mlpLayersFromList<K, V = K>(list: readonly (K | V)[], hiddenLayers: number): MlpLayers<K, V> {
  const expected = hiddenLayers * 5 + 2;
  if (list.length !== expected)
    throw new RangeError(`a network of ${hiddenLayers} hidden layers has ${expected} parameters, got ${list.length}`);
  const hidden: HiddenLayer<K, V>[] = [];
  for (let i = 0; i < hiddenLayers; i++) {
    const at = i * 5;
    hidden.push({
      kernel: list[at] as K,
      gamma: list[at + 1] as V,
      beta: list[at + 2] as V,
      movingMean: list[at + 3] as V,
      movingVariance: list[at + 4] as V,
    });
  }
  return { hidden, head: { kernel: list[hiddenLayers * 5] as K, bias: list[hiddenLayers * 5 + 1] as V } };
}

/** Every parameter's spec in the fixed order of {@link mlpLayerList}. */
export function mlpWeightSpecs(shape: MlpShape): WeightSpec[] {
  return mlpLayerList(mlpLayers(shape));
}
