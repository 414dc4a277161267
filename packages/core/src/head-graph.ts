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
  /** Rows scaled to unit L2 norm (norm floored at 1e-12). */
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

/** Every operation name, for engines that check their coverage. */
export const HEAD_OPS: readonly HeadOp[] = [
  'output', 'labels', 'constant', 'scalar', 'add', 'sub', 'mul', 'neg', 'pow', 'matmulTransposed',
  'l2normalize', 'softmax', 'logSoftmax', 'gatherRows', 'pickPerRow', 'rowSum', 'mean',
];

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
  switch (expr.op) {
    case 'constant':
      into.add(expr.name);
      break;
    case 'output':
    case 'labels':
    case 'scalar':
      break;
    case 'add':
    case 'sub':
    case 'mul':
    case 'matmulTransposed':
      constantsUsed(expr.a, into);
      constantsUsed(expr.b, into);
      break;
    case 'gatherRows':
    case 'pickPerRow':
      constantsUsed(expr.x, into);
      constantsUsed(expr.indices, into);
      break;
    default:
      constantsUsed(expr.x, into);
  }
  return into;
}
