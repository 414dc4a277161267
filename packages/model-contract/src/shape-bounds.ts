import { MAX_INPUT_WIDTH } from './classifier-interface.js';
import { describeValue } from './describe-value.js';

/** What the shape pass reads of a model's main graph; readOnnxModelInfo's walk of the file collects it. */
export interface GraphShapeFacts {
  readonly inputs: readonly InputFacts[];
  readonly initializers: readonly InitializerFacts[];
  readonly nodes: readonly NodeFacts[];
}

/** A graph input (ValueInfoProto). */
export interface InputFacts {
  readonly name: string;
  /** A dim_value as a number, a dim_param as a string ('' when the dim has neither); undefined when no shape is given. */
  readonly dims: readonly (number | string)[] | undefined;
}

/** An initializer or sparse initializer (TensorProto, SparseTensorProto). */
export interface InitializerFacts {
  readonly name: string;
  readonly kind: 'initializer' | 'sparse initializer';
  readonly dims: readonly number[];
  /** How many values the file holds for it: at most this many (a sparse initializer's stored values, not its dense size). */
  readonly stored: number;
  /** Its values, when it is an int64 tensor of at most MAX_RANK values (such as the axes of a reduction). */
  readonly ints: readonly number[] | undefined;
}

/** A node (NodeProto), with its integer attributes. */
export interface NodeFacts {
  /** Names the node in messages: `the node "dense"`, or `an unnamed node`. */
  readonly label: string;
  readonly op: string;
  /** '' for an optional input left out. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** INT attributes (AttributeProto.i) by name. */
  readonly int: ReadonlyMap<string, number>;
  /** INTS attributes (AttributeProto.ints) by name. */
  readonly ints: ReadonlyMap<string, readonly number[]>;
  /** The name of an attribute the node has twice, if any. */
  readonly repeatedAttribute: string | undefined;
}

/**
 * Tensors of more dims are refused: an exported model's have at most 2, and a bound on the rank keeps the pass
 * linear in the size of the file (a chain of Unsqueeze nodes could otherwise grow a shape with every node).
 */
export const MAX_RANK = 8;

/**
 * What the nodes of a graph may make together, in multiples of the most one tensor may hold. Without it a file of
 * many nodes could ask for many tensors each within that bound, and onnxruntime keeps every tensor it folds from
 * initializers at load. An exported model's nodes make at most about 5 times the bound (a cosine-softmax head with
 * one-dimensional prototypes and top-k over every class); most make less than the bound.
 */
export const NODE_VALUES_FACTOR = 16;

/**
 * One dim's upper bound: at most `size`, or, for a dim that follows the batch (`rows`), at most `size` times the
 * batch's row count. Broadcasting the batch against a fixed size gives a `rows` dim of that size.
 */
interface Dim {
  readonly rows: boolean;
  readonly size: number;
}
type Shape = readonly Dim[];

interface Known {
  readonly shape: Shape;
  /** Made from initializers alone: onnxruntime folds such a node into a new initializer when it loads the file. */
  readonly constant: boolean;
  /** An int64 initializer's values (see InitializerFacts.ints). */
  readonly ints?: readonly number[] | undefined;
}

const fixed = (size: number): Dim => ({ rows: false, size });
const ROWS: Dim = { rows: true, size: 1 };

/** What the pass found (for tests), each count per row of the batch for a tensor that follows it. */
export interface ShapeSummary {
  /** The values the file's initializers hold: the most a tensor made from them alone may hold. */
  readonly weights: number;
  /** The most a tensor made from the input may hold: the larger of `weights` and the input's width. */
  readonly bound: number;
  /** The most values one node output holds. */
  readonly largest: number;
  /** The values of the node outputs made from initializers alone, added up. */
  readonly folded: number;
  /** The values of the other node outputs, added up. */
  readonly total: number;
}

