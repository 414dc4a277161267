import type { Matrix, PluginContext, PrototypeRequest } from '@hyperproto/core';
import { drawGaussianUnitRows, reportInterval, reportLargestCosine, throwIfAborted, toUnitRows } from '@hyperproto/prototype-steps';
import { initTfjs } from '@hyperproto/tfjs-backend';
import type * as tfjs from '@tensorflow/tfjs';
import { largestCosinePerRow, selfSimilarityMask } from './largest-cosine.js';

export interface RenormalizationSettings {
  readonly steps: number;
  readonly learningRate: number;
  readonly momentum: number;
}

const SOURCE = 'prototypes:tammes';

/**
 * Mettes et al. (2019): from normalised N(0, I) draws, minimise the mean over rows of the largest cosine to
 * another row by SGD with momentum, projecting the rows back onto the sphere after every step.
 */
export async function optimizeWithRenormalization(
  ctx: PluginContext,
  { classes, dims }: PrototypeRequest,
  { steps, learningRate, momentum }: RenormalizationSettings,
): Promise<Matrix> {
  const start = drawGaussianUnitRows(ctx.rng, classes, dims);
  throwIfAborted(ctx, 0, steps);
  const { tf } = await initTfjs();
  const prototypes = tf.tidy(() => tf.variable(tf.tensor2d(start.data, [classes, dims]), true));
  const mask = selfSimilarityMask(tf, classes);
  // Momentum by hand (v <- momentum v + g; p <- p - learningRate v, as torch.optim.SGD): tfjs's momentum
  // optimizer leaks its learning-rate scalar on dispose. The published script rebuilds its optimizer every epoch,
  // so its momentum never accumulates; `momentum: 0` reproduces that exactly.
  const velocity = tf.tidy(() => tf.variable(tf.zerosLike(prototypes), false));
  const every = reportInterval(steps);
  try {
    for (let step = 0; step < steps; step++) {
      throwIfAborted(ctx, step, steps);
      let largest: tfjs.Scalar | undefined;
      const { value, grads } = tf.variableGrads(() => {
        // The rows are unit here (renormalised after every step), so P P^T holds the cosines.
        const rowLargest = largestCosinePerRow(tf, prototypes, mask);
        if (step % every === 0) largest = tf.keep(tf.max(rowLargest) as tfjs.Scalar);
        return tf.mean(rowLargest) as tfjs.Scalar;
      }, [prototypes]);
      tf.tidy(() => {
        const nextVelocity = tf.add(tf.mul(velocity, momentum), grads[prototypes.name]!);
        velocity.assign(nextVelocity as tfjs.Tensor2D);
        const moved = tf.sub(prototypes, tf.mul(nextVelocity, learningRate));
        prototypes.assign(tf.div(moved, tf.norm(moved, 'euclidean', 1, true)) as tfjs.Tensor2D);
      });
      value.dispose();
      tf.dispose(grads);
      if (largest) await report(ctx, largest, step, steps);
    }
    const final = tf.tidy(() => tf.max(largestCosinePerRow(tf, prototypes, mask)) as tfjs.Scalar);
    await report(ctx, final, steps, steps);
    return toUnitRows(await prototypes.data<'float32'>(), classes, dims, SOURCE);
  } finally {
    velocity.dispose();
    mask.dispose();
    prototypes.dispose();
  }
}

/** Reads the scalar back (a sync), then reports it. */
async function report(ctx: PluginContext, largest: tfjs.Scalar, done: number, steps: number): Promise<void> {
  const value = (await largest.data())[0]!;
  largest.dispose();
  await reportLargestCosine(ctx, SOURCE, value, done, steps);
}
