import { ErrorCode, HyperprotoError } from './errors.js';
import type { Matrix } from './matrix.js';

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
  | { readonly op: 'add' | 'sub' | 'mul'; readonly a: HeadExpr; readonly b: HeadExpr }
  | { readonly op: 'neg'; readonly x: HeadExpr }
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

/** One operation's fields: its sub-expressions (in evaluation order), and its number and string fields. */
export interface HeadOpFields<Op extends HeadOp = HeadOp> {
  readonly children: readonly FieldOf<Op, HeadExpr>[];
  readonly numbers: readonly Exclude<FieldOf<Op, number>, FieldOf<Op, HeadExpr>>[];
  readonly strings: readonly Exclude<FieldOf<Op, string>, 'op'>[];
}

/**
 * The operation table: the one place that says which fields each operation has. Every walk over an expression
 * (constantsUsed, the reference interpreter, the engines' evaluators, the ONNX lowering, JSON parsing) reads its
 * children from here rather than from a switch of its own.
 */
export const HEAD_OP_TABLE: { readonly [Op in HeadOp]: HeadOpFields<Op> } = {
  output: { children: [], numbers: [], strings: [] },
  labels: { children: [], numbers: [], strings: [] },
  constant: { children: [], numbers: [], strings: ['name'] },
  scalar: { children: [], numbers: ['value'], strings: [] },
  add: { children: ['a', 'b'], numbers: [], strings: [] },
  sub: { children: ['a', 'b'], numbers: [], strings: [] },
  mul: { children: ['a', 'b'], numbers: [], strings: [] },
  neg: { children: ['x'], numbers: [], strings: [] },
  pow: { children: ['x'], numbers: ['exponent'], strings: [] },
  matmulTransposed: { children: ['a', 'b'], numbers: [], strings: [] },
  l2normalize: { children: ['x'], numbers: [], strings: [] },
  softmax: { children: ['x'], numbers: [], strings: [] },
  logSoftmax: { children: ['x'], numbers: [], strings: [] },
  gatherRows: { children: ['x', 'indices'], numbers: [], strings: [] },
  pickPerRow: { children: ['x', 'indices'], numbers: [], strings: [] },
  rowSum: { children: ['x'], numbers: [], strings: [] },
  mean: { children: ['x'], numbers: [], strings: [] },
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
  add: (a: HeadExpr, b: HeadExpr): HeadExpr => ({ op: 'add', a, b }),
  sub: (a: HeadExpr, b: HeadExpr): HeadExpr => ({ op: 'sub', a, b }),
  mul: (a: HeadExpr, b: HeadExpr): HeadExpr => ({ op: 'mul', a, b }),
  neg: (x: HeadExpr): HeadExpr => ({ op: 'neg', x }),
  pow: (x: HeadExpr, exponent: number): HeadExpr => ({ op: 'pow', x, exponent }),
  matmulTransposed: (a: HeadExpr, b: HeadExpr): HeadExpr => ({ op: 'matmulTransposed', a, b }),
  l2normalize: (x: HeadExpr): HeadExpr => ({ op: 'l2normalize', x }),
  softmax: (x: HeadExpr): HeadExpr => ({ op: 'softmax', x }),
  logSoftmax: (x: HeadExpr): HeadExpr => ({ op: 'logSoftmax', x }),
  gatherRows: (x: HeadExpr, indices: HeadExpr): HeadExpr => ({ op: 'gatherRows', x, indices }),
  pickPerRow: (x: HeadExpr, indices: HeadExpr): HeadExpr => ({ op: 'pickPerRow', x, indices }),
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