/**
 * Works out an upper bound of every tensor's shape in a graph of MODEL_OPERATORS, in node order, and refuses (via
 * `refuse`) a graph in which
 * - a tensor has more than one dim that follows the batch: its size would grow with the square of the rows;
 * - a tensor made from initializers alone holds more values than the file's initializers hold together
 *   (onnxruntime makes it when it loads the file, before a row is read), or one made from the input holds more per
 *   row of the batch than the larger of that and the input's width. Exported models never exceed either: their
 *   tensors are a layer's outputs, scores over the classes and what is made of the weights themselves;
 * - the node outputs of either kind together hold more than NODE_VALUES_FACTOR times that bound;
 * - a node reads a tensor that no graph input, initializer or earlier node gives, gives one again, or is missing an
 *   input its operator needs;
 * - the axes that decide a shape (Squeeze, Unsqueeze, ReduceSum, ReduceMean) are not an int64 initializer, or an
 *   axis or attribute is out of its range.
 * The batch is the first dim of a graph input when it has no fixed size; any other dim without one is the input's
 * width, which the runtimes take from metadata `inputWidth` (`inputWidth` here, the raw metadata value): a runtime
 * refuses a file whose width neither its shape nor that key gives before any row reaches it (resolveClassifierInterface).
 * The arithmetic is on Numbers, which saturate at Infinity rather than wrap, and the pass is linear in the graph's size.
 */
export function checkShapeBounds(graph: GraphShapeFacts, inputWidth: string | undefined, refuse: (why: string) => Error): ShapeSummary {
  const width = metadataWidth(inputWidth);
  const known = new Map<string, Known>();

  let weights = 0;
  for (const tensor of graph.initializers) {
    if (known.has(tensor.name)) throw refuse(`the graph has two initializers named ${describeValue(tensor.name)}`);
    const what = `the ${tensor.kind} ${describeValue(tensor.name)}`;
    if (tensor.dims.length > MAX_RANK) throw refuse(`${what} has ${tensor.dims.length} dims; ${RANK_LIMIT}`);
    if (tensor.dims.some((d) => d < 0)) throw refuse(`${what} has the dims [${tensor.dims.join(', ')}], one of them negative`);
    known.set(tensor.name, { shape: tensor.dims.map(fixed), constant: true, ints: tensor.ints });
    // What the file holds, not what its dims claim: dims alone cost the file nothing.
    weights += Math.min(valuesOf(tensor.dims.map(fixed)), tensor.stored);
  }
  // A dense initializer that claims more values than the file holds (onnxruntime refuses it when it reads it), or
  // a sparse one whose dense form is larger than the graph's weights: onnxruntime makes it dense at load.
  for (const tensor of graph.initializers) {
    const values = valuesOf(tensor.dims.map(fixed));
    if (values > weights)
      throw refuse(
        `the ${tensor.kind} ${describeValue(tensor.name)} has the dims [${tensor.dims.join(', ')}], ${count(values)} values, but the file holds ${count(tensor.stored)} of them`,
      );
  }

  let widest = 0;
  const inputShapes: [string, Shape][] = [];
  const inputNames = new Set<string>();
  for (const input of graph.inputs) {
    if (inputNames.has(input.name)) throw refuse(`the graph has two inputs named ${describeValue(input.name)}`);
    inputNames.add(input.name);
    // An input that is also an initializer keeps the initializer's values: the runtimes feed only the features.
    if (known.has(input.name)) continue;
    const dims = input.dims ?? ['', ''];
    const shape = dims.map((d, i) => (typeof d === 'number' && d >= 0 ? fixed(d) : i === 0 ? ROWS : fixed(width)));
    if (shape.length > MAX_RANK) throw refuse(`the input ${describeValue(input.name)} has ${shape.length} dims; ${RANK_LIMIT}`);
    widest = Math.max(widest, valuesOf(shape));
    inputShapes.push([input.name, shape]);
  }
  for (const [name, shape] of inputShapes) known.set(name, { shape, constant: false });
  // A wider input is refused before a row is fed (resolveClassifierInterface).
  const bound = Math.max(weights, Math.min(widest, MAX_INPUT_WIDTH));

  const weightsText = `the ${count(weights)} values the file's initializers hold`;
  const boundText = weights >= bound ? weightsText : `the larger of ${weightsText} and its input's width (${count(bound)} values)`;
  let largest = 0;
  let folded = 0;
  let total = 0;
  for (const node of graph.nodes) {
    const where = `${node.label} (${node.op})`;
    if (node.repeatedAttribute !== undefined)
      throw refuse(`${where} has the attribute ${describeValue(node.repeatedAttribute)} more than once`);
    const inputs = node.inputs.map((name) => {
      if (name === '') return undefined;
      const tensor = known.get(name);
      if (!tensor)
        throw refuse(
          `${where} reads ${describeValue(name)}, which no graph input, initializer or earlier node gives (hyperproto's exporter writes every node after the nodes it reads)`,
        );
      return tensor;
    });
    const shape = outputShape(node, inputs, where, refuse);
    if (shape.length > MAX_RANK) throw refuse(`${where} makes a tensor of ${shape.length} dims; ${RANK_LIMIT}`);
    const outputs = node.outputs.filter((name) => name !== '');
    const made = outputs.length ? `${describeValue(outputs[0])} of shape ${show(shape)}` : `a tensor of shape ${show(shape)}`;
    if (shape.filter((d) => d.rows).length > 1)
      throw refuse(
        `${where} makes ${made}, whose size grows with the square of the batch's rows; no tensor of a hyperproto model does (each row is answered on its own)`,
      );
    const values = valuesOf(shape);
    const constant = inputs.every((input) => input === undefined || input.constant);
    if (constant && values > weights)
      throw refuse(
        `${where} makes ${made} from initializers alone: ${count(values)} values, more than ${weightsText}; onnxruntime would make it when it loads the file, and no graph hyperproto's exporter writes makes a tensor larger than its weights`,
      );
    const perRow = shape.some((d) => d.rows) ? ' per row of the batch' : '';
    if (!constant && values > bound)
      throw refuse(
        `${where} makes ${made}: ${count(values)} values${perRow}, more than ${boundText}; no tensor of a graph hyperproto's exporter writes holds more`,
      );
    largest = Math.max(largest, values);
    if (constant) {
      folded += values * outputs.length;
      if (folded > NODE_VALUES_FACTOR * weights)
        throw refuse(
          `its nodes up to ${where} make ${count(folded)} values from initializers alone, more than ${NODE_VALUES_FACTOR} times ${weightsText}; onnxruntime would make and keep them all when it loads the file, and the nodes of a graph hyperproto's exporter writes make far fewer`,
        );
    } else {
      total += values * outputs.length;
      if (total > NODE_VALUES_FACTOR * bound)
        throw refuse(
          `its nodes up to ${where} make ${count(total)} values (per row of the batch, for those that follow it), more than ${NODE_VALUES_FACTOR} times ${boundText}; the nodes of a graph hyperproto's exporter writes make far fewer`,
        );
    }
    for (const name of outputs) {
      if (known.has(name))
        throw refuse(`${where} writes ${describeValue(name)}, which a graph input, initializer or earlier node already gives`);
      known.set(name, { shape, constant });
    }
  }
  return { weights, bound, largest, folded, total };
}

