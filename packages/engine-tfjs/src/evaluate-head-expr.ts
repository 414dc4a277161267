import { ErrorCode, HyperprotoError, type HeadExpr } from '@hyperproto/core';
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

/** Rows are scaled by 1 / max(norm, 1e-12): the floor on the squared norm, so that a zero row stays finite. */
const SQUARED_NORM_FLOOR = 1e-24;

/**
 * Evaluates a head expression with tfjs ops; differentiable with respect to `output`. Intermediate tensors are
 * released (the result is returned from a tidy), so it can run inside or outside gradient closures.
 */
export function evaluateHeadExpr(tf: Tf, expr: HeadExpr, inputs: HeadExprInputs): Tensor {
  return tf.tidy(() => evaluate(tf, expr, inputs));
}

function evaluate(tf: Tf, expr: HeadExpr, inputs: HeadExprInputs): Tensor {
  const sub = (child: HeadExpr) => evaluate(tf, child, inputs);
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
      return tf.add(sub(expr.a), sub(expr.b));
    case 'sub':
      return tf.sub(sub(expr.a), sub(expr.b));
    case 'mul':
      return tf.mul(sub(expr.a), sub(expr.b));
    case 'neg':
      return tf.neg(sub(expr.x));
    case 'pow':
      // square has a plain gradient; the general pow kernel also works for negative bases with integer exponents.
      return expr.exponent === 2 ? tf.square(sub(expr.x)) : tf.pow(sub(expr.x), tf.scalar(expr.exponent));
    case 'matmulTransposed':
      // An explicit transpose: the wasm backend's matMul with a transpose flag is several times slower.
      return denseMatMul(tf, sub(expr.a) as Tensor2D, tf.transpose(sub(expr.b) as Tensor2D));
    case 'l2normalize': {
      const x = sub(expr.x);
      return tf.mul(x, tf.rsqrt(tf.maximum(tf.sum(tf.square(x), -1, true), SQUARED_NORM_FLOOR)));
    }
    case 'softmax':
      return tf.softmax(sub(expr.x), -1);
    case 'logSoftmax':
      return tf.logSoftmax(sub(expr.x), -1);
    case 'gatherRows': {
      const x = sub(expr.x);
      const indices = asInt32(tf, sub(expr.indices));
      if (!dependsOnOutput(expr.x)) return tf.gather(x, indices, 0);
      // gather's gradient needs UnsortedSegmentSum, which the wasm backend lacks; a one-hot product is differentiable.
      // (oneHot is made as int32 and cast: the wasm kernel ignores a float32 dtype argument.)
      return tf.matMul(tf.cast(tf.oneHot(indices, x.shape[0]!), 'float32'), x as Tensor2D);
    }
    case 'pickPerRow': {
      const x = sub(expr.x);
      const [rows, cols] = x.shape as [number, number];
      const indices = asInt32(tf, sub(expr.indices));
      if (!dependsOnOutput(expr.x)) {
        const flat = tf.add(tf.mul(tf.range(0, rows, 1, 'int32'), tf.scalar(cols, 'int32')), indices);
        return tf.gather(tf.reshape(x, [rows * cols]), flat);
      }
      // A select, not a one-hot product, so that -Infinity elsewhere in the row cannot turn into NaN.
      const picked = tf.cast(tf.oneHot(indices, cols), 'bool');
      return tf.sum(tf.where(picked, x, tf.zerosLike(x)), -1);
    }
    case 'rowSum':
      return tf.sum(sub(expr.x), -1);
    case 'mean':
      return tf.mean(sub(expr.x));
    default: {
      const op = (expr as { op?: unknown }).op;
      throw new HyperprotoError(ErrorCode.InvalidInput, `unknown head operation ${JSON.stringify(op)}`, {
        hint: 'The model or head was made by a newer hyperproto; update @hyperproto/engine-tfjs.',
      });
    }
  }
}

/** Whether gradients can flow from the expression back to `output` (constants and labels never need them). */
function dependsOnOutput(expr: HeadExpr): boolean {
  switch (expr.op) {
    case 'output':
      return true;
    case 'labels':
    case 'constant':
    case 'scalar':
      return false;
    case 'add':
    case 'sub':
    case 'mul':
    case 'matmulTransposed':
      return dependsOnOutput(expr.a) || dependsOnOutput(expr.b);
    case 'gatherRows':
    case 'pickPerRow':
      return dependsOnOutput(expr.x) || dependsOnOutput(expr.indices);
    default:
      return 'x' in expr ? dependsOnOutput(expr.x) : false;
  }
}

function asInt32(tf: Tf, tensor: Tensor): Tensor {
  return tensor.dtype === 'int32' ? tensor : tf.cast(tensor, 'int32');
}
