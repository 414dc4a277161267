import {
  constantsUsed,
  ErrorCode,
  foldHeadExpr,
  headConstant,
  HEAD_PARAM_WEIGHT_PREFIX,
  HEAD_SQUARED_NORM_FLOOR,
  type HeadDefinition,
  type HeadExpr,
  headParamValuesOf,
  headParams,
  headParamSpec,
  headParamWeights,
  HyperprotoError,
  isHyperprotoError,
  type Matrix,
  missingConstantText,
} from '@hyperproto/core';
import type { Dim } from './graph-builder.js';
import { broadcastShapes, type TracedGraph, type Value } from './traced-graph.js';

/** The values a head expression reads, as graph values. */
export interface HeadGraphValues {
  /** The network's output [N, U]. */
  readonly output: Value;
  /** True class indices [N] (int); only expressions that use `labels` need them (a loss, never exported scores). */
  readonly labels?: Value;
  /** The head's constants by name, e.g. from `headConstantValues`. */
  readonly constants: Readonly<Record<string, Value>>;
  /**
   * The head's parameters by name in their own shapes: values a training graph feeds and differentiates, or an
   * export's initializers (`headParamInitializers`). A parameter not given here is a constant at its starting
   * `value`, stored as the initializer `head/param/<name>`; one whose start is drawn must be given.
   */
  readonly params?: Readonly<Record<string, Value>>;
  /**
   * A training step's class sample (a training graph that samples classes): the sampled classes [S] and each
   * label's position among them [N], both int. Without one, `sampledRows(x)` is x (every class) and
   * `sampledLabels` the labels: what inference, validation and an export compute.
   */
  readonly sample?: {
    readonly classes: Value;
    readonly labels: Value;
    /**
     * A parameter's sampled rows made by the caller (a training graph that updates only those rows takes the
     * loss's gradient with respect to them), by parameter name: `sampledRows(param)` is that value.
     */
    readonly rows?: Readonly<Record<string, Value>>;
  };
}

export interface HeadLoweringOptions {
  /** Name of the value the whole expression produces (e.g. `probabilities`): its last node writes it directly. */
  readonly resultName?: string;
  /** What is being lowered, for error messages (e.g. `the softmax head's scores`). */
  readonly what?: string;
}

/** Where a head's constants are stored, as in the saved model files. */
export const HEAD_CONSTANT_INITIALIZER_PREFIX = 'head/constant/';
/** Where a head's parameters are stored when a graph holds them as constants (an export): named as among the weights. */
export const HEAD_PARAM_INITIALIZER_PREFIX = HEAD_PARAM_WEIGHT_PREFIX;

/** Per graph, the constants made for parameters by name: one initializer per parameter, however often it is used. */
const paramConstants = new WeakMap<TracedGraph, Map<string, Value>>();

/**
 * The one lowering of a head expression to ONNX nodes, used by the exporter and by the onnxruntime training engine
 * (which differentiates the nodes it records). Semantics and broadcasting are those of the float64 reference
 * interpreter in @hyperproto/core (`evaluateHeadExpr`); shapes are checked as nodes are made, so an expression that
 * cannot be a valid graph is refused, naming the operation, before onnxruntime sees it. A sub-expression object
 * used twice is lowered once. Each node is tagged with the head operation it came from (`g.source`), so that an
 * operator without a gradient rule is reported by that name.
 */
export function lowerHeadExpr(g: TracedGraph, expr: HeadExpr, values: HeadGraphValues, options: HeadLoweringOptions = {}): Value {
  const what = options.what ?? 'the head expression';
  const fail = (message: string): never => {
    throw cannotBuild(what, message);
  };
  const previous = g.source;
  const result = foldHeadExpr<Value>(expr, (node, children) => {
    g.source = `head operation "${node.op}"`;
    try {
      return lowerOne(g, node, children, values, fail);
    } finally {
      g.source = previous;
    }
  });
  return options.resultName ? g.nameResult(result, options.resultName) : result;
}

