import { BATCH_NORM_EPSILON } from '@hyperproto/core';
import type { TracedGraph, Value } from '@hyperproto/onnx-graph';

export interface HiddenLayerValues {
  readonly kernel: Value;
  readonly gamma: Value;
  readonly beta: Value;
  readonly movingMean: Value;
  readonly movingVariance: Value;
}

/** The network's parameters as graph values, in the roles the forward pass gives them. */
export interface MlpValues {
  readonly layers: readonly HiddenLayerValues[];
  readonly headKernel: Value;
  readonly headBias: Value;
}

/** Graph values in `mlpWeightSpecs` order, arranged by role. */
export function mlpValuesFromList(values: readonly Value[], hiddenLayers: number): MlpValues {
  const layers: HiddenLayerValues[] = [];
  for (let i = 0; i < hiddenLayers; i++) {
    const [kernel, gamma, beta, movingMean, movingVariance] = values.slice(i * 5, i * 5 + 5) as [Value, Value, Value, Value, Value];
    layers.push({ kernel, gamma, beta, movingMean, movingVariance });
  }
  return { layers, headKernel: values[hiddenLayers * 5]!, headBias: values[hiddenLayers * 5 + 1]! };
}

export interface TrainingForward {
  readonly output: Value;
  /** Each hidden layer's batch mean and biased variance, for the moving averages. */
  readonly batchStats: readonly { readonly mean: Value; readonly variance: Value }[];
}

/**
 * The seed's network as in the tfjs engine: per hidden layer dense (no bias: batch norm's beta takes its place) ->
 * batch norm -> ReLU -> dropout (a mask input per layer, values 0 or 1/keep), then the head's dense layer with
 * bias. `training` normalises with the batch's statistics; otherwise with the moving averages and no dropout.
 */
export function forwardMlp(
  g: TracedGraph,
  net: MlpValues,
  features: Value,
  mode: { readonly training: true; readonly dropoutMasks?: readonly Value[] } | { readonly training: false },
): TrainingForward {
  const epsilon = g.scalar(BATCH_NORM_EPSILON);
  let hidden = features;
  const batchStats: { mean: Value; variance: Value }[] = [];
  net.layers.forEach((layer, i) => {
    g.source = `hidden layer ${i}`;
    const z = g.matmul(hidden, layer.kernel);
    let centered: Value;
    let variance: Value;
    if (mode.training) {
      const mean = g.reduceMean(z, [0], false);
      centered = g.sub(z, mean);
      variance = g.reduceMean(g.mul(centered, centered), [0], false);
      batchStats.push({ mean, variance });
    } else {
      centered = g.sub(z, layer.movingMean);
      variance = layer.movingVariance;
    }
    // gamma / sqrt(variance + epsilon) as one [units] scale: a single pass over the batch, forward and backward.
    const scale = g.mul(layer.gamma, g.reciprocal(g.sqrt(g.add(variance, epsilon))));
    hidden = g.relu(g.add(g.mul(centered, scale), layer.beta));
    const mask = mode.training ? mode.dropoutMasks?.[i] : undefined;
    if (mask) hidden = g.mul(hidden, mask);
  });
  g.source = "the head's dense layer";
  const output = g.add(g.matmul(hidden, net.headKernel), net.headBias);
  g.source = undefined;
  return { output, batchStats };
}
