import { MAX_INPUT_WIDTH } from './classifier-interface.js';
import { describeValue } from './describe-value.js';

/** What the shape pass reads of a model's main graph; readOnnxModelInfo's walk of the file collects it. */
export interface GraphShapeFacts {
  readonly inputs: readonly InputFacts[];
  readonly initializers: readonly InitializerFacts[];
  readonly nodes: readonly NodeFacts[];
}

/** A graph input (ValueInfoProto), its type read as protobuf reads it: the last member of TypeProto's oneof wins. */
export interface InputFacts {
  readonly name: string;
  /** What the type holds: `tensor` for a dense tensor (TypeProto.tensor_type), else what it is (`sparse tensor`, `sequence`, ...). */
  readonly type: string;
  /** A tensor's TensorProto.DataType (0 when it names none). */
  readonly elemType: number;
  /**
   * A dim_value as a number, a dim_param as a string ('' when the dim has neither); undefined when no shape is
   * given. At most MAX_RANK + 1 of them are kept: that many means more than MAX_RANK.
   */
  readonly dims: readonly (number | string)[] | undefined;
}

/** An initializer (TensorProto). */
export interface InitializerFacts {
  readonly name: string;
  /** At most MAX_RANK + 1 are kept: that many means more than MAX_RANK. */
  readonly dims: readonly number[];
  /** Its TensorProto.DataType. */
  readonly dataType: number;
  /**
   * How many values the file holds data for: at most this many. An int64 value counts only for each 8 bytes of
   * data (as onnxruntime holds it), so that no value costs the file fewer than 4 bytes.
   */
  readonly stored: number;
  /** Its values, when it is an int64 tensor of at most MAX_RANK values (such as the axes of a reduction). */
  readonly ints: readonly number[] | undefined;
}

/** A node (NodeProto), with its integer attributes. */
export interface NodeFacts {
  /** Its name ('' when it has none), which messages give as `named('node', name)`. */
  readonly name: string;
  readonly op: string;
  /** '' for an optional input left out. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** INT attributes (AttributeProto.i) by name. */
  readonly int: ReadonlyMap<string, number>;
  /** INTS attributes (AttributeProto.ints) by name; at most MAX_RANK + 1 values of each are kept. */
  readonly ints: ReadonlyMap<string, readonly number[]>;
  /** The name of an attribute the node has twice, if any. */
  readonly repeatedAttribute: string | undefined;
}

/** `the node "n"`, or `an unnamed node`: names are quoted (control characters escaped) and shortened. */
export function named(kind: string, name: string): string {
  return name ? `the ${kind} ${describeValue(name)}` : `an unnamed ${kind}`;
}

/** TensorProto.DataType FLOAT and INT64: the only element types of an exported model's initializers and casts. */
export const FLOAT32 = 1;
export const INT64 = 7;
/** TensorProto.DataType names in onnx.proto's numbering, for messages. */
const DATA_TYPE_NAMES = [
  'untyped',
  'float32',
  'uint8',
  'int8',
  'uint16',
  'int16',
  'int32',
  'int64',
  'string',
  'bool',
  'float16',
  'float64',
  'uint32',
  'uint64',
  'complex64',
  'complex128',
  'bfloat16',
];

function dataTypeName(type: number): string {
  return DATA_TYPE_NAMES[type] ?? `data type ${type}`;
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

/** What the pass found, each count per row of the batch for a tensor that follows it. */
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
  /**
   * What one row of a batch can cost at most, in values of at most 8 bytes each: the input's width plus `total`
   * (which counts a tensor that does not follow the batch as if it did).
   */
  readonly valuesPerRow: number;
}

/**
 * Works out an upper bound of every tensor's shape in a graph of MODEL_OPERATORS, in node order, and refuses (via
 * `refuse`) a graph in which
 * - an input (other than an initializer listed as one) is not a dense float32 tensor, an initializer is neither
 *   float32 nor int64, or a Cast makes another type: no value then costs more than 8 bytes, nor the file fewer than
 *   4 (see InitializerFacts.stored), so counting values bounds bytes;
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
 * The first dim of an input is the batch, fixed size or not: the runtimes feed it the rows of a request. Any other
 * dim without a fixed size is the input's width, which the runtimes take from metadata `inputWidth` (`inputWidth`
 * here, the raw metadata value): a runtime refuses a file whose width neither its shape nor that key gives, and an
 * input that is not a matrix [N, width], before any row reaches it (resolveClassifierInterface).
 * The arithmetic is on Numbers, which saturate at Infinity rather than wrap, and the pass is linear in the graph's
 * size; a node's description is made only for a refusal.
 */
