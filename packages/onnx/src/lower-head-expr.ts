import { ErrorCode, HyperprotoError, type HeadExpr, type Matrix } from '@hyperproto/core';
import type { Dim, GraphBuilder } from '@hyperproto/onnx-graph';

/** A value in the graph under construction, with its static shape (the batch is the symbolic dimension 'N'). */
export interface LoweredValue {
  readonly name: string;
  readonly shape: readonly Dim[];
}

export interface HeadLoweringInputs {
  /** The network's output [N, U]. */
  readonly output: LoweredValue;
  /** The head's constants; each one used becomes an initializer named `<constantPrefix><name>`. */
  readonly constants: Readonly<Record<string, Matrix>>;
  /** Initializer name prefix for constants; `head/constant/` by default, as in the saved model files. */
  readonly constantPrefix?: string;
}

export interface HeadLoweringOptions {
  /** Name of the value the whole expression produces (e.g. `probabilities`). */
  readonly resultName?: string;
  /** What is being lowered, for error messages (e.g. `the softmax head's scores`). */
  readonly what?: string;
}

/** Rows are scaled by 1 / max(norm, 1e-12), the same floor every engine uses, so a zero row stays finite. */
const SQUARED_NORM_FLOOR = 1e-24;

/**
 * Lowers a head expression to ONNX nodes, operation by operation, so that any head (a plugin's too) exports its
 * own tail. Shapes are tracked statically to refuse an expression that cannot be a valid graph before onnxruntime
 * sees it. A sub-expression object used twice is lowered once.
 */
