import { HEAD_PARAM_WEIGHT_PREFIX, type HeadDefinition, headParams, rowSampledParams } from '@hyperproto/core';
import {
  ADAM_BETA1,
  ADAM_BETA2,
  ADAM_EPSILON,
  BATCH_NORM_MOMENTUM,
  mlpLayerList,
  mlpLayersFromList,
  type MlpShape,
  mlpWeightSpecs,
  type WeightSpec,
} from '@hyperproto/mlp';
import { attr, type Dim, GraphBuilder, headConstantValues, lowerHeadExpr, TracedGraph, type Value } from '@hyperproto/onnx-graph';
import { builtinGradientRules, type GradientRules } from './gradient-rules.js';
import { backwardMlp, trainingForwardMlp } from './mlp-graph.js';
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
   * `scan` (default): an ONNX Scan over the K batches of a run, the state staying inside between batches and each
   * batch read where it lies. `single`: one batch per run (K = 1) without a Scan.
   */
  readonly layout?: 'scan' | 'single';
  /**
   * Classes per step when the head's loss trains on a class sample (`headClassSampleSize`): each batch is fed
   * with its sampled classes and its labels' positions among them. A parameter the loss reads only through
   * `sampledRows` is then updated, with its Adam moments, in the sampled rows alone (lazy Adam), and its state
   * holds only the rows a run samples (see `TrainingStepModel.sample`).
   */
  readonly classSample?: number;
}

/** Where one weight's values live: `length` values from `offset` in the state tensor `state` (an index). */
export interface StatePlacement {
  readonly state: number;
  readonly offset: number;
  readonly length: number;
}

/** Names of the training model's inputs and outputs. Every state input X comes back as the output `next/X`. */
export interface TrainingStepModel {
  readonly bytes: Uint8Array;
  /** The network's weights, then the head's parameters. */
  readonly weights: readonly WeightSpec[];
  /** Where each of `weights` lives in the state. */
  readonly placements: readonly StatePlacement[];
  /**
   * The state: the trainable weights (a large one alone in its own tensor, the small ones together in one row),
   * the batch norm moving statistics in one row, then Adam's moments of each trainable tensor and its step count.
   */
  readonly stateInputs: readonly string[];
  readonly stateOutputs: readonly string[];
  /** The shape of each state tensor; a row state (see `rowStates`) is fed only some of its rows. */
  readonly stateShapes: readonly (readonly number[])[];
  /** [R, inputWidth] float32: the rows the batches read (a training split's features, fed as they lie). */
  readonly features: string;
  /** [K, N] int32: K batches of N rows, each the index of its row in `features`. */
  readonly featureRows: string;
  /** [K, N] int32. */
  readonly labels: string;
  /** One [K, N, hiddenUnits] float32 input per hidden layer; empty when dropout is off. */
  readonly dropoutMasks: readonly string[];
  /**
   * With a class sample: `classes` [K, S] int32, each batch's sampled classes; `labels` [K, N] int32, its labels'
   * positions among them; and, when the head has row-sampled parameters, `rows` [K, S] int32, each sampled class's
   * row in those parameters' state tensors. Their state tensors (`rowStates`) hold only the rows of the classes a
   * run samples, stacked in any order: the caller hands those rows in and writes them back, so that a run moves
   * and updates memory in proportion to the sample, not to C.
   */
  readonly sample?: { readonly classes: string; readonly labels: string; readonly rows?: string; readonly size: number };
  /** Indices of the state tensors that hold a run's sampled rows only (first dimension dynamic; `stateShapes` gives their full shape). */
  readonly rowStates: readonly number[];
  /** [K]: each batch's loss. */
  readonly losses: string;
  /** [K]: each batch's sum of batch norm means and variances, non-finite when the activations overflowed. */
  readonly statistics: string;
}

/** Prefixes of the training model's node names by part, for reading onnxruntime's profiles. */
export const TRAINING_NODE_PREFIXES = { step: 'step/', optimizer: 'adam/' } as const;