/** One operation, given its children's values in the order of the operation table (a, b or x, indices). */
function lowerOne(
  g: TracedGraph,
  node: HeadExpr,
  children: readonly Value[],
  values: HeadGraphValues,
  fail: (message: string) => never,
): Value {
  // Arithmetic is in the graph's float type, as the reference computes labels used as numbers; indices are ints.
  const float = (value: Value) => (value.type === g.floatType ? value : g.cast(value, g.floatType));
  const indices = (value: Value) => (value.type === 'int32' || value.type === 'int64' ? value : g.cast(value, 'int64'));
  const [a, b] = children.map((child, i) => (isIndexOperand(node, i) ? indices(child) : float(child)));
  const notScalar = (value: Value) => {
    if (value.shape.length === 0) fail(`${node.op} of a scalar`);
  };
  switch (node.op) {
    case 'output':
      return values.output;
    case 'labels':
      return (
        values.labels ?? fail('it uses the true labels, which are not given here (only a loss may use them; an exported model has none)')
      );
    case 'constant': {
      const value = headConstant(values.constants, node.name);
      if (!value) return fail(`it uses ${missingConstantText(node.name, values.constants)}`);
      return value;
    }
    case 'scalar':
      if (!Number.isFinite(node.value)) fail(`scalar ${node.value} is not finite`);
      return g.scalar(node.value);
    case 'param': {
      const spec = checked(() => headParamSpec(node), fail);
      const given = values.params?.[spec.name];
      if (given) {
        // A dynamic size fits any: a training graph may hold only some rows of a parameter (sampled ones).
        if (given.shape.length !== spec.shape.length || !given.shape.every((d, i) => sameSize(d, spec.shape[i]!)))
          fail(`head parameter "${spec.name}" is fed with shape ${show(given.shape)}; it has the shape ${show(spec.shape)}`);
        return float(given);
      }
      let made = paramConstants.get(g);
      if (!made) paramConstants.set(g, (made = new Map()));
      const known = made.get(spec.name);
      if (known) return known;
      const value = g.constant(
        `${HEAD_PARAM_INITIALIZER_PREFIX}${spec.name}`,
        checked(() => headParamValuesOf(spec), fail),
        spec.shape,
      );
      made.set(spec.name, value);
      return value;
    }
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
      if (!broadcastShapes(a!.shape, b!.shape))
        fail(`${node.op} of shapes ${show(a!.shape)} and ${show(b!.shape)}, which do not broadcast`);
      return { add: g.add, sub: g.sub, mul: g.mul, div: g.div }[node.op].call(g, a!, b!);
    case 'neg':
      return g.neg(a!);
    case 'exp':
      return g.exp(a!);
    case 'log':
      return g.log(a!);
    case 'pow':
      if (!Number.isFinite(node.exponent)) fail(`pow with exponent ${node.exponent}`);
      // A square as a product, as the other engines square: exact, cheaper than Pow and defined for negative bases.
      return node.exponent === 2 ? g.mul(a!, a!) : g.pow(a!, g.scalar(node.exponent));
    case 'matmulTransposed':
      if (a!.shape.length !== 2 || b!.shape.length !== 2)
        fail(`matmulTransposed needs two matrices, got shapes ${show(a!.shape)} and ${show(b!.shape)}`);
      if (!sameSize(a!.shape[1]!, b!.shape[1]!)) fail(`matmulTransposed of ${show(a!.shape)} and ${show(b!.shape)}: inner sizes differ`);
      // Gemm with transB keeps a constant right-hand side in its stored layout; onnxruntime prepacks it once.
      return g.gemm(a!, b!, { transB: true });
    case 'l2normalize': {
      notScalar(a!);
      const squaredNorm = g.max(g.reduceSum(g.mul(a!, a!), [-1], true), g.scalar(HEAD_SQUARED_NORM_FLOOR));
      return g.mul(a!, g.reciprocal(g.sqrt(squaredNorm)));
    }
    case 'softmax':
      notScalar(a!);
      return g.softmax(a!);
    case 'logSoftmax':
      notScalar(a!);
      return g.logSoftmax(a!);
    case 'gatherRows':
      if (a!.shape.length !== 2 || b!.shape.length !== 1)
        fail(`gatherRows needs a matrix and a vector of indices, got shapes ${show(a!.shape)} and ${show(b!.shape)}`);
      // Float indices are cast to int64, which truncates toward zero as the reference does.
      return g.gatherRows(a!, b!);
    case 'sampledRows': {
      if (a!.shape.length !== 1 && a!.shape.length !== 2) fail(`sampledRows needs a matrix or a vector, got shape ${show(a!.shape)}`);
      const sample = values.sample;
      if (!sample) return a!;
      const x = node.x;
      const made = x.op === 'param' ? sample.rows?.[x.name] : undefined;
      return made ? float(made) : g.gatherRows(a!, sample.classes);
    }
    case 'sampledLabels':
      return (
        values.sample?.labels ??
        values.labels ??
        fail('it uses the labels (sampledLabels), which are not given here (only a loss may use them; an exported model has none)')
      );
    case 'pickPerRow':
      if (a!.shape.length !== 2 || b!.shape.length !== 1 || !sameSize(a!.shape[0]!, b!.shape[0]!)) {
        fail(`pickPerRow needs a matrix [N, K] and N indices, got shapes ${show(a!.shape)} and ${show(b!.shape)}`);
      }
      // GatherElements, not a one-hot product: OneHot is slow in onnxruntime, and -Infinity elsewhere in the row
      // cannot turn into NaN.
      return g.squeeze(g.gatherElements(a!, g.unsqueeze(b!, [1]), 1), [1]);
    case 'oneHot': {
      if (!Number.isInteger(node.depth) || node.depth < 1)
        fail(`oneHot needs a positive integer depth (the number of classes), got ${node.depth}`);
      if (a!.shape.length !== 1) fail(`oneHot needs a vector of indices [N], got shape ${show(a!.shape)}`);
      // Equal against 0..depth-1, not ONNX OneHot (slow in onnxruntime). An index outside [0, depth) gives a row of
      // zeros here: the engines check labels against the class count before any graph sees them.
      const column = g.unsqueeze(a!.type === 'int64' ? a! : g.cast(a!, 'int64'), [1]);
      const classes = g.ints(Array.from({ length: node.depth }, (_, k) => k));
      return g.cast(g.equal(column, classes), g.floatType);
    }
    case 'rowSum':
      notScalar(a!);
      return g.reduceSum(a!, [-1], false);
    case 'mean':
      // ReduceMean without axes (opset 13-17) averages every element into a scalar.
      return g.reduceMean(a!, undefined, false);
    default: {
      // Unreachable: the operation table refuses unknown operations before their node is visited.
      const op = (node as { op?: unknown }).op;
      return fail(`unknown head operation ${JSON.stringify(op)}`);
    }
  }
}

