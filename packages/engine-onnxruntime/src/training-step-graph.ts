import { BATCH_NORM_MOMENTUM, type HeadDefinition, type MlpShape, mlpWeightSpecs, type WeightSpec } from '@hyperproto/core';
import { GraphBuilder, headConstantValues, lowerHeadExpr, TracedGraph, type Value } from '@hyperproto/onnx-graph';
import { builtinGradientRules, type GradientRules } from './gradient-rules.js';
import { forwardMlp, mlpValuesFromList } from './mlp-graph.js';
import { ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON } from './mlp-weights.js';
import { emitGradients } from './reverse-mode.js';

/** ONNX opset of every model the engine builds: ReduceSum takes its axes as an input, ReduceMean as an attribute. */
export const OPSET = 17;

export interface TrainingStepSpec {
  readonly shape: MlpShape;
  readonly head: HeadDefinition;
  readonly learningRate: number;
  readonly dropout: number;
  readonly rules?: GradientRules;
  /**
   * `loop` (default): an ONNX Loop over the K batches of a run, the state staying inside between batches.
   * `single`: one batch per run (K = 1) without a Loop.
   */
  readonly layout?: 'loop' | 'single';
}

/** Names of the training model's inputs and outputs. Every state input X comes back as the output `next/X`. */
export interface TrainingStepModel {
  readonly bytes: Uint8Array;
  readonly weights: readonly WeightSpec[];
  /** Weights, then Adam's first and second moments of each trainable weight, then Adam's step count. */
  readonly stateInputs: readonly string[];
  readonly stateOutputs: readonly string[];
  /** The shape of each state input. */
  readonly stateShapes: readonly (readonly number[])[];
  /** [K, N, inputWidth] float32: K batches of N rows. */
  readonly features: string;
  /** [K, N] int32. */
  readonly labels: string;
  /** One [K, N, hiddenUnits] float32 input per hidden layer; empty when dropout is off. */
  readonly dropoutMasks: readonly string[];
  /** [K]: each batch's loss. */
  readonly losses: string;
  /** [K]: each batch's sum of batch norm means and variances, non-finite when the activations overflowed. */
  readonly statistics: string;
}

export const adamFirstMoment = (name: string) => `adam/m/${name}`;
export const adamSecondMoment = (name: string) => `adam/v/${name}`;
export const ADAM_STEP = 'adam/step';
export const nextState = (name: string) => `next/${name}`;

/**
 * The whole training step as one ONNX model: an ONNX Loop over the K batches fed in one run, whose body is the
 * forward pass with training-mode batch norm and dropout, the head's loss lowered from its expression, the
 * gradients from the gradient-rule registry, Adam (the tfjs trainer's update, step for step) and the batch norm
 * moving averages. Parameters and optimizer state stay inside the Loop between batches: the Node binding copies
 * every input and output of a run, so one run per batch would copy all of them once per batch.
 */
