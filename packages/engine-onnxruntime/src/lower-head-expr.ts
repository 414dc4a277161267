import { ErrorCode, HyperprotoError, type HeadExpr } from '@hyperproto/core';
import type { TracedGraph, Value } from './traced-graph.js';

export interface HeadValues {
  /** The network's output [N, U]. */
  readonly output: Value;
  /** True class indices [N] (int); only expressions that use `labels` need them. */
  readonly labels?: Value;
  /** The head's constants by name, as graph values. */
  readonly constants: Readonly<Record<string, Value>>;
}

/** Rows are scaled by 1 / max(norm, 1e-12), as in the tfjs engine: the floor is on the squared norm. */
const SQUARED_NORM_FLOOR = 1e-24;

/**
 * Emits a head expression as ONNX nodes (the same semantics as the tfjs engine's evaluateHeadExpr). Each node is
 * tagged with the head operation it came from, so an operator without a gradient rule is reported by that name.
 */
export function lowerHeadExpr(g: TracedGraph, expr: HeadExpr, values: HeadValues): Value {
  const children = lowerChildren(g, expr, values);
  const previous = g.source;
  g.source = `head operation "${expr.op}"`;
  try {
    return emit(g, expr, values, children);
  } finally {
    g.source = previous;
  }
}

function lowerChildren(g: TracedGraph, expr: HeadExpr, values: HeadValues): Value[] {
  switch (expr.op) {
    case 'output':
    case 'labels':
    case 'constant':
    case 'scalar':
      return [];
    case 'add':
    case 'sub':
    case 'mul':
    case 'matmulTransposed':
      return [lowerHeadExpr(g, expr.a, values), lowerHeadExpr(g, expr.b, values)];
    case 'gatherRows':
    case 'pickPerRow':
      return [lowerHeadExpr(g, expr.x, values), lowerHeadExpr(g, expr.indices, values)];
    default:
      if (!('x' in expr)) return [];
      return [lowerHeadExpr(g, expr.x, values)];
  }
}

function emit(g: TracedGraph, expr: HeadExpr, values: HeadValues, [a, b]: Value[]): Value {
  switch (expr.op) {
    case 'output':
      return values.output;
    case 'labels':
      if (!values.labels) throw new HyperprotoError(ErrorCode.InvalidInput, 'the head expression uses labels, but none were given');
      return values.labels;
    case 'constant': {
      const value = values.constants[expr.name];
      if (!value) {
        const known = Object.keys(values.constants);
        throw new HyperprotoError(
          ErrorCode.InvalidInput,
          `the head expression uses constant "${expr.name}", which the head does not provide (has: ${known.length ? known.join(', ') : 'none'})`,
        );
      }
      return value;
    }
    case 'scalar':
      return g.scalar(expr.value);
    case 'add':
      return g.add(a!, b!);
    case 'sub':
      return g.sub(a!, b!);
    case 'mul':
      return g.mul(a!, b!);
    case 'neg':
      return g.neg(a!);
    case 'pow':
      // A square as a product, as tfjs squares: cheaper than Pow and defined for negative bases.
      return expr.exponent === 2 ? g.mul(a!, a!) : g.pow(a!, g.scalar(expr.exponent));
    case 'matmulTransposed':
      return g.gemm(a!, b!, { transB: true });
    case 'l2normalize': {
      const squaredNorm = g.max(g.reduceSum(g.mul(a!, a!), [-1], true), g.scalar(SQUARED_NORM_FLOOR));
      return g.mul(a!, g.reciprocal(g.sqrt(squaredNorm)));
    }
    case 'softmax':
      return g.softmax(a!);
    case 'logSoftmax':
      return g.logSoftmax(a!);
    case 'gatherRows':
      return g.gatherRows(a!, asIndices(g, b!));
    case 'pickPerRow':
      // GatherElements, not a one-hot product: OneHot is slow in onnxruntime, and -Infinity elsewhere in the row
      // cannot turn into NaN.
      return g.squeeze(g.gatherElements(a!, g.unsqueeze(asIndices(g, b!), [1]), 1), [1]);
    case 'rowSum':
      return g.reduceSum(a!, [-1], false);
    case 'mean':
      return g.reduceMean(a!, undefined, false);
    default: {
      const op = (expr as { op?: unknown }).op;
      throw new HyperprotoError(ErrorCode.InvalidInput, `unknown head operation ${JSON.stringify(op)}`, {
        hint: 'The head was made by a newer hyperproto; update @hyperproto/engine-onnxruntime.',
      });
    }
  }
}

function asIndices(g: TracedGraph, value: Value): Value {
  return value.type === 'int32' || value.type === 'int64' ? value : g.cast(value, 'int64');
}
