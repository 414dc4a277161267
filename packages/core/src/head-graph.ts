import { ErrorCode, HyperprotoError } from './errors.js';
import type { Matrix } from './matrix.js';
import type { NamedWeight } from './plugins.js';

/**
 * A head's loss and prediction as a small expression over a fixed vocabulary of operations. Engines evaluate it
 * with their own kernels (tfjs ops, ONNX nodes) and exporters reuse the score expression, so a head is defined
 * once and works on every engine.
 *
 * Shapes: `output` is the network's output [N, U]; `labels` the true class indices [N] (int);
 * a `constant` is a named matrix the head ships (e.g. prototypes [C, D]).
 */
export type HeadExpr =
  | { readonly op: 'output' }
  | { readonly op: 'labels' }
  | { readonly op: 'constant'; readonly name: string }
  | { readonly op: 'scalar'; readonly value: number }
  /**
   * A trainable scalar: an engine that trains the head's parameters starts it at `value` and learns it with the
   * network; everywhere else (inference, export, the reference) it is the constant `value`. A trained model's head
   * carries the trained value (see `bindHeadParams`). Parameters with the same name are one parameter.
   */
  | { readonly op: 'param'; readonly name: string; readonly value: number }
  /** Element-wise, NumPy broadcasting (shapes aligned at their last axes; a size 1 or a missing axis repeats). */
  | { readonly op: 'add' | 'sub' | 'mul' | 'div'; readonly a: HeadExpr; readonly b: HeadExpr }
  /** Element-wise; the same shape. `log` of 0 is -Infinity and of a negative number NaN, as in IEEE arithmetic. */
  | { readonly op: 'neg' | 'exp' | 'log'; readonly x: HeadExpr }
  | { readonly op: 'pow'; readonly x: HeadExpr; readonly exponent: number }
  /** a [N, K] times b [M, K] transposed: [N, M]. */
  | { readonly op: 'matmulTransposed'; readonly a: HeadExpr; readonly b: HeadExpr }
  /** Rows scaled to unit L2 norm (norm floored at HEAD_NORM_FLOOR, 1e-12). */
  | { readonly op: 'l2normalize'; readonly x: HeadExpr }
  | { readonly op: 'softmax' | 'logSoftmax'; readonly x: HeadExpr }
  /** x[indices[i], :] for a matrix x and int indices [N]: [N, K]. */
  | { readonly op: 'gatherRows'; readonly x: HeadExpr; readonly indices: HeadExpr }
  /** x[i, indices[i]]: [N]. */
  | { readonly op: 'pickPerRow'; readonly x: HeadExpr; readonly indices: HeadExpr }
  /** Rows [N, depth] of int indices [N] (e.g. the labels): 1 at the index, 0 elsewhere. */
  | { readonly op: 'oneHot'; readonly indices: HeadExpr; readonly depth: number }
  /** Sum over the last axis: [N, K] -> [N]. */
  | { readonly op: 'rowSum'; readonly x: HeadExpr }
  /** Mean of all elements: a scalar. */
  | { readonly op: 'mean'; readonly x: HeadExpr };

export type HeadOp = HeadExpr['op'];

type Variant<Op extends HeadOp> = HeadExpr extends infer E
  ? E extends { readonly op: infer O }
    ? Op extends O
      ? E
      : never
    : never
  : never;
type FieldOf<Op extends HeadOp, T> = { [K in keyof Variant<Op>]-?: Variant<Op>[K] extends T ? K : never }[keyof Variant<Op>] & string;

/**
 * One operation's fields: its sub-expressions (in evaluation order), its number and string fields, and the shape
 * of its result in terms of its children's (N rows, K columns; `...` any leading axes).
 */
export interface HeadOpFields<Op extends HeadOp = HeadOp> {
  readonly children: readonly FieldOf<Op, HeadExpr>[];
  readonly numbers: readonly Exclude<FieldOf<Op, number>, FieldOf<Op, HeadExpr>>[];
  readonly strings: readonly Exclude<FieldOf<Op, string>, 'op'>[];
  readonly shape: string;
}

