import { attr, DATA_TYPES, type AttributeValue, type DataType, type Dim, type GraphBuilder, type TensorData } from './graph-builder.js';

/** The float type of a traced graph: float32 for training, float64 where gradients are checked numerically. */
export type FloatType = 'float32' | 'float64';

/** A value in a traced graph: its ONNX name, element type and shape (numbers, or names for dynamic sizes). */
export interface Value {
  readonly name: string;
  readonly type: DataType;
  readonly shape: readonly Dim[];
}

/** One recorded node: what `finish` writes, and what reverse mode (in a training engine) replays backwards. */
export interface TapeNode {
  readonly opType: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** What asked for the node (e.g. `head operation "logSoftmax"`), for error messages. */
  readonly source: string | undefined;
  /** Axes of reductions, Squeeze and Unsqueeze (given as constant inputs in ONNX), non-negative and sorted. */
  readonly axes?: readonly number[];
}

export interface TracedGraphOptions {
  readonly floatType?: FloatType;
  /** Prefix of every value and node name, so that a Loop body never shadows a name of its enclosing graph. */
  readonly prefix?: string;
  /** Where constants go; the enclosing graph for a Loop body (ONNX bodies read enclosing values by name). */
  readonly constants?: GraphBuilder;
}

/**
 * The typed graph builder: a GraphBuilder wrapper that knows the element type and shape of every value it makes
 * and records each node on a tape before writing it, so that a training engine can emit gradients by replaying the
 * tape backwards. Every method emits exactly the ONNX node it is named after (opset 17), with NumPy broadcasting
 * where ONNX has it; operands whose fixed sizes do not broadcast are refused when the node is made.
 */
export class TracedGraph {
  readonly floatType: FloatType;
  readonly tape: TapeNode[] = [];
  private readonly prefix: string;
  private readonly constantsBuilder: GraphBuilder;
  private readonly cache = new Map<string, Value>();
  private readonly outputs: Value[] = [];
  private readonly written = new Set<TapeNode>();
  private counter = 0;
  /** Set while lowering one part of a model, so errors can say where a node came from. */
  source: string | undefined;

  constructor(
    readonly builder: GraphBuilder,
    options: TracedGraphOptions = {},
  ) {
    this.floatType = options.floatType ?? 'float32';
    this.prefix = options.prefix ?? '';
    this.constantsBuilder = options.constants ?? builder;
  }

  // ---- values from outside -----------------------------------------------------------------------------------

  input(name: string, type: DataType, shape: readonly Dim[]): Value {
    this.builder.input(name, type, shape);
    return { name, type, shape };
  }

  /** A value the builder's caller already declared (e.g. a Loop body's state input). */
  existing(name: string, type: DataType, shape: readonly Dim[]): Value {
    return { name, type, shape };
  }

  output(value: Value): Value {
    this.builder.output(value.name, value.type, value.shape);
    this.outputs.push(value);
    return value;
  }

  /** A float constant tensor, stored in the graph's float type. */
  constant(name: string, data: ArrayLike<number>, shape: readonly number[]): Value {
    const stored: TensorData =
      this.floatType === 'float64' ? Float64Array.from(data) : data instanceof Float32Array ? data : Float32Array.from(data);
    return { name: this.constantsBuilder.initializer(name, stored, shape, this.floatType), type: this.floatType, shape };
  }

  /** A float scalar constant (one initializer per distinct value). */
  scalar(value: number): Value {
    const key = `scalar:${value}`;
    let cached = this.cache.get(key);
    if (!cached) {
      const data = this.floatType === 'float64' ? Float64Array.of(value) : Float32Array.of(value);
      cached = {
        name: this.constantsBuilder.initializer(`${this.prefix}scalar`, data, [], this.floatType),
        type: this.floatType,
        shape: [],
      };
      this.cache.set(key, cached);
    }
    return cached;
  }

  /** A 1-D int64 constant, e.g. the axes of ReduceSum. */
  ints(values: readonly number[]): Value {
    const key = `ints:${values.join(',')}`;
    let cached = this.cache.get(key);
    if (!cached) {
      const data = BigInt64Array.from(values.map(BigInt));
      cached = {
        name: this.constantsBuilder.initializer(`${this.prefix}ints`, data, [values.length], 'int64'),
        type: 'int64',
        shape: [values.length],
      };
      this.cache.set(key, cached);
    }
    return cached;
  }

  // ---- nodes -------------------------------------------------------------------------------------------------