export const adamFirstMoment = (name: string) => `adam/m/${name}`;
export const adamSecondMoment = (name: string) => `adam/v/${name}`;
export const ADAM_STEP = 'adam/step';
export const nextState = (name: string) => `next/${name}`;
/** The state tensor of the small trainable weights, side by side. */
export const SMALL_WEIGHTS = 'weights/small';
export const MOVING_STATISTICS = 'batch_norm/moving';
/** The first dimension of a row-sampled state tensor: the number of rows a run hands in. */
const SAMPLED_ROWS = 'sampled_rows';

/**
 * Trainable tensors of at least this many values get a state tensor (and Adam's moments) of their own; the smaller
 * ones (at 1,000 classes every weight of the seed's network and head) share one row, so that Adam updates them all
 * with one set of large element-wise operators instead of a set per tensor. The row costs a Split of the weights and
 * a Concat of their gradients per step; at 1,000 classes the row was measured 5-12% faster per softmax step than
 * a state per large weight, and as fast for HPN. A tensor of millions of values (the head of a softmax over 10,000
 * classes) keeps its own state: there the two copies would outweigh the operators saved.
 */
const OWN_STATE_MIN_SIZE = 2 ** 20;

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** A state tensor of trainable weights with its Adam moments: one large weight, or several small ones in a row. */
interface TrainableState {
  readonly name: string;
  readonly shape: readonly number[];
  /** Indices into the weights. */
  readonly members: readonly number[];
}

/**
 * The whole training step as one ONNX model: an ONNX Scan over the K batches fed in one run, whose body is the
 * training-mode forward pass (batch norm, dropout), the head's loss lowered from its expression and differentiated
 * by the gradient-rule registry, the network's gradients in closed form (`backwardMlp`), Adam (the tfjs trainer's
 * update, step for step) and the batch norm moving averages. Parameters and optimizer state stay inside the Scan
 * between batches, so a run hands them in and takes them back once for K batches. The Scan hands the body each
 * batch as a view of the run's inputs (a Loop would copy it out with a Gather); a batch's features are gathered from
 * the training split by their row indices, and Adam's step sizes for the K steps are computed once per run, outside
 * it.
 */