/**
 * The operation table: the one place that says which fields each operation has. Every walk over an expression
 * (constantsUsed, the reference interpreter, the engines' evaluators, the ONNX lowering, JSON parsing) reads its
 * children from here rather than from a switch of its own.
 */
export const HEAD_OP_TABLE: { readonly [Op in HeadOp]: HeadOpFields<Op> } = {
  output: { children: [], numbers: [], strings: [], shape: '[N, U], the network output' },
  labels: { children: [], numbers: [], strings: [], shape: '[N], int class indices' },
  constant: { children: [], numbers: [], strings: ['name'], shape: '[R, K], the named matrix' },
  scalar: { children: [], numbers: ['value'], strings: [], shape: '[]' },
  param: { children: [], numbers: ['value'], strings: ['name'], shape: '[]' },
  add: { children: ['a', 'b'], numbers: [], strings: [], shape: 'a and b broadcast' },
  sub: { children: ['a', 'b'], numbers: [], strings: [], shape: 'a and b broadcast' },
  mul: { children: ['a', 'b'], numbers: [], strings: [], shape: 'a and b broadcast' },
  div: { children: ['a', 'b'], numbers: [], strings: [], shape: 'a and b broadcast' },
  neg: { children: ['x'], numbers: [], strings: [], shape: 'that of x' },
  exp: { children: ['x'], numbers: [], strings: [], shape: 'that of x' },
  log: { children: ['x'], numbers: [], strings: [], shape: 'that of x' },
  pow: { children: ['x'], numbers: ['exponent'], strings: [], shape: 'that of x' },
  matmulTransposed: { children: ['a', 'b'], numbers: [], strings: [], shape: 'a [N, K], b [M, K] -> [N, M]' },
  l2normalize: { children: ['x'], numbers: [], strings: [], shape: 'that of x [..., K], not a scalar' },
  softmax: { children: ['x'], numbers: [], strings: [], shape: 'that of x [..., K], not a scalar' },
  logSoftmax: { children: ['x'], numbers: [], strings: [], shape: 'that of x [..., K], not a scalar' },
  gatherRows: { children: ['x', 'indices'], numbers: [], strings: [], shape: 'x [R, K], indices [N] -> [N, K]' },
  pickPerRow: { children: ['x', 'indices'], numbers: [], strings: [], shape: 'x [N, K], indices [N] -> [N]' },
  oneHot: { children: ['indices'], numbers: ['depth'], strings: [], shape: 'indices [N] -> [N, depth]' },
  rowSum: { children: ['x'], numbers: [], strings: [], shape: 'x [..., K] -> [...]' },
  mean: { children: ['x'], numbers: [], strings: [], shape: '[]' },
};

/** Every operation name, for engines that check their coverage. */
export const HEAD_OPS: readonly HeadOp[] = Object.keys(HEAD_OP_TABLE) as HeadOp[];

/**
 * `l2normalize` scales rows by 1 / max(norm, HEAD_NORM_FLOOR), so that a zero row stays finite (zero). Engines that
 * floor before the square root use HEAD_SQUARED_NORM_FLOOR, the same floor (1e-12 squared is exactly 1e-24).
 */
export const HEAD_NORM_FLOOR = 1e-12;
export const HEAD_SQUARED_NORM_FLOOR = HEAD_NORM_FLOOR ** 2;

/** The fields of `op`; an operation outside the vocabulary (a head or model from a newer hyperproto) is refused. */
export function headOpFields(op: unknown): HeadOpFields {
  if (typeof op !== 'string' || !Object.hasOwn(HEAD_OP_TABLE, op)) {
    throw new HyperprotoError(ErrorCode.InvalidInput, `unknown head operation ${JSON.stringify(op)}`, {
      hint: 'The head or model was made by a newer hyperproto; update the @hyperproto packages.',
    });
  }
  return HEAD_OP_TABLE[op as HeadOp] as HeadOpFields;
}

/** The sub-expressions of `expr`, in evaluation order. */
export function headExprChildren(expr: HeadExpr): HeadExpr[] {
  const node = expr as unknown as Readonly<Record<string, HeadExpr>>;
  return headOpFields(expr.op).children.map((field) => node[field]!);
}