  /**
   * Records one node whose output types and shapes the caller states (an output may ask for a fixed name). Nodes
   * reach the ONNX graph only in `finish`, and only those that an output needs.
   */
  emit(
    opType: string,
    inputs: readonly Value[],
    attributes: Readonly<Record<string, AttributeValue>>,
    outputs: readonly { type: DataType; shape: readonly Dim[]; name?: string }[],
    axes?: readonly number[],
  ): Value[] {
    const values = outputs.map((o) => ({ name: o.name ?? `${this.prefix}${opType}_${this.counter++}`, type: o.type, shape: o.shape }));
    this.tape.push({ opType, inputs, outputs: values, attributes, source: this.source, ...(axes ? { axes } : {}) });
    return values;
  }

  /** `value` under a fixed name (an Identity node), e.g. a documented model output. */
  named(value: Value, name: string): Value {
    return this.emit('Identity', [value], {}, [{ type: value.type, shape: value.shape, name }])[0]!;
  }

  /**
   * `value` under a fixed name without a copy where that is safe: when the last node recorded made it and no node
   * reads it yet, that node's output is renamed; otherwise (an input, an initializer, a value already read) an
   * Identity node, as `named`. For the result of a whole expression, e.g. a model's documented score output.
   */
  nameResult(value: Value, name: string): Value {
    const last = this.tape.at(-1);
    const index = last ? last.outputs.findIndex((o) => o.name === value.name) : -1;
    const read = this.tape.some((node) => node.inputs.some((input) => input.name === value.name));
    if (!last || index < 0 || read || this.written.has(last) || this.outputs.some((o) => o.name === value.name))
      return this.named(value, name);
    const renamed: Value = { ...value, name };
    this.tape[this.tape.length - 1] = { ...last, outputs: last.outputs.map((o, i) => (i === index ? renamed : o)) };
    return renamed;
  }

  /**
   * Writes the recorded nodes that `roots` and the declared outputs depend on into the ONNX graph, in the order
   * they were recorded. Reverse mode records some values that a sparser rule makes unnecessary; they are dropped.
   */
  finish(roots: readonly Value[] = []): void {
    const live = new Set([...this.outputs, ...roots].map((v) => v.name));
    const keep = new Array<boolean>(this.tape.length).fill(false);
    for (let i = this.tape.length - 1; i >= 0; i--) {
      const node = this.tape[i]!;
      if (!node.outputs.some((o) => live.has(o.name))) continue;
      keep[i] = true;
      for (const input of node.inputs) live.add(input.name);
    }
    this.tape.forEach((node, i) => {
      if (!keep[i] || this.written.has(node)) return;
      this.written.add(node);
      this.builder.nodeOutputs(
        node.opType,
        node.inputs.map((v) => v.name),
        node.attributes,
        { outputs: node.outputs.map((o) => o.name), name: `${this.prefix}node_${i}` },
      );
    });
  }