/** The second operand of gatherRows and pickPerRow, and the only one of oneHot, holds row or column indices. */
function isIndexOperand(node: HeadExpr, position: number): boolean {
  return (position === 1 && (node.op === 'gatherRows' || node.op === 'pickPerRow')) || node.op === 'oneHot';
}

/**
 * The head's constants that `expressions` use, as float initializers named `head/constant/<name>` (in the
 * enclosing graph when `g` builds a Loop body). A constant an expression uses but the head lacks is refused.
 */
export function headConstantValues(
  g: TracedGraph,
  constants: Readonly<Record<string, Matrix>>,
  expressions: readonly HeadExpr[],
  what = 'the head expression',
): Record<string, Value> {
  const used = new Set<string>();
  for (const expr of expressions) constantsUsed(expr, used);
  const values: Record<string, Value> = {};
  for (const name of used) {
    const matrix = headConstant(constants, name);
    if (!matrix) throw cannotBuild(what, `it uses ${missingConstantText(name, constants)}`);
    if (matrix.data.length !== matrix.rows * matrix.cols)
      throw cannotBuild(what, `constant "${name}" has ${matrix.data.length} values for ${matrix.rows} x ${matrix.cols}`);
    values[name] = g.constant(`${HEAD_CONSTANT_INITIALIZER_PREFIX}${name}`, matrix.data, [matrix.rows, matrix.cols]);
  }
  return values;
}

/**
 * The head's parameters that `expressions` use, at the values the head carries (its trained ones once bound), as
 * float initializers named `head/param/<name>` in their own shapes: how an exported model stores them. A
 * parameter without values (a drawn start never trained) is refused.
 */
export function headParamInitializers(
  g: TracedGraph,
  head: Pick<HeadDefinition, 'loss' | 'scores' | 'params'>,
  expressions: readonly HeadExpr[],
  what = 'the head expression',
): Record<string, Value> {
  const used = new Set<string>();
  for (const expr of expressions) for (const name of headParams({ loss: expr, scores: expr }).keys()) used.add(name);
  const values: Record<string, Value> = {};
  for (const weight of checked(
    () => headParamWeights(head),
    (message) => cannotBuildFail(what, message),
  )) {
    const name = weight.name.slice(HEAD_PARAM_INITIALIZER_PREFIX.length);
    if (used.has(name)) values[name] = g.constant(weight.name, weight.data, weight.shape);
  }
  return values;
}

/** What `make` returns; a HyperprotoError it throws goes to `fail` with its message (and the enclosing context). */
function checked<T>(make: () => T, fail: (message: string) => never): T {
  try {
    return make();
  } catch (error) {
    if (isHyperprotoError(error)) return fail(error.message);
    throw error;
  }
}

function cannotBuildFail(what: string, message: string): never {
  throw cannotBuild(what, message);
}

function cannotBuild(what: string, message: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidInput, `${what} cannot be built as an ONNX graph: ${message}`);
}

/** Sizes that may be equal: the same number, or a dynamic size on either side. */
function sameSize(a: Dim, b: Dim): boolean {
  return a === b || typeof a === 'string' || typeof b === 'string';
}

const show = (shape: readonly Dim[]) => `[${shape.join(', ')}]`;