export function buildTrainingStepModel(spec: TrainingStepSpec): TrainingStepModel {
  const { shape, head } = spec;
  const rules = spec.rules ?? builtinGradientRules;
  // The head's own parameters (a learned scale, say) follow the network's weights and are trained alike.
  const networkWeights = mlpWeightSpecs(shape);
  const headParamSpecs = headParamWeightSpecs(head);
  const weights = [...networkWeights, ...headParamSpecs];
  // Parameters whose sampled rows alone a step updates: each in a state tensor of its own shape, however small.
  const sampledNames = spec.classSample !== undefined ? rowSampledParams(head.loss) : new Set<string>();
  const headParamNames = [...headParams(head).keys()];
  const rowSampled = new Set(headParamNames.flatMap((name, j) => (sampledNames.has(name) ? [networkWeights.length + j] : [])));
  const layout = stateLayout(weights, rowSampled);
  const { trainableStates, placements, stateInputs, stateShapes } = layout;
  // A row-sampled parameter's value and moments: the rows of the run's sampled classes, however many.
  const rowStates = trainableStates.flatMap((t, k) =>
    rowSampled.has(t.members[0]!) ? [k, layout.firstMoments + k, layout.secondMoments + k] : [],
  );
  const declared = (i: number): readonly Dim[] => (rowStates.includes(i) ? [SAMPLED_ROWS, ...stateShapes[i]!.slice(1)] : stateShapes[i]!);

  const scan = (spec.layout ?? 'scan') === 'scan';
  const outer = new GraphBuilder('hyperproto_training');
  const body = scan ? new GraphBuilder('training_step') : outer;
  const g = new TracedGraph(body, { prefix: TRAINING_NODE_PREFIXES.step, constants: outer });
  const adam = new TracedGraph(body, { prefix: TRAINING_NODE_PREFIXES.optimizer, constants: outer });

  stateInputs.forEach((name, i) => outer.input(name, 'float32', declared(i)));
  const featuresName = outer.input('features', 'float32', ['R', shape.inputWidth]);
  const featureRowsName = outer.input('feature_rows', 'int32', ['K', 'N']);
  const labelsName = outer.input('labels', 'int32', ['K', 'N']);
  const maskNames =
    spec.dropout > 0
      ? Array.from({ length: shape.hiddenLayers }, (_, i) => outer.input(`dropout_mask/${i}`, 'float32', ['K', 'N', shape.hiddenUnits]))
      : [];
  const sampleNames =
    spec.classSample !== undefined
      ? {
          classes: outer.input('sampled_classes', 'int32', ['K', spec.classSample]),
          labels: outer.input('sampled_labels', 'int32', ['K', 'N']),
          ...(rowSampled.size ? { rows: outer.input('sampled_rows', 'int32', ['K', spec.classSample]) } : {}),
        }
      : undefined;
  // Once per run, outside the Scan: the batch size N as rows [1, N] of ones and of the dropout's keptScale, 1 / N,
  // and the number of batches K.
  const batchShape = outer.node('Shape', [featureRowsName]);
  const rowCount = outer.node('Slice', [batchShape, outer.ints([1]), outer.ints([2])]);
  const onesName = outer.node('ConstantOfShape', [outer.node('Concat', [outer.ints([1]), rowCount], { axis: 0 })], {
    value: attr.tensor({ dataType: 'float32', dims: [1], data: Float32Array.of(1) }),
  });
  const inverseCountName = outer.node('Reciprocal', [outer.node('Cast', [rowCount], { to: 1 })]);
  const keptScale = 1 / (1 - spec.dropout);
  const keptSumsName = spec.dropout > 0 ? outer.node('Mul', [onesName, outer.scalar(keptScale)]) : onesName;
  const batchCount = scan
    ? outer.node('Gather', [batchShape, outer.initializer('batch_axis', BigInt64Array.of(0n), [], 'int64')], { axis: 0 })
    : outer.initializer('one_batch', BigInt64Array.of(1n), [], 'int64');
  const schedule = adamSchedule(outer, spec.learningRate, ADAM_STEP, batchCount);

  // Scan body: (carried state..., one batch of each scanned input...) -> (carried state..., loss, statistics). Adam's
  // step count is not carried: the schedule above counts the run's steps.
  const carried = stateInputs.slice(0, -1);
  const state = carried.map((name, i) => (scan ? g.input(`in/${name}`, 'float32', declared(i)) : g.existing(name, 'float32', declared(i))));
  const scanned: string[] = [];
  const firstBatch = scan ? undefined : g.existing(outer.initializer('first_batch', BigInt64Array.of(0n), [], 'int64'), 'int64', []);
  const batchOf = (name: string, type: 'float32' | 'int32', rest: (number | string)[]) => {
    if (scan) {
      scanned.push(name);
      return g.input(`batch/${name}`, type, rest);
    }
    return g.emit('Gather', [g.existing(name, type, ['K', ...rest]), firstBatch!], { axis: 0 }, [{ type, shape: rest }])[0]!;
  };
  // Each batch's rows gathered from the split inside the run: JavaScript hands in indices, not copies of the rows.
  const features = g.emit(
    'Gather',
    [g.existing(featuresName, 'float32', ['R', shape.inputWidth]), batchOf(featureRowsName, 'int32', ['N'])],
    { axis: 0 },
    [{ type: 'float32', shape: ['N', shape.inputWidth] }],
  )[0]!;
  const labels = batchOf(labelsName, 'int32', ['N']);
  const masks = maskNames.map((name) => batchOf(name, 'float32', ['N', shape.hiddenUnits]));
  // The batch's class sample: its classes as int64 [S] (Gather and ScatterND read those) and its labels' positions.
  const sampledClasses = sampleNames && g.cast(batchOf(sampleNames.classes, 'int32', [spec.classSample!]), 'int64');
  const sampledLabels = sampleNames && batchOf(sampleNames.labels, 'int32', ['N']);
  const sampledRowIndices = sampleNames?.rows ? g.cast(batchOf(sampleNames.rows, 'int32', [spec.classSample!]), 'int64') : undefined;
  const rows = {
    ones: g.existing(onesName, 'float32', [1, 'N']),
    keptSums: g.existing(keptSumsName, 'float32', [1, 'N']),
    inverseCount: g.existing(inverseCountName, 'float32', [1]),
  };
  const stepSize = batchOf(schedule.stepSizes, 'float32', []);
  const epsilon = batchOf(schedule.epsilons, 'float32', []);

  // Each weight's value: its own state tensor, or its piece of a shared row (a Split that is not written where
  // nothing reads it, as the moving statistics in the forward pass). Batch norm's gamma and beta stay rows; the
  // head's bias does not: onnxruntime's Gemm adds a [1, units] bias on a slower path than a [units] one (the head's
  // product 13% slower on 2 threads at 1,000 classes).
  const byRole = mlpLayersFromList(
    networkWeights.map((_, i) => i),
    shape.hiddenLayers,
  );
  const rowsKept = new Set(byRole.hidden.flatMap((layer) => [layer.gamma, layer.beta]));
  const values = weightValues(g, weights, placements, state, stateShapes, rowsKept);
  const net = mlpLayersFromList(values.slice(0, networkWeights.length), shape.hiddenLayers);
  const headParamValues = values.slice(networkWeights.length);
  const pass = trainingForwardMlp(g, net, features, rows, { masks, keptScale });
  const what = "the head's loss";
  const constants = headConstantValues(g, head.constants, [head.loss], what);
  // A row-sampled parameter's sampled rows [S, ...]: what its loss reads, and what its gradient is taken for.
  const sampledRows = new Map<number, Value>();
  headParamValues.forEach((value, j) => {
    if (rowSampled.has(networkWeights.length + j)) sampledRows.set(j, g.gatherRows(value, sampledRowIndices!));
  });
  const sample = sampledClasses && {
    classes: sampledClasses,
    labels: sampledLabels!,
    rows: Object.fromEntries([...sampledRows].map(([j, value]) => [headParamNames[j]!, value])),
  };
  const loss = lowerHeadExpr(
    g,
    head.loss,
    { output: pass.output, labels, constants, params: headParamValuesByName(head, headParamValues), ...(sample ? { sample } : {}) },
    { what },
  );
  const targets = headParamValues.map((value, j) => sampledRows.get(j) ?? value);
  const [outputGradient, ...headParamGradients] = emitGradients(g, loss, [pass.output, ...targets], rules);
  const gradients: (Value | undefined)[] = [];
  if (outputGradient) {
    const byRole = backwardMlp(g, pass, outputGradient);
    const none = { movingMean: undefined, movingVariance: undefined };
    gradients.push(
      ...mlpLayerList<Value | undefined, Value | undefined>({ hidden: byRole.hidden.map((l) => ({ ...l, ...none })), head: byRole.head }),
    );
  }
  headParamGradients.forEach((gradient, j) => (gradients[networkWeights.length + j] = gradient));

  g.source = 'batch norm moving averages';
  // [mean, variance] of each layer side by side, in the order of the moving statistics' row.
  const batchStats = g.emit(
    'Concat',
    pass.batchStats.flatMap((s) => [s.mean, s.variance]),
    { axis: 1 },
    [{ type: 'float32', shape: [1, 2 * shape.hiddenLayers * shape.hiddenUnits] }],
  )[0]!;
  const moving = state[layout.movingState]!;
  const nextMoving = g.add(g.mul(moving, g.scalar(BATCH_NORM_MOMENTUM)), g.mul(batchStats, g.scalar(1 - BATCH_NORM_MOMENTUM)));
  const statistics = g.reduceSum(batchStats, [0, 1], false);
  g.source = undefined;

  const next = emitAdam(adam, {
    stepSize,
    epsilon,
    trainable: trainableStates.map((trainableState, k) => {
      const only = trainableState.members[0]!;
      const rowsOf = rowSampled.has(only) ? sampledRows.get(only - networkWeights.length) : undefined;
      return {
        value: state[k]!,
        first: state[layout.firstMoments + k]!,
        second: state[layout.secondMoments + k]!,
        gradient: rowsOf ? (gradients[only] ?? adam.zerosLike(rowsOf)) : gradientOfState(adam, trainableState, gradients, weights),
        ...(rowsOf ? { rows: { classes: sampledRowIndices!, value: rowsOf } } : {}),
      };
    }),
  });
  const bodyState = [
    ...next.trainable.map((t) => t.value),
    nextMoving,
    ...next.trainable.map((t) => t.first),
    ...next.trainable.map((t) => t.second),
  ];
  const stateOutputs = stateInputs.map(nextState);
  outer.nodeOutputs('Add', [ADAM_STEP, outer.node('Cast', [batchCount], { to: 1 })], {}, { outputs: [nextState(ADAM_STEP)] });
  // The step's values that Adam's nodes read must be written, and before them: the step's graph is finished first.
  const readByAdam = () => [...new Set(adam.tape.flatMap((node) => node.inputs))];
  if (scan) {
    for (const value of bodyState) body.output(value.name, value.type, value.shape);
    g.output(loss);
    g.output(statistics);
    g.finish([...readByAdam(), ...bodyState]);
    adam.finish(bodyState);
    outer.nodeOutputs(
      'Scan',
      [...carried, ...scanned],
      { body, num_scan_inputs: scanned.length },
      { outputs: [...carried.map(nextState), 'losses', 'statistics'] },
    );
  } else {
    const named = bodyState.map((value, i) => adam.named(value, stateOutputs[i]!));
    const losses = g.named(g.unsqueeze(loss, [0]), 'losses');
    const batchStatistics = g.named(g.unsqueeze(statistics, [0]), 'statistics');
    g.finish([...readByAdam(), losses, batchStatistics]);
    adam.finish(named);
  }
  stateOutputs.forEach((name, i) => outer.output(name, 'float32', declared(i)));
  outer.output('losses', 'float32', ['K']);
  outer.output('statistics', 'float32', ['K']);

  return {
    bytes: outer.toModel({ opset: OPSET, docString: 'hyperproto training step: forward, loss, gradients, Adam, batch norm averages' }),
    weights,
    placements,
    stateInputs,
    stateOutputs,
    stateShapes,
    features: featuresName,
    featureRows: featureRowsName,
    labels: labelsName,
    dropoutMasks: maskNames,
    ...(sampleNames ? { sample: { ...sampleNames, size: spec.classSample! } } : {}),
    rowStates,
    losses: 'losses',
    statistics: 'statistics',
  };
}