export function checkShapeBounds(graph: GraphShapeFacts, inputWidth: string | undefined, refuse: (why: string) => Error): ShapeSummary {
  const width = metadataWidth(inputWidth);
  const known = new Map<string, Known>();

  let weights = 0;
  for (const tensor of graph.initializers) {
    if (known.has(tensor.name)) throw refuse(`the graph has two initializers named ${describeValue(tensor.name)}`);
    const what = `the initializer ${describeValue(tensor.name)}`;
    if (tensor.dataType !== FLOAT32 && tensor.dataType !== INT64)
      throw refuse(
        `${what} holds ${dataTypeName(tensor.dataType)} values; hyperproto's exporter writes only float32 initializers (the weights) and int64 ones (axes, top-k's k, class indices), and this check counts values, which a cast from a narrower type would widen`,
      );
    if (tensor.dims.length > MAX_RANK) throw refuse(`${what} has more than ${MAX_RANK} dims; ${RANK_LIMIT}`);
    if (tensor.dims.some((d) => d < 0)) throw refuse(`${what} has the dims ${dimsText(tensor.dims)}, one of them negative`);
    known.set(tensor.name, { shape: tensor.dims.map(fixed), constant: true, ints: tensor.ints });
    // What the file holds, not what its dims claim: dims alone cost the file nothing.
    weights += Math.min(valuesOf(tensor.dims.map(fixed)), tensor.stored);
  }
  // An initializer that claims more values than the file holds: onnxruntime refuses it when it reads it, but the
  // values it claims may be made first.
  for (const tensor of graph.initializers) {
    const values = valuesOf(tensor.dims.map(fixed));
    if (values > weights)
      throw refuse(
        `the initializer ${describeValue(tensor.name)} has the dims ${dimsText(tensor.dims)}, ${count(values)} values, but the file holds data for ${count(tensor.stored)} of them`,
      );
  }

  let widest = 0;
  let inputValues = 0;
  const inputShapes: [string, Shape][] = [];
  const inputNames = new Set<string>();
  for (const input of graph.inputs) {
    if (inputNames.has(input.name)) throw refuse(`the graph has two inputs named ${describeValue(input.name)}`);
    inputNames.add(input.name);
    // An input that is also an initializer keeps the initializer's values: the runtimes feed only the features.
    if (known.has(input.name)) continue;
    const what = `the input ${describeValue(input.name)}`;
    if (input.type !== 'tensor')
      throw refuse(
        `${what} is ${input.type === '' ? 'of no type' : `${/^[aeiou]/.test(input.type) ? 'an' : 'a'} ${input.type}`}; ${INPUT_TEXT}`,
      );
    if (input.elemType !== FLOAT32) throw refuse(`${what} holds ${dataTypeName(input.elemType)} values; ${INPUT_TEXT}`);
    const dims = input.dims ?? ['', ''];
    if (dims.length > MAX_RANK) throw refuse(`${what} has more than ${MAX_RANK} dims; ${RANK_LIMIT}`);
    const shape = dims.map((d, i) => (i === 0 ? ROWS : typeof d === 'number' && d >= 0 ? fixed(d) : fixed(width)));
    // A wider input is refused before a row is fed (resolveClassifierInterface).
    const values = Math.min(valuesOf(shape), MAX_INPUT_WIDTH);
    widest = Math.max(widest, values);
    inputValues += values;
    inputShapes.push([input.name, shape]);
  }
  for (const [name, shape] of inputShapes) known.set(name, { shape, constant: false });
  const bound = Math.max(weights, widest);

  const weightsText = `the ${count(weights)} values the file's initializers hold`;
  const boundText = weights >= bound ? weightsText : `the larger of ${weightsText} and its input's width (${count(bound)} values)`;
  let largest = 0;
  let folded = 0;
  let total = 0;
  for (const node of graph.nodes) {
    // Made only for a refusal: a graph may have many nodes.
    const where = () => `${named('node', node.name)} (${node.op})`;
    if (node.repeatedAttribute !== undefined)
      throw refuse(`${where()} has the attribute ${describeValue(node.repeatedAttribute)} more than once`);
    const inputs = node.inputs.map((name) => {
      if (name === '') return undefined;
      const tensor = known.get(name);
      if (!tensor)
        throw refuse(
          `${where()} reads ${describeValue(name)}, which no graph input, initializer or earlier node gives (hyperproto's exporter writes every node after the nodes it reads)`,
        );
      return tensor;
    });
    const shape = outputShape(node, inputs, where, refuse);
    if (shape.length > MAX_RANK) throw refuse(`${where()} makes a tensor of ${shape.length} dims; ${RANK_LIMIT}`);
    const outputs = node.outputs.filter((name) => name !== '');
    const made = () => (outputs.length ? `${describeValue(outputs[0])} of shape ${show(shape)}` : `a tensor of shape ${show(shape)}`);
    if (shape.filter((d) => d.rows).length > 1)
      throw refuse(
        `${where()} makes ${made()}, whose size grows with the square of the batch's rows; no tensor of a hyperproto model does (each row is answered on its own)`,
      );
    const values = valuesOf(shape);
    const constant = inputs.every((input) => input === undefined || input.constant);
    if (constant && values > weights)
      throw refuse(
        `${where()} makes ${made()} from initializers alone: ${count(values)} values, more than ${weightsText}; onnxruntime would make it when it loads the file, and no graph hyperproto's exporter writes makes a tensor larger than its weights`,
      );
    const perRow = shape.some((d) => d.rows) ? ' per row of the batch' : '';
    if (!constant && values > bound)
      throw refuse(
        `${where()} makes ${made()}: ${count(values)} values${perRow}, more than ${boundText}; no tensor of a graph hyperproto's exporter writes holds more`,
      );
    largest = Math.max(largest, values);
    if (constant) {
      folded += values * outputs.length;
      if (folded > NODE_VALUES_FACTOR * weights)
        throw refuse(
          `its nodes up to ${where()} make ${count(folded)} values from initializers alone, more than ${NODE_VALUES_FACTOR} times ${weightsText}; onnxruntime would make and keep them all when it loads the file, and the nodes of a graph hyperproto's exporter writes make far fewer`,
        );
    } else {
      total += values * outputs.length;
      if (total > NODE_VALUES_FACTOR * bound)
        throw refuse(
          `its nodes up to ${where()} make ${count(total)} values (per row of the batch, for those that follow it), more than ${NODE_VALUES_FACTOR} times ${boundText}; the nodes of a graph hyperproto's exporter writes make far fewer`,
        );
    }
    for (const name of outputs) {
      if (known.has(name))
        throw refuse(`${where()} writes ${describeValue(name)}, which a graph input, initializer or earlier node already gives`);
      known.set(name, { shape, constant });
    }
  }
  return { weights, bound, largest, folded, total, valuesPerRow: inputValues + total };
}

