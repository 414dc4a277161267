import {
  ErrorCode,
  foldHeadExpr,
  HEAD_PARAM_WEIGHT_PREFIX,
  HEAD_SQUARED_NORM_FLOOR,
  type HeadDefinition,
  type HeadExpr,
  headParamData,
  headParamSpec,
  headParamWeights,
  HyperprotoError,
} from '@hyperproto/core';
import type { TfjsRuntime } from '@hyperproto/tfjs-backend';
import type { GradSaveFunc, Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import { denseMatMul } from './dense-matmul.js';

/** The TensorFlow.js namespace, passed in so that every caller uses the one backend initTfjs started. */
export type Tf = TfjsRuntime['tf'];

export interface HeadExprInputs {
  /** The network's output [N, U]. */
  readonly output: Tensor2D;
  /** True class indices [N], int32; only expressions that use `labels` need them. */
  readonly labels?: Tensor1D;
  /** The head's constants by name (e.g. prototypes [C, D]). */
  readonly constants?: Readonly<Record<string, Tensor>>;
  /**
   * The head's parameters by name, as tensors in their own shapes (a trainer's variables, or a trained head's
   * values from `headParamTensors`), differentiable like `output`. A parameter not given is the constant of its
   * starting value; one whose start is drawn must be given.
   */
  readonly params?: Readonly<Record<string, Tensor>>;
  /**
   * A training step's class sample: the sampled classes [S] and each label's position among them [N], int32, and
   * the sampled rows of parameters a trainer updates row by row (`rows`, by parameter name). Without one,
   * `sampledRows(x)` is x (every class) and `sampledLabels` the labels.
   */
  readonly sample?: { readonly classes: Tensor1D; readonly labels: Tensor1D; readonly rows?: Readonly<Record<string, Tensor>> };
}

/**
 * The head's parameters as tensors at the values it carries (`headParamWeights`: bound, else the starting
 * values), by name: trainable variables for a trainer, plain tensors for inference. The caller disposes them.
 */
export function headParamTensors(
  tf: Tf,
  head: Pick<HeadDefinition, 'loss' | 'scores' | 'params'>,
  trainable = false,
): Record<string, Tensor> {
  const tensors: Record<string, Tensor> = {};
  for (const weight of headParamWeights(head)) {
    const name = weight.name.slice(HEAD_PARAM_WEIGHT_PREFIX.length);
    const tensor = tf.tensor(weight.data, [...weight.shape], 'float32');
    if (!trainable) tensors[name] = tensor;
    else {
      // Unnamed: tfjs variable names are global, and two trainings may run side by side.
      tensors[name] = tf.variable(tensor, true);
      tensor.dispose();
    }
  }
  return tensors;
}

/** The head's parameters as trainable variables at the values it carries, by name; the caller disposes them. */
export function headParamVariables(tf: Tf, head: Pick<HeadDefinition, 'loss' | 'scores' | 'params'>): Record<string, Variable> {
  return headParamTensors(tf, head, true) as Record<string, Variable>;
}

/** Copies of the current values of parameter tensors, by name. */
export async function readHeadParams(params: Readonly<Record<string, Tensor>>): Promise<Record<string, Float32Array>> {
  const entries = await Promise.all(
    Object.entries(params).map(async ([name, tensor]) => [name, new Float32Array(await tensor.data())] as const),
  );
  return Object.fromEntries(entries);
}

/** A node's tensor, and whether gradients can flow from it (to `output` or a parameter; constants and labels never need them). */
interface Evaluated {
  readonly tensor: Tensor;
  readonly varying: boolean;
}

/**
 * Evaluates a head expression with tfjs ops; differentiable with respect to `output`. The semantics (NumPy
 * broadcasting, the norm floor, index truncation) are those of the float64 reference interpreter in
 * @hyperproto/core; a test holds the two together. A sub-expression object used twice is evaluated once.
 * Intermediate tensors are released (the result is returned from a tidy), so it can run inside or outside
 * gradient closures.
 */
export function evaluateHeadExpr(tf: Tf, expr: HeadExpr, inputs: HeadExprInputs): Tensor {
  return tf.tidy(
    () =>
      foldHeadExpr<Evaluated>(expr, (node, children) => ({
        tensor: evaluateOne(tf, node, children, inputs),
        varying:
          node.op === 'output' ||
          (node.op === 'param' && inputs.params !== undefined && Object.hasOwn(inputs.params, node.name)) ||
          children.some((child) => child.varying),
      })).tensor,
  );
}

/** One operation, given its children in the order of the operation table (a, b or x, indices). */
function evaluateOne(tf: Tf, expr: HeadExpr, children: readonly Evaluated[], inputs: HeadExprInputs): Tensor {
  const [a, b] = children.map((child) => child.tensor);
  switch (expr.op) {
    case 'output':
      return inputs.output;
    case 'labels':
      if (!inputs.labels) throw new HyperprotoError(ErrorCode.InvalidInput, 'the head expression uses labels, but none were given');
      return inputs.labels;
    case 'constant': {
      const value = inputs.constants?.[expr.name];
      if (!value) {
        const known = Object.keys(inputs.constants ?? {});
        throw new HyperprotoError(
          ErrorCode.InvalidInput,
          `the head expression uses constant "${expr.name}", which the head does not provide (has: ${known.length ? known.join(', ') : 'none'})`,
        );
      }
      return value;
    }
    case 'scalar':
      return tf.scalar(expr.value);
    case 'param': {
      const spec = headParamSpec(expr);
      const given = inputs.params && Object.hasOwn(inputs.params, spec.name) ? inputs.params[spec.name] : undefined;
      if (given) {
        if (given.shape.join() !== spec.shape.join())
          invalid(
            `head parameter "${spec.name}" is given with shape [${given.shape.join(', ')}]; it has the shape [${spec.shape.join(', ')}]`,
          );
        return given;
      }
      return tf.tensor(headParamData(spec), [...spec.shape], 'float32');
    }
    case 'add':
      return tf.add(a!, b!);
    case 'sub':
      return tf.sub(a!, b!);
    case 'mul':
      return tf.mul(a!, b!);
    case 'div':
      return tf.div(a!, b!);
    case 'neg':
      return tf.neg(a!);
    case 'exp':
      return tf.exp(a!);
    case 'log':
      return tf.log(a!);
    case 'pow':
      // square has a plain gradient; the general pow kernel also works for negative bases with integer exponents.
      return expr.exponent === 2 ? tf.square(a!) : tf.pow(a!, tf.scalar(expr.exponent));
    case 'matmulTransposed':
      // An explicit transpose: the wasm backend's matMul with a transpose flag is several times slower.
      return denseMatMul(tf, a! as Tensor2D, tf.transpose(b! as Tensor2D));
    case 'l2normalize':
      return tf.mul(a!, tf.rsqrt(tf.maximum(tf.sum(tf.square(a!), -1, true), HEAD_SQUARED_NORM_FLOOR)));
    case 'softmax':
      return tf.softmax(a!, -1);
    case 'logSoftmax':
      return tf.logSoftmax(a!, -1);
    case 'gatherRows': {
      const indices = checkedIndices(tf, expr, b!, a!.shape[0]!);
      return children[0]!.varying ? gatherRowsDifferentiable(tf, a!, indices) : tf.gather(a!, indices, 0);
    }
    case 'sampledRows': {
      if (a!.rank !== 1 && a!.rank !== 2) invalid(`sampledRows needs a matrix or a vector, got shape [${a!.shape.join(', ')}]`);
      const sample = inputs.sample;
      if (!sample) return a!;
      const made = expr.x.op === 'param' ? sample.rows?.[expr.x.name] : undefined;
      if (made) return made;
      // The engine's sampler draws classes in [0, C), and the rows were checked to be the C classes before training.
      return children[0]!.varying ? gatherRowsDifferentiable(tf, a!, sample.classes) : tf.gather(a!, sample.classes, 0);
    }
    case 'sampledLabels': {
      const labels = inputs.sample?.labels ?? inputs.labels;
      if (!labels) invalid('the head expression uses sampledLabels, but no labels were given');
      return labels!;
    }
    case 'pickPerRow': {
      const [rows, cols] = a!.shape as [number, number];
      const indices = checkedIndices(tf, expr, b!, cols);
      if (!children[0]!.varying) {
        const flat = tf.add(tf.mul(tf.range(0, rows, 1, 'int32'), tf.scalar(cols, 'int32')), indices);
        return tf.gather(tf.reshape(a!, [rows * cols]), flat);
      }
      // A select, not a one-hot product, so that -Infinity elsewhere in the row cannot turn into NaN.
      const picked = tf.cast(tf.oneHot(indices, cols), 'bool');
      return tf.sum(tf.where(picked, a!, tf.zerosLike(a!)), -1);
    }
    case 'oneHot': {
      const { depth } = expr;
      if (!Number.isInteger(depth) || depth < 1) invalid(`oneHot needs a positive integer depth (the number of classes), got ${depth}`);
      if (a!.rank !== 1) invalid(`oneHot needs a vector of indices [N], got shape [${a!.shape.join(', ')}]`);
      // Made as int32 and cast: the wasm kernel ignores a float32 dtype argument.
      return tf.cast(tf.oneHot(checkedIndices(tf, expr, a!, depth), depth), 'float32');
    }
    case 'rowSum':
      return tf.sum(a!, -1);
    case 'mean':
      return tf.mean(a!);
    default: {
      // Unreachable: the operation table refuses unknown operations before their node is visited.
      const op = (expr as { op?: unknown }).op;
      throw new HyperprotoError(ErrorCode.InvalidInput, `unknown head operation ${JSON.stringify(op)}`);
    }
  }
}

/**
 * Rows of x gathered, with the gradient scattered back into x's shape (ScatterNd adds the rows of repeated
 * indices): tf.gather's own gradient needs UnsortedSegmentSum, which the wasm backend lacks, and a one-hot
 * product would cost rows x indices x width.
 */
function gatherRowsDifferentiable(tf: Tf, x: Tensor, indices: Tensor): Tensor {
  const gather = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [table, at, save] = args as [Tensor, Tensor, GradSaveFunc];
    save([at]);
    return {
      value: tf.gather(table, at, 0),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const rows = saved[0]!;
        return [tf.scatterND(tf.expandDims(rows, 1), dy as Tensor, table.shape), tf.zerosLike(rows)];
      },
    };
  });
  return gather(x, indices);
}

function invalid(message: string): never {
  throw new HyperprotoError(ErrorCode.InvalidInput, message);
}

/**
 * Indices as int32 (floats truncate toward zero, as the cast does), checked against [0, size): tfjs kernels would
 * read an index out of range as a row of zeros (oneHot) or garbage, so it is refused here as the reference
 * interpreter refuses it, a label named as one with the class count. Reading a batch's indices is a small copy.
 */
function checkedIndices(tf: Tf, node: Extract<HeadExpr, { indices: HeadExpr }>, tensor: Tensor, size: number): Tensor {
  const indices = tensor.dtype === 'int32' ? tensor : tf.cast(tensor, 'int32');
  const values = indices.dataSync();
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (value >= 0 && value < size) continue;
    invalid(
      node.indices.op === 'labels'
        ? `${node.op}: label ${value} is out of range for ${size} classes (labels run from 0 to ${size - 1})`
        : `${node.op} index ${value} is outside [0, ${size})`,
    );
  }
  return indices;
}