/**
 * Walks an expression children first and gives each node the results of its children. A sub-expression object
 * used twice is visited once (its result is reused), so a walk is linear in the number of distinct nodes.
 */
export function foldHeadExpr<T>(expr: HeadExpr, visit: (node: HeadExpr, children: T[]) => T): T {
  const done = new Map<HeadExpr, T>();
  const walk = (node: HeadExpr): T => {
    if (done.has(node)) return done.get(node)!;
    const result = visit(node, headExprChildren(node).map(walk));
    done.set(node, result);
    return result;
  };
  return walk(expr);
}

/** Builders that keep head definitions readable. */
export const h = {
  output: (): HeadExpr => ({ op: 'output' }),
  labels: (): HeadExpr => ({ op: 'labels' }),
  constant: (name: string): HeadExpr => ({ op: 'constant', name }),
  scalar: (value: number): HeadExpr => ({ op: 'scalar', value }),
  /** A trainable scalar named `name` that starts at `value`. */
  param: (name: string, value: number): HeadExpr => ({ op: 'param', name, value }),
  add: (a: HeadExpr, b: HeadExpr): HeadExpr => ({ op: 'add', a, b }),
  sub: (a: HeadExpr, b: HeadExpr): HeadExpr => ({ op: 'sub', a, b }),
  mul: (a: HeadExpr, b: HeadExpr): HeadExpr => ({ op: 'mul', a, b }),
  div: (a: HeadExpr, b: HeadExpr): HeadExpr => ({ op: 'div', a, b }),
  neg: (x: HeadExpr): HeadExpr => ({ op: 'neg', x }),
  exp: (x: HeadExpr): HeadExpr => ({ op: 'exp', x }),
  log: (x: HeadExpr): HeadExpr => ({ op: 'log', x }),
  pow: (x: HeadExpr, exponent: number): HeadExpr => ({ op: 'pow', x, exponent }),
  matmulTransposed: (a: HeadExpr, b: HeadExpr): HeadExpr => ({ op: 'matmulTransposed', a, b }),
  l2normalize: (x: HeadExpr): HeadExpr => ({ op: 'l2normalize', x }),
  softmax: (x: HeadExpr): HeadExpr => ({ op: 'softmax', x }),
  logSoftmax: (x: HeadExpr): HeadExpr => ({ op: 'logSoftmax', x }),
  gatherRows: (x: HeadExpr, indices: HeadExpr): HeadExpr => ({ op: 'gatherRows', x, indices }),
  pickPerRow: (x: HeadExpr, indices: HeadExpr): HeadExpr => ({ op: 'pickPerRow', x, indices }),
  oneHot: (indices: HeadExpr, depth: number): HeadExpr => ({ op: 'oneHot', indices, depth }),
  rowSum: (x: HeadExpr): HeadExpr => ({ op: 'rowSum', x }),
  mean: (x: HeadExpr): HeadExpr => ({ op: 'mean', x }),
};

/** What a head plugin builds for one experiment: the network's top layer width, its loss and its scores. */
export interface HeadDefinition {
  /** Width of the dense layer on top of the trunk. */
  readonly outputUnits: number;
  /** Scalar training loss over a batch. */
  readonly loss: HeadExpr;
  /** Per-class scores [N, C]; the prediction is their argmax. */
  readonly scores: HeadExpr;
  /** Name of the score output for exported models (e.g. `probabilities`, `scores`). */
  readonly scoresName: string;
  /** Fixed matrices the expressions refer to by name; never trained. */
  readonly constants: Readonly<Record<string, Matrix>>;
}

/** Names of the constants an expression refers to. */
export function constantsUsed(expr: HeadExpr, into: Set<string> = new Set()): Set<string> {
  foldHeadExpr(expr, (node) => {
    if (node.op === 'constant') into.add(node.name);
  });
  return into;
}

/**
 * The trainable parameters of a head (its loss and scores together) with their starting values, in the order
 * first met. A parameter without a finite starting value, without a name, or named twice with different values
 * is refused, naming it: a head whose parameters cannot start is refused when it is built.
 */