const RANK_LIMIT = `no tensor of a hyperproto model has more than 2 (this check follows up to ${MAX_RANK})`;

/** An output's shape bound for each of MODEL_OPERATORS; each node's outputs share it (TopK's values and indices). */
type Rule = (node: NodeFacts, inputs: readonly (Known | undefined)[], ask: Ask) => Shape;

/** The attribute and input reading a rule needs, each refusing what is out of range with the node's name. */
interface Ask {
  /** Input `index`, which the operator needs. */
  input(index: number): Known;
  /** An INT attribute that must be 0 or 1. */
  flag(name: string, fallback: 0 | 1): boolean;
  /** An INT attribute naming an axis of a tensor of `rank` dims, made non-negative. */
  axis(name: string, fallback: number, rank: number): number;
  /** Axes from input `index` (which must be an int64 initializer) or else the INTS attribute `axes`; undefined when neither is given. */
  axes(index: number): readonly number[] | undefined;
}

const sameShape: Rule = (_node, _inputs, ask) => ask.input(0).shape;

/** Numpy broadcasting of every input (Max takes any number; the others two). */
const broadcast: Rule = (node, inputs, ask) => {
  const needs = node.op === 'Max' ? 1 : 2;
  for (let i = 0; i < needs; i++) ask.input(i);
  const shapes = inputs.filter((input) => input !== undefined).map((input) => input.shape);
  // A loop, not Math.max(...): Max may have more inputs than a call takes arguments.
  let rank = 0;
  for (const shape of shapes) rank = Math.max(rank, shape.length);
  return Array.from({ length: rank }, (_, i) => {
    let rows = false;
    let size = 1;
    for (const shape of shapes) {
      const dim = shape[shape.length - rank + i];
      if (!dim) continue;
      rows ||= dim.rows;
      // A dim of 1 repeats to the other's size; unequal sizes fail at run time, so the larger bounds the result.
      size = Math.max(size, dim.size);
    }
    return { rows, size };
  });
};

