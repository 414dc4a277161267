import { ErrorCode, foldHeadExpr, HEAD_SQUARED_NORM_FLOOR, HyperprotoError, type HeadExpr } from '@hyperproto/core';
import type { TfjsRuntime } from '@hyperproto/tfjs-backend';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
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
}

/** A node's tensor, and whether gradients can flow from it back to `output` (constants and labels never need them). */
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
        varying: node.op === 'output' || children.some((child) => child.varying),
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
    case 'add':
      return tf.add(a!, b!);
    case 'sub':
      return tf.sub(a!, b!);
    case 'mul':
      return tf.mul(a!, b!);
    case 'neg':
      return tf.neg(a!);
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
      const indices = asInt32(tf, b!);
      if (!children[0]!.varying) return tf.gather(a!, indices, 0);
      // gather's gradient needs UnsortedSegmentSum, which the wasm backend lacks; a one-hot product is differentiable.
      // (oneHot is made as int32 and cast: the wasm kernel ignores a float32 dtype argument.)
      return tf.matMul(tf.cast(tf.oneHot(indices, a!.shape[0]!), 'float32'), a! as Tensor2D);
    }
    case 'pickPerRow': {
      const [rows, cols] = a!.shape as [number, number];
      const indices = asInt32(tf, b!);
      if (!children[0]!.varying) {
        const flat = tf.add(tf.mul(tf.range(0, rows, 1, 'int32'), tf.scalar(cols, 'int32')), indices);
        return tf.gather(tf.reshape(a!, [rows * cols]), flat);
      }
      // A select, not a one-hot product, so that -Infinity elsewhere in the row cannot turn into NaN.
      const picked = tf.cast(tf.oneHot(indices, cols), 'bool');
      return tf.sum(tf.where(picked, a!, tf.zerosLike(a!)), -1);
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

function asInt32(tf: Tf, tensor: Tensor): Tensor {
  return tensor.dtype === 'int32' ? tensor : tf.cast(tensor, 'int32');
}