interface StateLayout {
  readonly trainableStates: readonly TrainableState[];
  readonly placements: readonly StatePlacement[];
  readonly stateInputs: readonly string[];
  readonly stateShapes: readonly (readonly number[])[];
  readonly movingState: number;
  readonly firstMoments: number;
  readonly secondMoments: number;
}

/**
 * The state tensors, in order: trainable weights (large ones and those in `own` alone, in their own shape; the
 * small ones in one row), the moving statistics in one row, Adam's first moments, second moments, step count.
 */
function stateLayout(weights: readonly WeightSpec[], own: ReadonlySet<number>): StateLayout {
  const trainableStates: TrainableState[] = [];
  const small: number[] = [];
  const moving: number[] = [];
  weights.forEach((w, i) => {
    if (!w.trainable) moving.push(i);
    else if (sizeOf(w.shape) >= OWN_STATE_MIN_SIZE || own.has(i)) trainableStates.push({ name: w.name, shape: w.shape, members: [i] });
    else small.push(i);
  });
  if (small.length) {
    trainableStates.push({ name: SMALL_WEIGHTS, shape: [1, small.reduce((n, i) => n + sizeOf(weights[i]!.shape), 0)], members: small });
  }
  const placements: StatePlacement[] = new Array(weights.length);
  const place = (members: readonly number[], state: number) => {
    let offset = 0;
    for (const i of members) {
      const length = sizeOf(weights[i]!.shape);
      placements[i] = { state, offset, length };
      offset += length;
    }
  };
  trainableStates.forEach((t, k) => place(t.members, k));
  const movingState = trainableStates.length;
  place(moving, movingState);
  const firstMoments = movingState + 1;
  const secondMoments = firstMoments + trainableStates.length;
  const stateInputs = [
    ...trainableStates.map((t) => t.name),
    MOVING_STATISTICS,
    ...trainableStates.map((t) => adamFirstMoment(t.name)),
    ...trainableStates.map((t) => adamSecondMoment(t.name)),
    ADAM_STEP,
  ];
  const stateShapes = [
    ...trainableStates.map((t) => t.shape),
    [1, moving.reduce((n, i) => n + sizeOf(weights[i]!.shape), 0)],
    ...trainableStates.map((t) => t.shape),
    ...trainableStates.map((t) => t.shape),
    [],
  ];
  return { trainableStates, placements, stateInputs, stateShapes, movingState, firstMoments, secondMoments };
}