const reduce: Rule = (_node, _inputs, ask) => {
  const { shape } = ask.input(0);
  const keep = ask.flag('keepdims', 1);
  const given = ask.axes(1);
  if (!given?.length) {
    // Without axes a reduction takes every axis, or none when noop_with_empty_axes says so.
    if (ask.flag('noop_with_empty_axes', 0)) return shape;
    return keep ? shape.map(() => fixed(1)) : [];
  }
  return reduced(shape, normalAxes(given, shape.length), keep);
};

function reduced(shape: Shape, axes: readonly number[], keep: boolean): Shape {
  return keep ? shape.map((d, i) => (axes.includes(i) ? fixed(1) : d)) : shape.filter((_, i) => !axes.includes(i));
}

const RULES: Readonly<Record<string, Rule>> = {
  Add: broadcast,
  Sub: broadcast,
  Mul: broadcast,
  Div: broadcast,
  Pow: broadcast,
  Max: broadcast,
  Equal: broadcast,
  Cast: sameShape,
  Exp: sameShape,
  Identity: sameShape,
  Log: sameShape,
  Neg: sameShape,
  Reciprocal: sameShape,
  Relu: sameShape,
  Sqrt: sameShape,
  Softmax: sameShape,
  LogSoftmax: sameShape,
  // At most its input: k larger than the axis fails at run time, so k need not be a constant.
  TopK: sameShape,
  ReduceSum: reduce,
  ReduceMean: reduce,
  ArgMax: (_node, _inputs, ask) => {
    const { shape } = ask.input(0);
    return reduced(shape, [ask.axis('axis', 0, shape.length)], ask.flag('keepdims', 1));
  },
  Gemm: (node, _inputs, ask) => {
    const [a, b] = [ask.input(0).shape, ask.input(1).shape];
    for (const [i, shape] of [a, b].entries())
      if (shape.length !== 2)
        throw new ShapeRefusal(`multiplies ${describeValue(node.inputs[i])} of shape ${show(shape)}, which is not a matrix`);
    const m = ask.flag('transA', 0) ? a[1]! : a[0]!;
    const n = ask.flag('transB', 0) ? b[0]! : b[1]!;
    return [m, n];
  },
  Gather: (_node, _inputs, ask) => {
    const data = ask.input(0).shape;
    const indices = ask.input(1).shape;
    const axis = ask.axis('axis', 0, data.length);
    return [...data.slice(0, axis), ...indices, ...data.slice(axis + 1)];
  },
  GatherElements: (_node, _inputs, ask) => {
    ask.input(0);
    return ask.input(1).shape;
  },
  Squeeze: (node, _inputs, ask) => {
    const { shape } = ask.input(0);
    const given = ask.axes(1);
    // Without axes (or with none) Squeeze drops every dim of size 1, which a bound cannot tell.
    if (!given?.length) throw new ShapeRefusal(`names no axes; hyperproto's exporter always names the axes of a ${node.op}`);
    const axes = normalAxes(given, shape.length);
    return shape.filter((_, i) => !axes.includes(i));
  },
  Unsqueeze: (node, _inputs, ask) => {
    const { shape } = ask.input(0);
    const given = ask.axes(1);
    if (!given) throw new ShapeRefusal(`names no axes; hyperproto's exporter always names the axes of an ${node.op}`);
    // Axes of the output, whose rank is the input's plus one per axis.
    const axes = normalAxes(given, shape.length + given.length);
    const out: Dim[] = [];
    let next = 0;
    for (let i = 0; i < shape.length + axes.length; i++) out.push(axes.includes(i) ? fixed(1) : shape[next++]!);
    return out;
  },
};