export function lowerHeadExpr(graph: GraphBuilder, expr: HeadExpr, inputs: HeadLoweringInputs, options: HeadLoweringOptions = {}): LoweredValue {
  const what = options.what ?? 'the head expression';
  const prefix = inputs.constantPrefix ?? 'head/constant/';
  const lowered = new Map<HeadExpr, LoweredValue>();
  const constantNames = new Map<string, string>();

  const fail = (message: string): never => {
    throw new HyperprotoError(ErrorCode.InvalidInput, `${what} cannot be exported to ONNX: ${message}`);
  };

  const lower = (node: HeadExpr, resultName?: string): LoweredValue => {
    if (!resultName) {
      const seen = lowered.get(node);
      if (seen) return seen;
    }
    const value = lowerOne(node, resultName);
    if (!resultName) lowered.set(node, value);
    return value;
  };

  /** Adds a node; the one that finishes the whole expression gets the requested result name. */
  const emit = (opType: string, args: readonly string[], attributes: Parameters<GraphBuilder['node']>[2], resultName: string | undefined) =>
    graph.node(opType, args, attributes, resultName ? { outputs: [resultName] } : {});

  const constantValue = (name: string): LoweredValue => {
    const matrix = inputs.constants[name];
    if (!matrix) {
      const known = Object.keys(inputs.constants);
      return fail(`it uses constant "${name}", which the head does not provide (has: ${known.length ? known.join(', ') : 'none'})`);
    }
    if (matrix.data.length !== matrix.rows * matrix.cols) fail(`constant "${name}" has ${matrix.data.length} values for ${matrix.rows} x ${matrix.cols}`);
    let initializer = constantNames.get(name);
    if (!initializer) {
      initializer = graph.initializer(`${prefix}${name}`, matrix.data, [matrix.rows, matrix.cols]);
      constantNames.set(name, initializer);
    }
    return { name: initializer, shape: [matrix.rows, matrix.cols] };
  };

  const lowerOne = (node: HeadExpr, resultName: string | undefined): LoweredValue => {
    switch (node.op) {
      case 'output':
        return resultName ? { name: emit('Identity', [inputs.output.name], {}, resultName), shape: inputs.output.shape } : inputs.output;
      case 'constant': {
        const value = constantValue(node.name);
        return resultName ? { name: emit('Identity', [value.name], {}, resultName), shape: value.shape } : value;
      }
      case 'labels':
        return fail('it uses the true labels, which an exported model does not have (only a loss may use them)');
      case 'scalar': {
        if (!Number.isFinite(node.value)) fail(`scalar ${node.value} is not finite`);
        const scalar = graph.scalar(node.value);
        return resultName ? { name: emit('Identity', [scalar], {}, resultName), shape: [] } : { name: scalar, shape: [] };
      }
      case 'add':
      case 'sub':
      case 'mul': {
        const a = lower(node.a);
        const b = lower(node.b);
        const opType = node.op === 'add' ? 'Add' : node.op === 'sub' ? 'Sub' : 'Mul';
        return { name: emit(opType, [a.name, b.name], {}, resultName), shape: broadcastShapes(a.shape, b.shape, node.op, fail) };
      }
      case 'neg': {
        const x = lower(node.x);
        return { name: emit('Neg', [x.name], {}, resultName), shape: x.shape };
      }
      case 'pow': {
        const x = lower(node.x);
        if (!Number.isFinite(node.exponent)) fail(`pow with exponent ${node.exponent}`);
        // A square as a product is exact and avoids Pow's slower general path; engines square the same way.
        const name = node.exponent === 2 ? emit('Mul', [x.name, x.name], {}, resultName) : emit('Pow', [x.name, graph.scalar(node.exponent)], {}, resultName);
        return { name, shape: x.shape };
      }
      case 'matmulTransposed': {
        const a = lower(node.a);
        const b = lower(node.b);
        if (a.shape.length !== 2 || b.shape.length !== 2) fail(`matmulTransposed needs two matrices, got shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
        if (!sameDim(a.shape[1]!, b.shape[1]!)) fail(`matmulTransposed of [${a.shape.join(', ')}] and [${b.shape.join(', ')}]: inner sizes differ`);
        // Gemm with transB keeps a constant right-hand side in its stored layout; onnxruntime prepacks it once.
        return { name: emit('Gemm', [a.name, b.name], { transB: 1 }, resultName), shape: [a.shape[0]!, b.shape[0]!] };
      }
      case 'l2normalize': {
        const x = lower(node.x);
        if (x.shape.length === 0) fail('l2normalize of a scalar');
        const squaredNorm = graph.node('ReduceSum', [graph.node('Mul', [x.name, x.name]), graph.ints([-1])], { keepdims: 1 });
        const inverseNorm = graph.node('Reciprocal', [graph.node('Sqrt', [graph.node('Max', [squaredNorm, graph.scalar(SQUARED_NORM_FLOOR)])])]);
        return { name: emit('Mul', [x.name, inverseNorm], {}, resultName), shape: x.shape };
      }
      case 'softmax':
      case 'logSoftmax': {
        const x = lower(node.x);
        if (x.shape.length === 0) fail(`${node.op} of a scalar`);
        return { name: emit(node.op === 'softmax' ? 'Softmax' : 'LogSoftmax', [x.name], { axis: -1 }, resultName), shape: x.shape };
      }
      case 'gatherRows': {
        const x = lower(node.x);
        const indices = lower(node.indices);
        if (x.shape.length !== 2 || indices.shape.length !== 1) fail(`gatherRows needs a matrix and a vector of indices, got [${x.shape.join(', ')}] and [${indices.shape.join(', ')}]`);
        // Engines truncate float indices toward zero; Cast does the same.
        const index = graph.node('Cast', [indices.name], { to: 7 });
        return { name: emit('Gather', [x.name, index], { axis: 0 }, resultName), shape: [indices.shape[0]!, x.shape[1]!] };
      }
      case 'pickPerRow': {
        const x = lower(node.x);
        const indices = lower(node.indices);
        if (x.shape.length !== 2 || indices.shape.length !== 1) fail(`pickPerRow needs a matrix and a vector of indices, got [${x.shape.join(', ')}] and [${indices.shape.join(', ')}]`);
        const index = graph.node('Unsqueeze', [graph.node('Cast', [indices.name], { to: 7 }), graph.ints([1])]);
        const picked = graph.node('GatherElements', [x.name, index], { axis: 1 });
        return { name: emit('Squeeze', [picked, graph.ints([1])], {}, resultName), shape: [x.shape[0]!] };
      }
      case 'rowSum': {
        const x = lower(node.x);
        if (x.shape.length === 0) fail('rowSum of a scalar');
        return { name: emit('ReduceSum', [x.name, graph.ints([-1])], { keepdims: 0 }, resultName), shape: x.shape.slice(0, -1) };
      }
      case 'mean': {
        const x = lower(node.x);
        // ReduceMean without axes (opset 13-17) averages every element into a scalar.
        return { name: emit('ReduceMean', [x.name], { keepdims: 0 }, resultName), shape: [] };
      }
      default: {
        const op = (node as { op?: unknown }).op;
        return fail(`unknown head operation ${JSON.stringify(op)}; update @hyperproto/onnx`);
      }
    }
  };

  return lower(expr, options.resultName);
}

function sameDim(a: Dim, b: Dim): boolean {
  return a === b || typeof a === 'string' || typeof b === 'string';
}

/** NumPy broadcasting, which both TensorFlow.js and ONNX follow; a symbolic dimension may take any size. */
function broadcastShapes(a: readonly Dim[], b: readonly Dim[], op: string, fail: (message: string) => never): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else if (typeof x === 'string') out.push(y);
    else if (typeof y === 'string') out.push(x);
    else fail(`${op} of shapes [${a.join(', ')}] and [${b.join(', ')}], which do not broadcast`);
  }
  return out;
}