export function headParams(head: Pick<HeadDefinition, 'loss' | 'scores'>): Map<string, number> {
  const params = new Map<string, number>();
  for (const expr of [head.loss, head.scores]) {
    foldHeadExpr(expr, (node) => {
      if (node.op !== 'param') return;
      const { name, value } = node as { name?: unknown; value?: unknown };
      if (typeof name !== 'string' || name === '') {
        throw new HyperprotoError(ErrorCode.InvalidInput, `a head parameter has no name (${JSON.stringify(node)})`, {
          hint: "Name every parameter: h.param('scale', 16).",
        });
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new HyperprotoError(
          ErrorCode.InvalidInput,
          `head parameter "${name}" has ${value === undefined ? 'no initial value' : `the initial value ${String(value)}, which is not a finite number`}`,
          { hint: `Give it the value training starts from: h.param('${name}', <number>).` },
        );
      }
      const earlier = params.get(name);
      if (earlier !== undefined && earlier !== value) {
        throw new HyperprotoError(
          ErrorCode.InvalidInput,
          `head parameter "${name}" starts at ${earlier} in one place and at ${value} in another; a name is one parameter`,
          { hint: 'Use one h.param(...) object, or the same initial value, wherever the parameter appears.' },
        );
      }
      params.set(name, value);
    });
  }
  return params;
}

/**
 * The head with its parameters at `values` (e.g. the trained ones): what a trained model carries, so that
 * inference and export read each parameter as the constant it was trained to. Parameters not in `values` keep
 * their value; a name the head does not have is refused.
 */
export function bindHeadParams(head: HeadDefinition, values: Readonly<Record<string, number>>): HeadDefinition {
  const known = headParams(head);
  for (const [name, value] of Object.entries(values)) {
    if (!known.has(name)) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `the head has no parameter "${name}" (has: ${known.size ? [...known.keys()].join(', ') : 'none'})`,
      );
    }
    if (!Number.isFinite(value)) throw new HyperprotoError(ErrorCode.InvalidInput, `head parameter "${name}" was given ${value}`);
  }
  // Rebuilt children first, so that a sub-expression shared before is shared after.
  const rebuilt = new Map<HeadExpr, HeadExpr>();
  const rebuild = (expr: HeadExpr) =>
    foldHeadExpr<HeadExpr>(expr, (node, children) => {
      const done = rebuilt.get(node);
      if (done) return done;
      let next: HeadExpr;
      if (node.op === 'param') next = Object.hasOwn(values, node.name) ? { ...node, value: values[node.name]! } : node;
      else {
        const fields = headOpFields(node.op).children;
        next = children.every((child, k) => child === (node as unknown as Record<string, HeadExpr>)[fields[k]!])
          ? node
          : ({ ...node, ...Object.fromEntries(fields.map((field, k) => [field, children[k]])) } as HeadExpr);
      }
      rebuilt.set(node, next);
      return next;
    });
  return { ...head, loss: rebuild(head.loss), scores: rebuild(head.scores) };
}

/**
 * Where a head's parameters sit among the weights an engine trains, snapshots and hands back, and among an ONNX
 * graph's initializers: `head/param/<name>`, a scalar (shape []).
 */
export const HEAD_PARAM_WEIGHT_PREFIX = 'head/param/';

/** The head's parameters as named scalar weights, at their own values or at `values` where given. */
export function headParamWeights(
  head: Pick<HeadDefinition, 'loss' | 'scores'>,
  values: Readonly<Record<string, number>> = {},
): NamedWeight[] {
  return [...headParams(head)].map(([name, value]) => ({
    name: `${HEAD_PARAM_WEIGHT_PREFIX}${name}`,
    shape: [],
    data: Float32Array.of(Object.hasOwn(values, name) ? values[name]! : value),
  }));
}

/** The parameter values among `weights` (those named `head/param/<name>`), by parameter name. */
export function headParamsFromWeights(weights: readonly NamedWeight[]): Record<string, number> {
  const values: Record<string, number> = {};
  for (const weight of weights) {
    if (weight.name.startsWith(HEAD_PARAM_WEIGHT_PREFIX)) values[weight.name.slice(HEAD_PARAM_WEIGHT_PREFIX.length)] = weight.data[0]!;
  }
  return values;
}