/** A rule's refusal, completed with the node's name by outputShape. */
class ShapeRefusal extends Error {}

/** The operators the pass has a rule for: exactly MODEL_OPERATORS (shape-bounds.test.ts holds them to it). */
export const SHAPE_RULE_OPERATORS: readonly string[] = Object.keys(RULES);

function outputShape(node: NodeFacts, inputs: readonly (Known | undefined)[], where: string, refuse: (why: string) => Error): Shape {
  const rule = Object.hasOwn(RULES, node.op) ? RULES[node.op] : undefined;
  // Unreachable after the operator check, which refuses any other operator first.
  if (!rule) throw refuse(`${where} runs an operator whose output shape this check does not know`);
  const ask: Ask = {
    input(index) {
      const input = inputs[index];
      if (!input) {
        throw new ShapeRefusal(`has no input ${index + 1}, which ${node.op} needs`);
      }
      return input;
    },
    flag(name, fallback) {
      const value = node.int.get(name) ?? fallback;
      if (value !== 0 && value !== 1) throw new ShapeRefusal(`has ${name} ${value}; it must be 0 or 1`);
      return value === 1;
    },
    axis(name, fallback, rank) {
      return checkedAxis(node.int.get(name) ?? fallback, rank);
    },
    axes(index) {
      const from = node.inputs[index];
      if (!from) {
        const axes = node.ints.get('axes');
        // Checked before they are used, which is linear in the rank.
        if (axes && axes.length > MAX_RANK) throw new ShapeRefusal(`names ${axes.length} axes; ${RANK_LIMIT}`);
        return axes;
      }
      const axes = inputs[index]?.ints;
      if (!axes)
        throw new ShapeRefusal(
          `takes its axes from ${describeValue(from)}, which is not an int64 initializer of at most ${MAX_RANK} values; hyperproto's exporter gives axes as constants, so that every shape is known before a row is read`,
        );
      return axes;
    },
  };
  try {
    return rule(node, inputs, ask);
  } catch (error) {
    if (error instanceof ShapeRefusal) throw refuse(`${where} ${error.message}`);
    throw error;
  }
}

/** Axes made non-negative; each must be in range, and none named twice. */
function normalAxes(axes: readonly number[], rank: number): number[] {
  const normal = axes.map((axis) => checkedAxis(axis, rank));
  if (new Set(normal).size !== normal.length) throw new ShapeRefusal(`names the axes [${axes.join(', ')}], one of them twice`);
  return normal;
}

function checkedAxis(axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new ShapeRefusal(`names axis ${axis} of a tensor of ${rank} dim${rank === 1 ? '' : 's'}`);
  return axis < 0 ? axis + rank : axis;
}

/** The product of the dims' sizes (rows counted once, as a factor outside it); 0 when one is 0, Infinity when it overflows. */
function valuesOf(shape: Shape): number {
  let values = 1;
  for (const dim of shape) {
    if (dim.size === 0) return 0;
    values *= dim.size;
  }
  return values;
}

/**
 * The width the runtimes feed an input dim without a fixed size: metadata `inputWidth`, read as readModelMetadata
 * reads it and within MAX_INPUT_WIDTH as resolveClassifierInterface requires. Without a usable one no row is fed
 * (the runtime refuses the file first), so 1 stands in.
 */
function metadataWidth(raw: string | undefined): number {
  const value = raw !== undefined && /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  return Number.isSafeInteger(value) && value >= 1 && value <= MAX_INPUT_WIDTH ? value : 1;
}

/** `[rows, 4000]`; a batch dim broadcast against a fixed size shows both. */
function show(shape: Shape): string {
  return `[${shape.map((d) => (d.rows ? (d.size === 1 ? 'rows' : `max(rows, ${count(d.size)})`) : count(d.size))).join(', ')}]`;
}

function count(n: number): string {
  if (!Number.isFinite(n)) return 'more than 1e308';
  return n < 1e15 ? n.toLocaleString('en-US') : n.toPrecision(3);
}