  private one(
    opType: string,
    inputs: readonly Value[],
    shape: readonly Dim[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    type?: DataType,
    axes?: readonly number[],
  ): Value {
    return this.emit(opType, inputs, attributes, [{ type: type ?? inputs[0]!.type, shape }], axes)[0]!;
  }

  add(a: Value, b: Value): Value {
    return this.one('Add', [a, b], broadcast('Add', a, b));
  }
  sub(a: Value, b: Value): Value {
    return this.one('Sub', [a, b], broadcast('Sub', a, b));
  }
  mul(a: Value, b: Value): Value {
    return this.one('Mul', [a, b], broadcast('Mul', a, b));
  }
  div(a: Value, b: Value): Value {
    return this.one('Div', [a, b], broadcast('Div', a, b));
  }
  max(a: Value, b: Value): Value {
    return this.one('Max', [a, b], broadcast('Max', a, b));
  }
  /** x ** exponent, exponent a scalar value. */
  pow(x: Value, exponent: Value): Value {
    return this.one('Pow', [x, exponent], broadcast('Pow', x, exponent));
  }
  neg(x: Value): Value {
    return this.one('Neg', [x], x.shape);
  }
  sqrt(x: Value): Value {
    return this.one('Sqrt', [x], x.shape);
  }
  reciprocal(x: Value): Value {
    return this.one('Reciprocal', [x], x.shape);
  }
  exp(x: Value): Value {
    return this.one('Exp', [x], x.shape);
  }
  log(x: Value): Value {
    return this.one('Log', [x], x.shape);
  }
  relu(x: Value): Value {
    return this.one('Relu', [x], x.shape);
  }
  sign(x: Value): Value {
    return this.one('Sign', [x], x.shape);
  }
  identity(x: Value): Value {
    return this.one('Identity', [x], x.shape);
  }
  greater(a: Value, b: Value): Value {
    return this.one('Greater', [a, b], broadcast('Greater', a, b), {}, 'bool');
  }
  greaterOrEqual(a: Value, b: Value): Value {
    return this.one('GreaterOrEqual', [a, b], broadcast('GreaterOrEqual', a, b), {}, 'bool');
  }
  equal(a: Value, b: Value): Value {
    return this.one('Equal', [a, b], broadcast('Equal', a, b), {}, 'bool');
  }
  where(condition: Value, a: Value, b: Value): Value {
    return this.one('Where', [condition, a, b], broadcast('Where', condition, { ...a, shape: broadcast('Where', a, b) }), {}, a.type);
  }
  cast(x: Value, type: DataType): Value {
    return this.one('Cast', [x], x.shape, { to: DATA_TYPES[type] }, type);
  }

  /** a [N, K] @ b [K, M]. */
  matmul(a: Value, b: Value): Value {
    expectRank(a, 2, 'MatMul');
    expectRank(b, 2, 'MatMul');
    return this.one('MatMul', [a, b], [a.shape[0]!, b.shape[1]!]);
  }

  /** op(a) @ op(b) (+ beta * c), op = transpose where asked: 2-D only. */
  gemm(
    a: Value,
    b: Value,
    { transA = false, transB = false, c, beta = 1 }: { transA?: boolean; transB?: boolean; c?: Value; beta?: number } = {},
  ): Value {
    expectRank(a, 2, 'Gemm');
    expectRank(b, 2, 'Gemm');
    const rows = a.shape[transA ? 1 : 0]!;
    const cols = b.shape[transB ? 0 : 1]!;
    const attributes: Record<string, AttributeValue> = {};
    if (transA) attributes.transA = 1;
    if (transB) attributes.transB = 1;
    if (beta !== 1) attributes.beta = attr.float(beta);
    return this.one('Gemm', c ? [a, b, c] : [a, b], [rows, cols], attributes);
  }

  reduceSum(x: Value, axes: readonly number[], keepdims: boolean): Value {
    const normalized = normalizeAxes(axes, x.shape.length);
    return this.one(
      'ReduceSum',
      [x, this.ints(normalized)],
      reducedShape(x.shape, normalized, keepdims),
      { keepdims: keepdims ? 1 : 0 },
      x.type,
      normalized,
    );
  }

  /** Mean over `axes`, or over every axis when none are given (opset 17: axes are an attribute here). */
  reduceMean(x: Value, axes: readonly number[] | undefined, keepdims: boolean): Value {
    const normalized = normalizeAxes(axes ?? x.shape.map((_, i) => i), x.shape.length);
    const attributes: Record<string, AttributeValue> = { keepdims: keepdims ? 1 : 0 };
    if (axes) attributes.axes = normalized;
    return this.one('ReduceMean', [x], reducedShape(x.shape, normalized, keepdims), attributes, x.type, normalized);
  }

  softmax(x: Value): Value {
    return this.one('Softmax', [x], x.shape, { axis: -1 });
  }
  logSoftmax(x: Value): Value {
    return this.one('LogSoftmax', [x], x.shape, { axis: -1 });
  }

  /** Rows of x [R, ...] (the elements of a vector) picked by int indices [N]: [N, ...]. */
  gatherRows(x: Value, indices: Value): Value {
    if (x.shape.length < 1) throw new Error(`Gather needs rows, got a scalar ${x.name}`);
    return this.one('Gather', [x, indices], [...indices.shape, ...x.shape.slice(1)], { axis: 0 });
  }

  /**
   * data with the slices at int64 `indices` [N, 1] replaced by (or, with reduction `add`, added to) `updates`
   * [N, ...]: ScatterND (opset 16 has its reduction).
   */
  scatterND(data: Value, indices: Value, updates: Value, reduction: 'none' | 'add' = 'none'): Value {
    return this.one('ScatterND', [data, indices, updates], data.shape, reduction === 'none' ? {} : { reduction });
  }

  /** Element i of each row... along `axis`, indices shaped like the result. */
  gatherElements(x: Value, indices: Value, axis: number): Value {
    return this.one('GatherElements', [x, indices], indices.shape, { axis }, x.type);
  }

  scatterElements(data: Value, indices: Value, updates: Value, axis: number, reduction: 'none' | 'add'): Value {
    const attributes: Record<string, AttributeValue> = { axis };
    if (reduction !== 'none') attributes.reduction = reduction;
    return this.one('ScatterElements', [data, indices, updates], data.shape, attributes);
  }

  unsqueeze(x: Value, axes: readonly number[]): Value {
    const rank = x.shape.length + axes.length;
    const normalized = normalizeAxes(axes, rank);
    const shape: Dim[] = [];
    let source = 0;
    for (let i = 0; i < rank; i++) shape.push(normalized.includes(i) ? 1 : x.shape[source++]!);
    return this.one('Unsqueeze', [x, this.ints(normalized)], shape, {}, x.type, normalized);
  }

  squeeze(x: Value, axes: readonly number[]): Value {
    const normalized = normalizeAxes(axes, x.shape.length);
    return this.one(
      'Squeeze',
      [x, this.ints(normalized)],
      x.shape.filter((_, i) => !normalized.includes(i)),
      {},
      x.type,
      normalized,
    );
  }

  /**
   * Sums over the rows of a matrix [N, K] as a product with a row of ones, [1, N] @ [N, K] -> [1, K]: several
   * times faster in onnxruntime than ReduceSum over axis 0. For gradients only (its own gradient would be dense).
   */
  columnSums(x: Value): Value {
    if (x.shape.length !== 2) throw new Error(`columnSums needs a matrix, got [${x.shape.join(', ')}]`);
    const rows = x.shape[0]!;
    const key = `ones:${rows}`;
    let ones = this.cache.get(key);
    if (!ones) {
      if (typeof rows === 'number') {
        ones = this.constant('ones', new Float32Array(rows).fill(1), [1, rows]);
      } else {
        const rowCount = this.one('Shape', [x], [1], { start: 0, end: 1 }, 'int64');
        const shape = this.one('Concat', [this.ints([1]), rowCount], [2], { axis: 0 }, 'int64');
        const one = attr.tensor({
          dataType: this.floatType,
          dims: [1],
          data: this.floatType === 'float64' ? Float64Array.of(1) : Float32Array.of(1),
        });
        ones = this.one('ConstantOfShape', [shape], [1, rows], { value: one }, this.floatType);
      }
      this.cache.set(key, ones);
    }
    return this.matmul(ones, x);
  }

  /** x reshaped to a fixed shape. */
  reshape(x: Value, shape: readonly number[]): Value {
    return this.one('Reshape', [x, this.ints(shape)], shape, {}, x.type);
  }

  /** x reshaped to the shape of `like` (read at run time, so dynamic sizes work). */
  reshapeLike(x: Value, like: Value): Value {
    return this.one('Reshape', [x, this.shapeOf(like)], like.shape, {}, x.type);
  }

  /** x broadcast to the shape of `like`. */
  expandLike(x: Value, like: Value): Value {
    return this.one('Expand', [x, this.shapeOf(like)], like.shape, {}, x.type);
  }

  /** Zeros of the float type, shaped like `like`. */
  zerosLike(like: Value): Value {
    const value = attr.tensor({
      dataType: this.floatType,
      dims: [1],
      data: this.floatType === 'float64' ? new Float64Array(1) : new Float32Array(1),
    });
    return this.one('ConstantOfShape', [this.shapeOf(like)], like.shape, { value }, this.floatType);
  }

  shapeOf(x: Value): Value {
    return this.one('Shape', [x], [x.shape.length], {}, 'int64');
  }

  /** The number of elements of x, as a float scalar. */
  sizeOf(x: Value): Value {
    const known = x.shape.every((d) => typeof d === 'number') ? (x.shape as number[]).reduce((a, b) => a * b, 1) : undefined;
    if (known !== undefined) return this.scalar(known);
    return this.cast(this.one('Size', [x], [], {}, 'int64'), this.floatType);
  }

  /** Index of the largest value along the last axis, int64. */
  argMaxLastAxis(x: Value): Value {
    return this.one('ArgMax', [x], x.shape.slice(0, -1), { axis: -1, keepdims: 0 }, 'int64');
  }
}

/**
 * NumPy broadcasting, as ONNX (and the float64 reference interpreter in @hyperproto/core) does it: shapes are
 * aligned at their last axes and a size 1, or a missing axis, repeats. A named (dynamic) size against a number
 * takes the number; two different fixed sizes, neither 1, do not broadcast: undefined.
 */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[]): Dim[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (typeof x === 'number' && typeof y === 'number' && x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : y === 1 ? x : typeof x === 'number' ? x : y);
  }
  return out;
}

function broadcast(op: string, a: Value, b: Value): Dim[] {
  const shape = broadcastShapes(a.shape, b.shape);
  if (!shape)
    throw new Error(`${op} of ${a.name} [${a.shape.join(', ')}] and ${b.name} [${b.shape.join(', ')}]: the shapes do not broadcast`);
  return shape;
}

export function normalizeAxes(axes: readonly number[], rank: number): number[] {
  return axes.map((axis) => (axis < 0 ? axis + rank : axis)).sort((a, b) => a - b);
}

function reducedShape(shape: readonly Dim[], axes: readonly number[], keepdims: boolean): Dim[] {
  return keepdims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

function expectRank(value: Value, rank: number, op: string): void {
  if (value.shape.length !== rank)
    throw new Error(`${op} needs rank-${rank} operands here, got [${value.shape.join(', ')}] for ${value.name}`);
}
