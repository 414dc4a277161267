import type { TapeNode, TracedGraph, Value } from '@hyperproto/onnx-graph';

export interface GradientRuleInput {
  readonly node: TapeNode;
  /** The loss's gradient with respect to each output; undefined where the loss does not depend on that output. */
  readonly outputGradients: readonly (Value | undefined)[];
  /** Which inputs need a gradient (parameters and what depends on them); the rule may skip the others. */
  readonly wanted: readonly boolean[];
}

/** Emits the nodes of one operator's vector-Jacobian product: a gradient per input (undefined: none or not wanted). */
export type GradientRule = (g: TracedGraph, input: GradientRuleInput) => readonly (Value | undefined)[];

export type GradientRules = ReadonlyMap<string, GradientRule>;

/**
 * Sums a gradient back to the shape of the operand it came from. Gradients may be smaller than their value as
 * long as they broadcast to it (a reduction's gradient is not expanded until an operator needs every element), so
 * the result broadcasts to `target` but need not equal its shape.
 */
export function sumToShape(g: TracedGraph, dy: Value, target: Value): Value {
  const extra = dy.shape.length - target.shape.length;
  const leading = Array.from({ length: Math.max(extra, 0) }, (_, i) => i);
  const stretched: number[] = [];
  for (let i = Math.max(extra, 0); i < dy.shape.length; i++) if (target.shape[i - extra] === 1 && dy.shape[i] !== 1) stretched.push(i);
  if (leading.length === 0 && stretched.length === 0) return dy;
  // The common case, a bias or a per-unit scale: sums over the batch of a matrix.
  if (dy.shape.length === 2 && [...leading, ...stretched].join() === '0' && (target.shape.length === 1 || target.shape.length === 2)) {
    const sums = g.columnSums(dy);
    return target.shape.length === 1 ? g.squeeze(sums, [0]) : sums;
  }
  if (stretched.length === 0) return g.reduceSum(dy, leading, false);
  const summed = g.reduceSum(dy, [...leading, ...stretched], true);
  return leading.length ? g.squeeze(summed, leading) : summed;
}

interface ScatteredIntoZeros {
  readonly indices: Value;
  readonly updates: Value;
  readonly axis: number;
}

/** Per graph, the gradients that are a ScatterElements into zeros, by value name: rules downstream can use their sparsity. */
const scatteredGradients = new WeakMap<TracedGraph, Map<string, ScatteredIntoZeros>>();

function scatteredIntoZeros(g: TracedGraph): Map<string, ScatteredIntoZeros> {
  let map = scatteredGradients.get(g);
  if (!map) {
    map = new Map();
    scatteredGradients.set(g, map);
  }
  return map;
}

const FLOAT_TYPES = new Set<string>(['float32', 'float64']);

function castTo(g: TracedGraph, value: Value, type: string): Value {
  return value.type === type ? value : g.cast(value, type as Value['type']);
}

/** The gradient of the first output, possibly smaller than the output (it broadcasts to it). */
function dyOf(input: GradientRuleInput): Value {
  return input.outputGradients[0]!;
}

/** The gradient of the first output at the output's full shape, for operators that need every element. */
function fullDyOf(g: TracedGraph, input: GradientRuleInput): Value {
  return fullShape(g, dyOf(input), input.node.outputs[0]!);
}

/** `gradient` broadcast to the shape of `value` when it is smaller. */
export function fullShape(g: TracedGraph, gradient: Value, value: Value): Value {
  const same = gradient.shape.length === value.shape.length && gradient.shape.every((d, i) => d === value.shape[i]);
  return same ? gradient : g.expandLike(gradient, value);
}

function inputs(node: TapeNode): readonly Value[] {
  return node.inputs;
}

/** Axes a node reduced or inserted, read from its int64 constant input. */
function axesOf(node: TapeNode): readonly number[] {
  if (!node.axes) throw new Error(`${node.opType} node ${node.outputs[0]?.name} did not record its axes`);
  return node.axes;
}

/** A reduction's gradient with the reduced axes back (size 1), broadcastable to the reduction's input. */
function keptDims(g: TracedGraph, input: GradientRuleInput): Value {
  const { node } = input;
  if (node.attributes.keepdims !== 0) return dyOf(input);
  // Unsqueeze needs the reduced output's rank; a smaller gradient is first broadcast to it.
  const dy = dyOf(input).shape.length === node.outputs[0]!.shape.length ? dyOf(input) : fullDyOf(g, input);
  return g.unsqueeze(dy, axesOf(node));
}

