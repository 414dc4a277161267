import { BATCH_NORM_EPSILON, type MlpLayers } from '@hyperproto/mlp';
import type { TracedGraph, Value } from '@hyperproto/onnx-graph';

/** The network's parameters as graph values, by role (`mlpLayersFromList` arranges the inputs in network order). */
export type MlpValues = MlpLayers<Value>;

/**
 * The seed's network in inference mode, as in the tfjs engine: per hidden layer dense (no bias: batch norm's beta
 * takes its place) -> batch norm with the moving averages -> ReLU, then the head's dense layer with bias. Batch norm
 * is folded into the dense layer, as an export folds it: with s = gamma / sqrt(variance + epsilon), one product with
 * the kernel scaled by s and the bias beta - mean s, where the unfolded form made three more passes over the rows
 * (measured 2-7% faster on 10,000 rows); the weights are scaled once per run, not per row.
 */
export function inferenceMlp(g: TracedGraph, net: MlpValues, features: Value): Value {
  const epsilon = g.scalar(BATCH_NORM_EPSILON);
  let hidden = features;
  net.hidden.forEach((layer, i) => {
    g.source = `hidden layer ${i}`;
    const scale = g.mul(layer.gamma, g.reciprocal(g.sqrt(g.add(layer.movingVariance, epsilon))));
    const bias = g.sub(layer.beta, g.mul(layer.movingMean, scale));
    hidden = g.relu(g.gemm(hidden, g.mul(layer.kernel, scale), { c: bias }));
  });
  g.source = "the head's dense layer";
  const output = g.add(g.matmul(hidden, net.head.kernel), net.head.bias);
  g.source = undefined;
  return output;
}

/** Values of one batch that every layer reads: rows of N values (column sums as products) and 1 / N. */
export interface BatchRows {
  /** [1, N] float ones. */
  readonly ones: Value;
  /** [1, N], every value the dropout masks' keptScale (ones without dropout): sums of dy = keptScale dy' as products. */
  readonly keptSums: Value;
  /** Scalar 1 / N. */
  readonly inverseCount: Value;
}

/** What the backward pass of one hidden layer reads from its forward pass. */
interface HiddenLayerPass {
  readonly input: Value;
  /** z - mean(z), [N, units]. */
  readonly centered: Value;
  /** 1 / sqrt(variance + epsilon), [1, units]. */
  readonly inverseStd: Value;
  /** gamma / sqrt(variance + epsilon), [1, units]. */
  readonly scale: Value;
  /** After ReLU and dropout, [N, units]. */
  readonly output: Value;
}

export interface MlpTrainingPass {
  readonly net: MlpValues;
  readonly output: Value;
  /** Each hidden layer's batch mean and biased variance as rows [1, units], for the moving averages. */
  readonly batchStats: readonly { readonly mean: Value; readonly variance: Value }[];
  readonly hidden: readonly HiddenLayerPass[];
  /** The dropout masks' value for a kept unit, 1 / (1 - rate); 1 without dropout. */
  readonly keptScale: number;
  readonly rows: BatchRows;
}

/**
 * The training-mode forward pass, the same function as the tfjs engine's: batch norm normalises with the batch's
 * mean and biased variance, dropout multiplies by a mask input per layer (values 0 or `keptScale`). Means are
 * products with a row of ones, several times faster in onnxruntime than ReduceMean over the batch.
 */
export function trainingForwardMlp(
  g: TracedGraph,
  net: MlpValues,
  features: Value,
  rows: BatchRows,
  dropout: { readonly masks: readonly Value[]; readonly keptScale: number },
): MlpTrainingPass {
  const epsilon = g.scalar(BATCH_NORM_EPSILON);
  const mean = (x: Value) => g.mul(g.matmul(rows.ones, x), rows.inverseCount);
  let hidden = features;
  const batchStats: { mean: Value; variance: Value }[] = [];
  const layers: HiddenLayerPass[] = [];
  net.hidden.forEach((layer, i) => {
    g.source = `hidden layer ${i}`;
    const z = g.matmul(hidden, layer.kernel);
    const batchMean = mean(z);
    const centered = g.sub(z, batchMean);
    const variance = mean(g.mul(centered, centered));
    batchStats.push({ mean: batchMean, variance });
    const inverseStd = g.reciprocal(g.sqrt(g.add(variance, epsilon)));
    const scale = g.mul(layer.gamma, inverseStd);
    let output = g.relu(g.add(g.mul(centered, scale), layer.beta));
    const mask = dropout.masks[i];
    if (mask) output = g.mul(output, mask);
    layers.push({ input: hidden, centered, inverseStd, scale, output });
    hidden = output;
  });
  g.source = "the head's dense layer";
  const output = g.gemm(hidden, net.head.kernel, { c: net.head.bias });
  g.source = undefined;
  return { net, output, batchStats, hidden: layers, keptScale: dropout.masks.length ? dropout.keptScale : 1, rows };
}

