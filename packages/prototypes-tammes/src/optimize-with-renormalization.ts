import type { Matrix, PluginContext, PrototypeRequest } from '@hyperproto/core';
import { descendLargestCosine, drawGaussianUnitRows, throwIfAborted, toUnitRows, unitRowsAndNorms } from '@hyperproto/prototype-steps';

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
  request: PrototypeRequest,
  { steps, learningRate, momentum }: RenormalizationSettings,
): Promise<Matrix> {
  const { classes, dims } = request;
  let rows = drawGaussianUnitRows(ctx.rng, classes, dims).data;
  throwIfAborted(ctx, 0, steps);
  // v <- momentum v + g; p <- p - learningRate v, as torch.optim.SGD. The published script rebuilds its optimizer
  // every epoch, so its momentum never accumulates; `momentum: 0` reproduces that exactly.
  const velocity = new Float32Array(rows.length);
  // Overwritten every step instead of reallocated: `moved` is filled from the rows before the renormalised rows
  // replace them in place, and the scan copies the rows it is given.
  const moved = new Float32Array(rows.length);
  let renormalized: { unit: Matrix; norms: Float64Array } | undefined;
  await descendLargestCosine(ctx, SOURCE, request, steps, {
    // The rows are unit here (renormalised after every step), so their dot products are the cosines.
    unitRows: () => rows,
    step(gradient) {
      for (let k = 0; k < rows.length; k++) {
        velocity[k] = momentum * velocity[k]! + gradient[k]!;
        // Reads the velocity back as stored, rounded to float32.
        moved[k] = rows[k]! - learningRate * velocity[k]!;
      }
      renormalized = unitRowsAndNorms(moved, classes, dims, SOURCE, renormalized);
      rows = renormalized.unit.data;
    },
  });
  return toUnitRows(rows, classes, dims, SOURCE);
}