const rules: Record<string, GradientRule> = {
  Identity: (_g, input) => [dyOf(input)],

  Add: (g, input) => {
    const [a, b] = inputs(input.node);
    const dy = dyOf(input);
    return [input.wanted[0] ? sumToShape(g, dy, a!) : undefined, input.wanted[1] ? sumToShape(g, dy, b!) : undefined];
  },

  Sub: (g, input) => {
    const [a, b] = inputs(input.node);
    const dy = dyOf(input);
    return [input.wanted[0] ? sumToShape(g, dy, a!) : undefined, input.wanted[1] ? g.neg(sumToShape(g, dy, b!)) : undefined];
  },

  Mul: (g, input) => {
    const [a, b] = inputs(input.node);
    const dy = dyOf(input);
    // A square: one product with 2x, not two products added (the scalar first, while dy may still be small).
    if (a!.name === b!.name) return [sumToShape(g, g.mul(g.mul(dy, g.scalar(2)), a!), a!), undefined];
    return [input.wanted[0] ? sumToShape(g, g.mul(dy, b!), a!) : undefined, input.wanted[1] ? sumToShape(g, g.mul(dy, a!), b!) : undefined];
  },

  Div: (g, input) => {
    const [a, b] = inputs(input.node);
    const y = input.node.outputs[0]!;
    const scaled = g.div(dyOf(input), b!);
    // d(a / b)/db = -(a / b) / b = -y / b.
    return [
      input.wanted[0] ? sumToShape(g, scaled, a!) : undefined,
      input.wanted[1] ? sumToShape(g, g.neg(g.mul(scaled, y)), b!) : undefined,
    ];
  },

  Neg: (g, input) => [g.neg(dyOf(input))],

  Pow: (g, input) => {
    const [x, exponent] = inputs(input.node);
    if (input.wanted[1]) throw new Error('Pow: only constant exponents can be differentiated');
    const slope = g.mul(exponent!, g.pow(x!, g.sub(exponent!, g.scalar(1))));
    return [sumToShape(g, g.mul(dyOf(input), slope), x!), undefined];
  },

  Sqrt: (g, input) => [g.div(g.mul(dyOf(input), g.scalar(0.5)), input.node.outputs[0]!)],

  Reciprocal: (g, input) => {
    const y = input.node.outputs[0]!;
    return [g.neg(g.mul(dyOf(input), g.mul(y, y)))];
  },

  Exp: (g, input) => [g.mul(dyOf(input), input.node.outputs[0]!)],

  Log: (g, input) => [g.div(dyOf(input), inputs(input.node)[0]!)],

  // dy * step(x) as in TensorFlow.js, the step read off the output relu(x) >= 0 by two casts, to bool and back (in
  // onnxruntime cheaper than Sign, a slow serial kernel, or a comparison and a Where).
  Relu: (g, input) => {
    const y = input.node.outputs[0]!;
    return [g.mul(dyOf(input), g.cast(g.cast(y, 'bool'), y.type))];
  },

  // Ties go to the first operand, as in TensorFlow.js' maximum.
  Max: (g, input) => {
    const [a, b] = inputs(input.node);
    const dy = dyOf(input);
    const firstWins = g.greaterOrEqual(a!, b!);
    return [
      input.wanted[0] ? sumToShape(g, g.where(firstWins, dy, g.scalar(0)), a!) : undefined,
      input.wanted[1] ? sumToShape(g, g.where(firstWins, g.scalar(0), dy), b!) : undefined,
    ];
  },

  Where: (g, input) => {
    const [condition, a, b] = inputs(input.node);
    const dy = dyOf(input);
    return [
      undefined,
      input.wanted[1] ? sumToShape(g, g.where(condition!, dy, g.scalar(0)), a!) : undefined,
      input.wanted[2] ? sumToShape(g, g.where(condition!, g.scalar(0), dy), b!) : undefined,
    ];
  },

  MatMul: (g, input) => {
    const [a, b] = inputs(input.node);
    const dy = fullDyOf(g, input);
    return [input.wanted[0] ? g.gemm(dy, b!, { transB: true }) : undefined, input.wanted[1] ? g.gemm(a!, dy, { transA: true }) : undefined];
  },

  // Y = op(A) op(B) + C. Each product gradient is one Gemm with transposes, never an explicit Transpose node.
  Gemm: (g, input) => {
    const { node } = input;
    const [a, b, c] = inputs(node);
    const transA = node.attributes.transA === 1;
    const transB = node.attributes.transB === 1;
    for (const name of ['alpha', 'beta']) {
      if (node.attributes[name] !== undefined) throw new Error(`Gemm: gradients need the default ${name} of 1`);
    }
    const dy = fullDyOf(g, input);
    let da: Value | undefined;
    let db: Value | undefined;
    if (input.wanted[0]) {
      // dA = dY op(B)^T, transposed back when A was transposed.
      da = transA ? g.gemm(b!, dy, { transA: transB, transB: true }) : g.gemm(dy, b!, { transB: !transB });
    }
    if (input.wanted[1]) {
      // dB = op(A)^T dY, transposed back when B was transposed.
      db = transB ? g.gemm(dy, a!, { transA: true, transB: transA }) : g.gemm(a!, dy, { transA: !transA });
    }
    return [da, db, c && input.wanted[2] ? sumToShape(g, dy, c) : undefined];
  },

  // The gradient stays at the reduced size and broadcasts; operators that need every element expand it.
  ReduceSum: (g, input) => [keptDims(g, input), undefined],

  ReduceMean: (g, input) => {
    const { node } = input;
    return [g.div(keptDims(g, input), g.div(g.sizeOf(node.inputs[0]!), g.sizeOf(node.outputs[0]!)))];
  },

  // dx = y * (dy - sum(dy * y)) along the softmax axis (the last).
  Softmax: (g, input) => {
    const y = input.node.outputs[0]!;
    const weighted = g.mul(fullDyOf(g, input), y);
    return [g.sub(weighted, g.mul(y, g.reduceSum(weighted, [-1], true)))];
  },

  // dx = dy - softmax(x) * sum(dy), softmax(x) = exp(y).
  // A gradient that is a scatter into zeros (from picking one entry per row, as cross-entropy does) has the row
  // sums of its updates: then dx = scatter(-softmax * rowsum) in three passes over [N, C] instead of six.
  LogSoftmax: (g, input) => {
    const y = input.node.outputs[0]!;
    const scattered = scatteredIntoZeros(g).get(dyOf(input).name);
    if (scattered && scattered.axis === y.shape.length - 1) {
      const rowSums = g.reduceSum(scattered.updates, [-1], true);
      return [g.scatterElements(g.mul(g.exp(y), g.neg(rowSums)), scattered.indices, scattered.updates, scattered.axis, 'add')];
    }
    const dy = fullDyOf(g, input);
    return [g.sub(dy, g.mul(g.exp(y), g.reduceSum(dy, [-1], true)))];
  },

  // Rows gathered along axis 0 (of a matrix, or elements of a vector; 1-D indices): the gradient is a scatter-add of
  // dy's rows into zeros, repeated indices adding up. ScatterND takes one index per row, not one per element.
  Gather: (g, input) => {
    const [x, indices] = inputs(input.node);
    const dy = fullDyOf(g, input);
    if (input.node.attributes.axis !== 0 || x!.shape.length < 1 || indices!.shape.length !== 1) {
      throw new Error('Gather: gradients cover rows along axis 0 with 1-D indices only');
    }
    const at = g.unsqueeze(indices!.type === 'int64' ? indices! : g.cast(indices!, 'int64'), [1]);
    return [g.scatterND(g.zerosLike(x!), at, dy, 'add'), undefined];
  },

  GatherElements: (g, input) => {
    const [x, indices] = inputs(input.node);
    const rank = x!.shape.length;
    const axis = ((input.node.attributes.axis as number) + rank) % rank;
    const updates = fullDyOf(g, input);
    const dx = g.scatterElements(g.zerosLike(x!), indices!, updates, axis, 'add');
    scatteredIntoZeros(g).set(dx.name, { indices: indices!, updates, axis });
    return [dx, undefined];
  },

  // A cast between float types passes the gradient back in the input's type; one to ints or booleans (indices,
  // a one-hot comparison) is piecewise constant: no gradient, as in TensorFlow.js.
  Cast: (g, input) => {
    const [x] = inputs(input.node);
    const y = input.node.outputs[0]!;
    return [FLOAT_TYPES.has(y.type) && FLOAT_TYPES.has(x!.type) ? castTo(g, dyOf(input), x!.type) : undefined];
  },

  // A comparison's boolean output has no gradient; the rule exists so a one-hot of computed indices can be trained.
  Equal: () => [undefined, undefined],

  Unsqueeze: (g, input) => [g.reshapeLike(fullDyOf(g, input), input.node.inputs[0]!), undefined],
  Squeeze: (g, input) => [g.reshapeLike(fullDyOf(g, input), input.node.inputs[0]!), undefined],
  Reshape: (g, input) => [g.reshapeLike(fullDyOf(g, input), input.node.inputs[0]!), undefined],
  Expand: (g, input) => [sumToShape(g, dyOf(input), input.node.inputs[0]!), undefined],
};

/** The gradient rules the engine ships: every operator its trunk and the head vocabulary lower to. */
export const builtinGradientRules: GradientRules = new Map(Object.entries(rules));
