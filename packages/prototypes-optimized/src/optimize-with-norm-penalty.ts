import type { Matrix, PluginContext, PrototypeRequest } from '@hyperproto/core';
import { drawGaussianRows, reportInterval, reportLargestCosine, throwIfAborted, toUnitRows } from '@hyperproto/prototype-steps';
import { initTfjs } from '@hyperproto/tfjs-backend';
import type * as tfjs from '@tensorflow/tfjs';
import { largestCosinePerRow, selfSimilarityMask } from './largest-cosine.js';

export interface NormPenaltySettings {
  readonly steps: number;
  readonly learningRate: number;
}

const SOURCE = 'prototypes:optimized';

/**
 * The seed's variant: minimise the mean over rows of the largest cosine to another row, plus the mean deviation
 * of each row's norm from 1, with Adam and without renormalising between steps. Rows are normalised on return.
 */
export async function optimizeWithNormPenalty(
  ctx: PluginContext,
  { classes, dims }: PrototypeRequest,
  { steps, learningRate }: NormPenaltySettings,
): Promise<Matrix> {
  const start = drawGaussianRows(ctx.rng, classes, dims);
  throwIfAborted(ctx, 0, steps);
  const { tf } = await initTfjs();
  const prototypes = tf.tidy(() => tf.variable(tf.tensor2d(start, [classes, dims]), true));
  const mask = selfSimilarityMask(tf, classes);
  const optimizer = tf.train.adam(learningRate);
  const every = reportInterval(steps);
  try {
    for (let step = 0; step < steps; step++) {
      throwIfAborted(ctx, step, steps);
      let largest: tfjs.Scalar | undefined;
      optimizer.minimize(
        () => {
          const { unitRows, norms } = normalizedCopies(tf, prototypes);
          const rowLargest = largestCosinePerRow(tf, unitRows, mask);
          if (step % every === 0) largest = tf.keep(tf.max(rowLargest) as tfjs.Scalar);
          const normPenalty = tf.mean(tf.abs(tf.sub(norms, 1)));
          return tf.add(tf.mean(rowLargest), normPenalty) as tfjs.Scalar;
        },
        false,
        [prototypes],
      );
      if (largest) await report(ctx, largest, step, steps);
    }
    const final = tf.tidy(() => tf.max(largestCosinePerRow(tf, normalizedCopies(tf, prototypes).unitRows, mask)) as tfjs.Scalar);
    await report(ctx, final, steps, steps);
    return toUnitRows(await prototypes.data<'float32'>(), classes, dims, SOURCE);
  } finally {
    optimizer.dispose();
    mask.dispose();
    prototypes.dispose();
  }
}

/** Unit-length copies of the rows and the rows' norms [C]; the norm is floored so a zero row gives no NaN. */
function normalizedCopies(tf: typeof tfjs, rows: tfjs.Variable): { unitRows: tfjs.Tensor2D; norms: tfjs.Tensor1D } {
  const norms = tf.sqrt(tf.maximum(tf.sum(tf.square(rows), 1), 1e-24)) as tfjs.Tensor1D;
  return { unitRows: tf.div(rows, tf.expandDims(norms, 1)) as tfjs.Tensor2D, norms };
}

/** Reads the scalar back (a sync), then reports it. */
async function report(ctx: PluginContext, largest: tfjs.Scalar, done: number, steps: number): Promise<void> {
  const value = (await largest.data())[0]!;
  largest.dispose();
  await reportLargestCosine(ctx, SOURCE, value, done, steps);
}
