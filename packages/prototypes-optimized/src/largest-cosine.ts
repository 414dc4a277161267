import type * as tfjs from '@tensorflow/tfjs';

/** 2 I: subtracted from the similarity matrix so a row's own cosine (1 - 2 = -1) never wins its maximum. */
export function selfSimilarityMask(tf: typeof tfjs, classes: number): tfjs.Tensor2D {
  return tf.tidy(() => tf.mul(tf.eye(classes), 2));
}

/** For unit rows [C, D]: each row's largest cosine to any other row, [C]. */
export function largestCosinePerRow(tf: typeof tfjs, unitRows: tfjs.Tensor2D, mask: tfjs.Tensor2D): tfjs.Tensor1D {
  return tf.max(tf.sub(tf.matMul(unitRows, unitRows, false, true), mask), 1);
}
