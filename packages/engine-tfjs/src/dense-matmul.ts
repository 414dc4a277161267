import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from './evaluate-head-expr.js';

/**
 * x [N, K] times w [K, M] with a gradient that transposes explicitly: the wasm backend's matMul with a transpose
 * flag takes a slow path (about 5x slower than a transpose plus a plain matMul), and those flags are what the
 * built-in gradient uses. The values are the same either way.
 */
export function denseMatMul(tf: Tf, x: Tensor2D, w: Tensor2D): Tensor2D {
  return customDense(tf)(x, w) as Tensor2D;
}

const customDenseByTf = new WeakMap<Tf, (x: Tensor2D, w: Tensor2D) => Tensor>();
function customDense(tf: Tf): (x: Tensor2D, w: Tensor2D) => Tensor {
  let dense = customDenseByTf.get(tf);
  if (!dense) {
    dense = tf.customGrad((...args: unknown[]) => {
      const [x, w, save] = args as [Tensor, Tensor, (tensors: Tensor[]) => void];
      save([x, w]);
      return {
        value: tf.matMul(x as Tensor2D, w as Tensor2D),
        gradFunc: (dy: Tensor, saved: Tensor[]) => {
          const [savedX, savedW] = saved as [Tensor2D, Tensor2D];
          return [tf.matMul(dy as Tensor2D, tf.transpose(savedW)), tf.matMul(tf.transpose(savedX), dy as Tensor2D)];
        },
      };
    }) as unknown as (x: Tensor2D, w: Tensor2D) => Tensor;
    customDenseByTf.set(tf, dense);
  }
  return dense;
}