export function buildTrainingStepModel(spec: TrainingStepSpec): TrainingStepModel {
  const { shape, head } = spec;
  const weights = mlpWeightSpecs(shape);
  const trainable = weights.filter((w) => w.trainable);
  const loop = (spec.layout ?? 'loop') === 'loop';
  const outer = new GraphBuilder('hyperproto_training');
  const body = loop ? new GraphBuilder('training_step') : outer;
  const g = new TracedGraph(body, { prefix: 'step/', constants: outer });

  const stateInputs = [
    ...weights.map((w) => w.name),
    ...trainable.map((w) => adamFirstMoment(w.name)),
    ...trainable.map((w) => adamSecondMoment(w.name)),
    ADAM_STEP,
  ];
  // Adam's moments are rows [1, size]: the layout of its Gemm updates below.
  const momentShapes = trainable.map((w) => [1, w.shape.reduce((a, b) => a * b, 1)]);
  const stateShapes: (readonly number[])[] = [...weights.map((w) => w.shape), ...momentShapes, ...momentShapes, []];
  stateInputs.forEach((name, i) => outer.input(name, 'float32', stateShapes[i]!));
  const featuresName = outer.input('features', 'float32', ['K', 'N', shape.inputWidth]);
  const labelsName = outer.input('labels', 'int32', ['K', 'N']);
  const maskNames =
    spec.dropout > 0
      ? Array.from({ length: shape.hiddenLayers }, (_, i) => outer.input(`dropout_mask/${i}`, 'float32', ['K', 'N', shape.hiddenUnits]))
      : [];

  // Loop body: (iteration, condition, state...) -> (condition, state..., loss, statistics).
  const iteration = loop
    ? g.input('iteration', 'int64', [])
    : g.existing(outer.initializer('first_batch', BigInt64Array.of(0n), [], 'int64'), 'int64', []);
  const condition = loop ? g.input('condition', 'bool', []) : undefined;
  const state = stateInputs.map((name, i) =>
    loop ? g.input(`in/${name}`, 'float32', stateShapes[i]!) : g.existing(name, 'float32', stateShapes[i]!),
  );
  const batchOf = (name: string, type: 'float32' | 'int32', rest: (number | string)[]) =>
    g.emit('Gather', [g.existing(name, type, ['K', ...rest]), iteration], { axis: 0 }, [{ type, shape: rest }])[0]!;
  const features = batchOf(featuresName, 'float32', ['N', shape.inputWidth]);
  const labels = batchOf(labelsName, 'int32', ['N']);
  const masks = maskNames.map((name) => batchOf(name, 'float32', ['N', shape.hiddenUnits]));

  const params = state.slice(0, weights.length);
  const net = mlpValuesFromList(params, shape.hiddenLayers);
  const { output, batchStats } = forwardMlp(g, net, features, { training: true, dropoutMasks: masks });
  const what = "the head's loss";
  const constants = headConstantValues(g, head.constants, [head.loss], what);
  const loss = lowerHeadExpr(g, head.loss, { output, labels, constants }, { what });
  const trainableValues = params.filter((_, i) => weights[i]!.trainable);
  const gradients = emitGradients(g, loss, trainableValues, spec.rules ?? builtinGradientRules);

  g.source = 'Adam';
  const stepBefore = state[state.length - 1]!;
  const step = g.add(stepBefore, g.scalar(1));
  // tfjs' update p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), with the bias corrections folded into two
  // scalars: p - stepSize * m / (sqrt(v) + eps * sqrt(1 - b2^t)), stepSize = lr * sqrt(1 - b2^t) / (1 - b1^t).
  // Each weighted sum a * x + b * y is one Gemm, [1, 1] @ [1, size] + b * [1, size]: one pass over the weight
  // where Mul, Mul and Add take three. The same values up to rounding, in 7 passes per weight instead of 14.
  const oneMinusAccBeta1 = g.sub(g.scalar(1), g.pow(g.scalar(ADAM_BETA1), step));
  const rootOneMinusAccBeta2 = g.sqrt(g.sub(g.scalar(1), g.pow(g.scalar(ADAM_BETA2), step)));
  const stepSize = g.div(g.mul(g.scalar(spec.learningRate), rootOneMinusAccBeta2), oneMinusAccBeta1);
  const epsilon = g.mul(g.scalar(ADAM_EPSILON), rootOneMinusAccBeta2);
  const gradientWeight1 = g.constant('adam/one_minus_beta1', [1 - ADAM_BETA1], [1, 1]);
  const gradientWeight2 = g.constant('adam/one_minus_beta2', [1 - ADAM_BETA2], [1, 1]);
  // The step as a denominator: p + m / ((sqrt(v) + epsilon) * -1 / stepSize), the scaling folded into one Gemm.
  const negativeInverseStep = g.div(g.scalar(-1), stepSize);
  const denominatorScale = g.reshape(negativeInverseStep, [1, 1]);
  const denominatorOffset = g.reshape(g.mul(epsilon, negativeInverseStep), [1, 1]);
  const nextWeights = new Map<string, Value>();
  const nextFirst: Value[] = [];
  const nextSecond: Value[] = [];
  trainable.forEach((weight, k) => {
    const value = trainableValues[k]!;
    const first = state[weights.length + k]!;
    const second = state[weights.length + trainable.length + k]!;
    const gradient = gradients[k];
    if (!gradient) {
      // No gradient reaches this weight: as tfjs' Adam, leave it and its moments unchanged.
      nextWeights.set(weight.name, g.identity(value));
      nextFirst.push(g.identity(first));
      nextSecond.push(g.identity(second));
      return;
    }
    // Reshapes of fresh values only (the gradient, the step): onnxruntime does those in place, without a copy.
    const gradientRow = g.reshape(gradient, momentShapes[k]!);
    const m = g.gemm(gradientWeight1, gradientRow, { c: first, beta: ADAM_BETA1 });
    const v = g.gemm(gradientWeight2, g.mul(gradientRow, gradientRow), { c: second, beta: ADAM_BETA2 });
    const denominator = g.gemm(denominatorScale, g.sqrt(v), { c: denominatorOffset });
    nextWeights.set(weight.name, g.add(value, g.reshape(g.div(m, denominator), weight.shape)));
    nextFirst.push(m);
    nextSecond.push(v);
  });

  g.source = 'batch norm moving averages';
  const decay = (moving: Value, batch: Value) =>
    g.add(g.mul(moving, g.scalar(BATCH_NORM_MOMENTUM)), g.mul(batch, g.scalar(1 - BATCH_NORM_MOMENTUM)));
  net.layers.forEach((layer, i) => {
    const stats = batchStats[i]!;
    nextWeights.set(weights[i * 5 + 3]!.name, decay(layer.movingMean, stats.mean));
    nextWeights.set(weights[i * 5 + 4]!.name, decay(layer.movingVariance, stats.variance));
  });
  const statistics = batchStats
    .flatMap((stats) => [g.reduceSum(stats.mean, [0], false), g.reduceSum(stats.variance, [0], false)])
    .reduce((sum, value) => g.add(sum, value));

  const bodyState = [...weights.map((w) => nextWeights.get(w.name)!), ...nextFirst, ...nextSecond, step];
  const stateOutputs = stateInputs.map(nextState);
  if (loop) {
    g.output(g.identity(condition!));
    for (const value of bodyState) g.output(value);
    g.output(loss);
    g.output(statistics);
    g.finish();
    // The trip count is the number of batches fed.
    const tripCount = outer.node(
      'Gather',
      [outer.node('Shape', [featuresName]), outer.initializer('batch_axis', BigInt64Array.of(0n), [], 'int64')],
      { axis: 0 },
    );
    outer.nodeOutputs('Loop', [tripCount, '', ...stateInputs], { body }, { outputs: [...stateOutputs, 'losses', 'statistics'] });
  } else {
    bodyState.forEach((value, i) => g.named(value, stateOutputs[i]!));
    g.named(g.unsqueeze(loss, [0]), 'losses');
    g.named(g.unsqueeze(statistics, [0]), 'statistics');
    g.finish([...stateOutputs, 'losses', 'statistics'].map((name) => g.existing(name, 'float32', [])));
  }
  stateOutputs.forEach((name, i) => outer.output(name, 'float32', stateShapes[i]!));
  outer.output('losses', 'float32', ['K']);
  outer.output('statistics', 'float32', ['K']);

  return {
    bytes: outer.toModel({ opset: OPSET, docString: 'hyperproto training step: forward, loss, gradients, Adam, batch norm averages' }),
    weights,
    stateInputs,
    stateOutputs,
    stateShapes,
    features: featuresName,
    labels: labelsName,
    dropoutMasks: maskNames,
    losses: 'losses',
    statistics: 'statistics',
  };
}