/**
 * Each weight as a graph value in its own shape: a whole state tensor, or a piece of a row split once per step. A
 * piece of a weight in `rowsKept` (of shape [units]) stays the row [1, units]: the network reads it only where a row
 * broadcasts as [units] does, and each Reshape costs a node per step.
 */
function weightValues(
  g: TracedGraph,
  weights: readonly WeightSpec[],
  placements: readonly StatePlacement[],
  state: readonly Value[],
  stateShapes: readonly (readonly number[])[],
  rowsKept: ReadonlySet<number>,
): Value[] {
  const values: Value[] = new Array(weights.length);
  const byState = new Map<number, number[]>();
  placements.forEach((p, i) => byState.set(p.state, [...(byState.get(p.state) ?? []), i]));
  for (const [s, members] of byState) {
    const only = members.length === 1 ? members[0]! : undefined;
    if (only !== undefined && stateShapes[s]!.join() === weights[only]!.shape.join()) {
      values[only] = state[s]!;
      continue;
    }
    const pieces =
      only !== undefined
        ? [state[s]!]
        : g.emit(
            'Split',
            [state[s]!, g.ints(members.map((i) => placements[i]!.length))],
            { axis: 1 },
            members.map((i) => ({ type: 'float32', shape: [1, placements[i]!.length] })),
          );
    // Reshapes of a Split's outputs, which nothing else reads: onnxruntime does them in place.
    members.forEach((i, j) => {
      const { shape } = weights[i]!;
      values[i] = rowsKept.has(i) && shape.length === 1 ? pieces[j]! : g.reshape(pieces[j]!, shape);
    });
  }
  return values;
}

