import { ErrorCode, HyperprotoError } from './errors.js';
import type { Matrix } from './matrix.js';
import type { HeadParamInit, HeadParamStart, HeadParamValues } from './head-params.js';

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
   * A trainable tensor of `shape` (absent: a scalar) that an engine learns with the network. It starts at `value`
   * in every element, or at values drawn by `init` from the run's seeded generator (see `initialHeadParamWeights`);
   * exactly one of the two. A trained head carries the trained values beside its expressions
   * (`HeadDefinition.params`, see `bindHeadParams`); where none are bound, a parameter with a `value` is that
   * constant. Parameters with the same name are one parameter.
   */
  | {
      readonly op: 'param';
      readonly name: string;
      readonly shape?: readonly number[];
      readonly value?: number;
      readonly init?: HeadParamInit;
    }
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
  /**
   * The rows of x [C, K] (or the elements of x [C]) at the classes a training step samples (sampled softmax,
   * Partial FC): [S, K] (or [S]). Where no sample is drawn (inference, export, validation, a share of 1) it is x
   * itself, all classes. The sample holds the batch's labels first, then a seeded share of the other classes.
   */
  | { readonly op: 'sampledRows'; readonly x: HeadExpr }
  /** Each row's label as its position among the sampled classes [N] (int); the labels themselves where none are sampled. */
  | { readonly op: 'sampledLabels' }
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
type FieldOf<Op extends HeadOp, T> = {
  [K in keyof Variant<Op>]-?: NonNullable<Variant<Op>[K]> extends T ? K : never;
}[keyof Variant<Op>] &
  string;
/** Fields a node of `Op` may leave out. */
type OptionalFieldOf<Op extends HeadOp> = { [K in keyof Variant<Op>]-?: undefined extends Variant<Op>[K] ? K : never }[keyof Variant<Op>] &
  string;

/**
 * One operation's fields: its sub-expressions (in evaluation order), its number, string and integer-list fields,
 * which of them a node may leave out, and the shape of its result in terms of its children's (N rows, K columns;
 * `...` any leading axes).
 */
export interface HeadOpFields<Op extends HeadOp = HeadOp> {
  readonly children: readonly FieldOf<Op, HeadExpr>[];
  readonly numbers: readonly Exclude<FieldOf<Op, number>, FieldOf<Op, HeadExpr>>[];
  readonly strings: readonly Exclude<FieldOf<Op, string>, 'op'>[];
  /** Lists of non-negative integers (a parameter's shape). */
  readonly lists: readonly FieldOf<Op, readonly number[]>[];
  readonly optional: readonly OptionalFieldOf<Op>[];
  readonly shape: string;
}

/**
 * The operation table: the one place that says which fields each operation has. Every walk over an expression
 * (constantsUsed, the reference interpreter, the engines' evaluators, the ONNX lowering, JSON parsing) reads its
 * children from here rather than from a switch of its own.
 */