/**
 * Gradients of the network's trainable weights by role: the kernels in their weights' shapes, the per-unit weights
 * (gamma, beta, the head's bias) as rows [1, units], which broadcast as the weights do and need no Reshape.
 */
export interface MlpGradients {
  readonly hidden: readonly { readonly kernel: Value; readonly gamma: Value; readonly beta: Value }[];
  readonly head: { readonly kernel: Value; readonly bias: Value };
}

/**
 * The gradients of the network's trainable weights (kernels, gammas, betas, the head's kernel and bias; their own
 * shapes) from the gradient of the loss with respect to the network's output, by the closed forms of each layer:
 * with x^ = (z - mean) / sigma and y = gamma x^ + beta,
 *   dbeta = sum(dy), dgamma = sum(dy x^), dz = gamma / sigma (dy - mean(dy) - x^ mean(dy x^)).
 * Dropout and ReLU pass dy = dh * mask * step(y) = keptScale * dh * sign(h) (h = relu(y) * mask >= 0), the
 * constant folded into the per-unit factors. Fewer operators and fewer passes over the batch than differentiating
 * the same forward pass operator by operator (mlp-graph.test.ts checks that both give the same gradients).
 */
export function backwardMlp(g: TracedGraph, pass: MlpTrainingPass, outputGradient: Value): MlpGradients {
  const { net, rows, keptScale } = pass;
  const columnSums = (x: Value) => g.matmul(rows.ones, x);
  g.source = "the gradient of the head's dense layer";
  const headInput = pass.hidden.at(-1)?.output;
  if (!headInput) throw new Error('backwardMlp needs at least one hidden layer');
  const head = { kernel: g.gemm(headInput, outputGradient, { transA: true }), bias: columnSums(outputGradient) };
  // The gradient with respect to the output of the hidden layer at hand.
  let hiddenGradient = g.gemm(outputGradient, net.head.kernel, { transB: true });
  const hidden: { kernel: Value; gamma: Value; beta: Value }[] = [];
  for (let i = pass.hidden.length - 1; i >= 0; i--) {
    g.source = `the gradient of hidden layer ${i}`;
    const layer = pass.hidden[i]!;
    // What passes dropout and ReLU: dy / keptScale = dh where h > 0, else 0. The 0-or-1 factor as two casts of h,
    // cheaper in onnxruntime than Sign (a slow serial kernel) or a comparison and Where.
    const passed = g.mul(hiddenGradient, g.cast(g.cast(layer.output, 'bool'), layer.output.type));
    const kept = (x: Value) => (keptScale === 1 ? x : g.mul(x, g.scalar(keptScale)));
    // dbeta = sum(dy) and dgamma = sum(dy x^), with dy = keptScale dy': products with the row of keptScale.
    const beta = g.matmul(rows.keptSums, passed);
    const gamma = g.mul(g.matmul(rows.keptSums, g.mul(passed, layer.centered)), layer.inverseStd);
    // dz = a dy' - b (z - mean) - k with a = keptScale * scale, b = scale dgamma / (N sigma), k = scale dbeta / N:
    // the per-unit factors from the weights' gradients, in few operators on [1, units] rows (each costs ~1.5 us).
    const scaleOverCount = g.mul(layer.scale, rows.inverseCount);
    const b = g.mul(g.mul(gamma, layer.inverseStd), scaleOverCount);
    const k = g.mul(beta, scaleOverCount);
    const dz = g.sub(g.sub(g.mul(passed, kept(layer.scale)), g.mul(layer.centered, b)), k);
    const kernel = g.gemm(layer.input, dz, { transA: true });
    // The features need no gradient.
    if (i > 0) hiddenGradient = g.gemm(dz, net.hidden[i]!.kernel, { transB: true });
    hidden.unshift({ kernel, gamma, beta });
  }
  g.source = undefined;
  return { hidden, head };
}
