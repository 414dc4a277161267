import { createMatrix, type PluginContext, type PrototypeRequest } from '@hyperproto/core';
import { withScanner } from '@hyperproto/similarity-scan';
import { reportInterval, reportLargestCosine, throwIfAborted } from './step-loop.js';

/** One optimiser of the mean largest cosine: how it exposes its rows and how it moves them. */
export interface LargestCosineDescent {
  /**
   * The current rows scaled to unit length, [C * D] row-major: the cosines are taken between these. It may be the
   * same array every step; it is read only until the next step.
   */
  unitRows(): Float32Array;
  /**
   * Moves the rows one step, given the gradient of the loss mean_i max_{j != i} u_i . u_j with respect to the
   * unit rows u (see {@link meanLargestCosineGradient}). The gradient's array is reused: copy it to keep it.
   */
  step(gradient: Float64Array): void;
}

/**
 * Runs `steps` steps of a largest-cosine optimiser. Each step scans all pairs on onnxruntime for every row's
 * nearest other row (the C x C matrix is never held whole), then hands the loss's gradient to the optimiser: the
 * loss is piecewise linear in the rows, so its gradient needs only those nearest rows, O(C D) on top of the scan.
 */
export async function descendLargestCosine(
  ctx: PluginContext,
  source: string,
  { classes, dims }: PrototypeRequest,
  steps: number,
  descent: LargestCosineDescent,
): Promise<void> {
  const every = reportInterval(steps);
  // The scans run on the thread budget this call was handed.
  const budget = { threads: ctx.threads };
  // One gradient array for every step: a fresh one per step costs garbage collection.
  const gradient = new Float64Array(classes * dims);
  await withScanner(async (scanner) => {
    const scan = (data: Float32Array) => scanner.summarize(createMatrix(classes, dims, data), { signal: ctx.signal, source });
    for (let step = 0; step < steps; step++) {
      throwIfAborted(ctx, step, steps);
      const unit = descent.unitRows();
      const { largestCosine, nearestIndex } = await scan(unit);
      if (step % every === 0) await reportLargestCosine(ctx, source, largestCosine, step, steps);
      descent.step(meanLargestCosineGradient(unit, nearestIndex, classes, dims, gradient));
    }
    await reportLargestCosine(ctx, source, (await scan(descent.unitRows())).largestCosine, steps, steps);
  }, budget);
}

/**
 * Gradient of mean_i u_i . u_{n(i)} with respect to the rows u, for fixed nearest rows n(i): row i gets u_{n(i)} / C
 * and row n(i) gets u_i / C. This is the gradient of the mean largest cosine wherever each row's nearest row is
 * unique, and the subgradient automatic differentiation picks elsewhere. Written into `into` (cleared first) when
 * given.
 */
export function meanLargestCosineGradient(
  unit: Float32Array,
  nearestIndex: Int32Array,
  classes: number,
  dims: number,
  into?: Float64Array,
): Float64Array {
  const gradient = into ? into.fill(0) : new Float64Array(classes * dims);
  const scale = 1 / classes;
  for (let i = 0; i < classes; i++) {
    const j = nearestIndex[i]!;
    const rowI = i * dims;
    const rowJ = j * dims;
    for (let k = 0; k < dims; k++) {
      gradient[rowI + k] = gradient[rowI + k]! + scale * unit[rowJ + k]!;
      gradient[rowJ + k] = gradient[rowJ + k]! + scale * unit[rowI + k]!;
    }
  }
  return gradient;
}