const INPUT_TEXT = "a hyperproto model's input is a float32 tensor [N, width], which is what the runtimes feed";
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
  Cast: (node, _inputs, ask) => {
    const to = node.int.get('to');
    if (to !== FLOAT32 && to !== INT64)
      throw new ShapeRefusal(
        `casts to ${to === undefined ? 'no type' : dataTypeName(to)}; hyperproto's exporter casts only to float32 and int64, and this check counts values, which a cast to a wider type would widen`,
      );
    return ask.input(0).shape;
  },
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

function outputShape(node: NodeFacts, inputs: readonly (Known | undefined)[], where: () => string, refuse: (why: string) => Error): Shape {
  const rule = Object.hasOwn(RULES, node.op) ? RULES[node.op] : undefined;
  // Unreachable after the operator check, which refuses any other operator first.
  if (!rule) throw refuse(`${where()} runs an operator whose output shape this check does not know`);
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
        if (axes && axes.length > MAX_RANK) throw new ShapeRefusal(`names more than ${MAX_RANK} axes; ${RANK_LIMIT}`);
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
    if (error instanceof ShapeRefusal) throw refuse(`${where()} ${error.message}`);
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
  return `[${shape.map((d) => (d.rows ? (d.size === 1 ? 'rows' : `max(rows, ${size(d.size)})`) : size(d.size))).join(', ')}]`;
}

/** `[4000, 1]`: sizes without thousands separators, which would read as more dims. */
function dimsText(dims: readonly number[]): string {
  return `[${dims.map(size).join(', ')}]`;
}

function size(n: number): string {
  return n < 1e15 ? String(n) : n.toPrecision(3);
}

/** A count of values: `16,000,000`. */
function count(n: number): string {
  if (!Number.isFinite(n)) return 'more than 1e308';
  return n < 1e15 ? n.toLocaleString('en-US') : n.toPrecision(3);
}