/**
 * The gradient of a trainable state tensor: the weight's own, or the small weights' gradients side by side in a row.
 * A weight no gradient reaches (a head parameter only the scores read) gets zeros: Adam then leaves it and its
 * moments exactly as they were, as tfjs' Adam leaves a weight without a gradient.
 */
function gradientOfState(
  g: TracedGraph,
  state: TrainableState,
  gradients: readonly (Value | undefined)[],
  weights: readonly WeightSpec[],
): Value {
  g.source = 'Adam';
  const zeros = (shape: readonly number[]) =>
    g.emit('ConstantOfShape', [g.ints(shape)], { value: attr.tensor({ dataType: 'float32', dims: [1], data: new Float32Array(1) }) }, [
      { type: 'float32', shape },
    ])[0]!;
  const gradientOf = (i: number, shape: readonly number[]) => {
    const gradient = gradients[i];
    if (!gradient) return zeros(shape);
    return gradient.shape.join() === shape.join() ? gradient : g.reshape(gradient, shape);
  };
  const only = state.members.length === 1 ? state.members[0]! : undefined;
  if (only !== undefined && state.shape.join() === weights[only]!.shape.join()) return gradients[only] ?? zeros(state.shape);
  const rows = state.members.map((i) => gradientOf(i, [1, sizeOf(weights[i]!.shape)]));
  if (rows.length === 1) return rows[0]!;
  return g.emit('Concat', rows, { axis: 1 }, [{ type: 'float32', shape: state.shape }])[0]!;
}

interface AdamTensors {
  readonly value: Value;
  readonly first: Value;
  readonly second: Value;
}

/** A tensor updated in some rows only: the rows (int64 [S]) and their current values [S, ...]. */
interface UpdatedRows {
  readonly classes: Value;
  readonly value: Value;
}

/**
 * tfjs' Adam: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
 * The moments are kept divided by (1 - b1) and (1 - b2), m~ = b1 m~ + g and v~ = b2 v~ + g^2, and the constant
 * factors and bias corrections are folded into two scalars per step (`adamSchedule`):
 *   p -= stepSize * m~ / (sqrt(v~) + epsilon~).
 * The same values up to float32 rounding, in ten element-wise passes over each weight.
 */