export const HEAD_OP_TABLE: { readonly [Op in HeadOp]: HeadOpFields<Op> } = {
  output: { children: [], numbers: [], strings: [], lists: [], optional: [], shape: '[N, U], the network output' },
  labels: { children: [], numbers: [], strings: [], lists: [], optional: [], shape: '[N], int class indices' },
  constant: { children: [], numbers: [], strings: ['name'], lists: [], optional: [], shape: '[R, K], the named matrix' },
  scalar: { children: [], numbers: ['value'], strings: [], lists: [], optional: [], shape: '[]' },
  param: {
    children: [],
    numbers: ['value'],
    strings: ['name', 'init'],
    lists: ['shape'],
    optional: ['shape', 'value', 'init'],
    shape: 'its `shape`; [] when absent',
  },
  add: { children: ['a', 'b'], numbers: [], strings: [], lists: [], optional: [], shape: 'a and b broadcast' },
  sub: { children: ['a', 'b'], numbers: [], strings: [], lists: [], optional: [], shape: 'a and b broadcast' },
  mul: { children: ['a', 'b'], numbers: [], strings: [], lists: [], optional: [], shape: 'a and b broadcast' },
  div: { children: ['a', 'b'], numbers: [], strings: [], lists: [], optional: [], shape: 'a and b broadcast' },
  neg: { children: ['x'], numbers: [], strings: [], lists: [], optional: [], shape: 'that of x' },
  exp: { children: ['x'], numbers: [], strings: [], lists: [], optional: [], shape: 'that of x' },
  log: { children: ['x'], numbers: [], strings: [], lists: [], optional: [], shape: 'that of x' },
  pow: { children: ['x'], numbers: ['exponent'], strings: [], lists: [], optional: [], shape: 'that of x' },
  matmulTransposed: { children: ['a', 'b'], numbers: [], strings: [], lists: [], optional: [], shape: 'a [N, K], b [M, K] -> [N, M]' },
  l2normalize: { children: ['x'], numbers: [], strings: [], lists: [], optional: [], shape: 'that of x [..., K], not a scalar' },
  softmax: { children: ['x'], numbers: [], strings: [], lists: [], optional: [], shape: 'that of x [..., K], not a scalar' },
  logSoftmax: { children: ['x'], numbers: [], strings: [], lists: [], optional: [], shape: 'that of x [..., K], not a scalar' },
  gatherRows: { children: ['x', 'indices'], numbers: [], strings: [], lists: [], optional: [], shape: 'x [R, K], indices [N] -> [N, K]' },
  sampledRows: { children: ['x'], numbers: [], strings: [], lists: [], optional: [], shape: 'x [C, K] -> [S, K], x [C] -> [S]' },
  sampledLabels: { children: [], numbers: [], strings: [], lists: [], optional: [], shape: '[N], int positions among the sampled classes' },
  pickPerRow: { children: ['x', 'indices'], numbers: [], strings: [], lists: [], optional: [], shape: 'x [N, K], indices [N] -> [N]' },
  oneHot: { children: ['indices'], numbers: ['depth'], strings: [], lists: [], optional: [], shape: 'indices [N] -> [N, depth]' },
  rowSum: { children: ['x'], numbers: [], strings: [], lists: [], optional: [], shape: 'x [..., K] -> [...]' },
  mean: { children: ['x'], numbers: [], strings: [], lists: [], optional: [], shape: '[]' },
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
  /**
   * A trainable parameter: a scalar that starts at `start`, or a tensor of `start.shape` that starts at
   * `start.value` in every element or at values drawn by `start.init` (e.g. a classifier [C, D], 'glorotUniform').
   */
  param: (name: string, start: number | HeadParamStart): HeadExpr =>
    typeof start === 'number' ? { op: 'param', name, value: start } : { op: 'param', name, ...start, shape: [...start.shape] },
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
  sampledRows: (x: HeadExpr): HeadExpr => ({ op: 'sampledRows', x }),
  sampledLabels: (): HeadExpr => ({ op: 'sampledLabels' }),
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
  /**
   * Values of the trainable parameters by name, row-major (`bindHeadParams` puts them here): a trained model's
   * head carries its trained parameters. A parameter not here is at its starting `value`; one drawn by `init` has
   * values only once bound.
   */
  readonly params?: HeadParamValues;
  /**
   * The share of the classes a training step's loss sees where it uses `sampledRows` and `sampledLabels`, in
   * (0, 1]: the batch's labels plus a seeded uniform sample of the others (see `sampledClassCount`). Absent or 1:
   * every class, no sampling.
   */
  readonly sampledShare?: number;
}

/** Names of the constants an expression refers to. */
export function constantsUsed(expr: HeadExpr, into: Set<string> = new Set()): Set<string> {
  foldHeadExpr(expr, (node) => {
    if (node.op === 'constant') into.add(node.name);
  });
  return into;
}

/**
 * The constant `name` of `constants`, or undefined when it has none of that name: its own fields only, so that
 * `h.constant('constructor')` on a head without one is missing rather than Object's function.
 */
export function headConstant<T>(constants: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(constants, name) ? constants[name] : undefined;
}

/**
 * How a message names a constant an expression uses that `constants` lacks, with the names it has: one wording for
 * the run's check of a built head, the reference evaluator and the ONNX lowering.
 */
export function missingConstantText(name: string, constants: Readonly<Record<string, unknown>>): string {
  const known = Object.keys(constants);
  return `constant "${name}", which the head does not provide (has: ${known.length ? known.join(', ') : 'none'})`;
}