function emitAdam(
  g: TracedGraph,
  state: {
    readonly stepSize: Value;
    readonly epsilon: Value;
    readonly trainable: readonly (AdamTensors & { readonly gradient: Value; readonly rows?: UpdatedRows })[];
  },
): { trainable: AdamTensors[] } {
  g.source = 'Adam';
  const { stepSize, epsilon } = state;
  const update = (value: Value, first: Value, second: Value, gradient: Value) => {
    const m = g.add(g.mul(first, g.scalar(ADAM_BETA1)), gradient);
    const v = g.add(g.mul(second, g.scalar(ADAM_BETA2)), g.mul(gradient, gradient));
    const next = g.sub(value, g.mul(g.div(m, g.add(g.sqrt(v), epsilon)), stepSize));
    return { value: next, first: m, second: v };
  };
  const trainable = state.trainable.map(({ value, first, second, gradient, rows }) => {
    if (!rows) return update(value, first, second, gradient);
    // Lazy Adam: the sampled rows and their moments are updated and written back; every other row keeps its value
    // and its moments (no decay) until a step samples it again. The bias correction follows the global step.
    const next = update(rows.value, g.gatherRows(first, rows.classes), g.gatherRows(second, rows.classes), gradient);
    const at = g.unsqueeze(rows.classes, [1]);
    return {
      value: g.scatterND(value, at, next.value),
      first: g.scatterND(first, at, next.first),
      second: g.scatterND(second, at, next.second),
    };
  });
  g.source = undefined;
  return { trainable };
}

/**
 * Adam's two scalars for each of a run's `count` steps, computed once per run from the step count before it, t0:
 * with t = t0 + 1, ..., t0 + count,
 *   stepSize = lr sqrt(1 - b2^t) / (1 - b1^t) * (1 - b1) / sqrt(1 - b2),  epsilon = eps sqrt(1 - b2^t) / sqrt(1 - b2)
 * (see `emitAdam`), as [count] vectors.
 */
function adamSchedule(
  outer: GraphBuilder,
  learningRate: number,
  stepCount: string,
  count: string,
): { stepSizes: string; epsilons: string } {
  const one = outer.scalar(1);
  const steps = outer.node('Add', [
    stepCount,
    outer.node('Range', [one, outer.node('Add', [outer.node('Cast', [count], { to: 1 }), one]), one]),
  ]);
  const oneMinusAccBeta1 = outer.node('Sub', [one, outer.node('Pow', [outer.scalar(ADAM_BETA1), steps])]);
  const rootOneMinusAccBeta2 = outer.node('Sqrt', [outer.node('Sub', [one, outer.node('Pow', [outer.scalar(ADAM_BETA2), steps])])]);
  const stepSizes = outer.node('Div', [
    outer.node('Mul', [outer.scalar((learningRate * (1 - ADAM_BETA1)) / Math.sqrt(1 - ADAM_BETA2)), rootOneMinusAccBeta2]),
    oneMinusAccBeta1,
  ]);
  const epsilons = outer.node('Mul', [outer.scalar(ADAM_EPSILON / Math.sqrt(1 - ADAM_BETA2)), rootOneMinusAccBeta2]);
  return { stepSizes, epsilons };
}

/** The head's parameters as trainable weights `head/param/<name>` in their own shapes, in `headParams` order. */
export function headParamWeightSpecs(head: Pick<HeadDefinition, 'loss' | 'scores'>): WeightSpec[] {
  return [...headParams(head).values()].map((spec) => ({
    name: `${HEAD_PARAM_WEIGHT_PREFIX}${spec.name}`,
    shape: spec.shape,
    trainable: true,
  }));
}

/** Graph values of the head's parameters (in `headParams` order), by parameter name, for the head's lowering. */
export function headParamValuesByName(head: Pick<HeadDefinition, 'loss' | 'scores'>, values: readonly Value[]): Record<string, Value> {
  return Object.fromEntries([...headParams(head).keys()].map((name, j) => [name, values[j]!]));
}
