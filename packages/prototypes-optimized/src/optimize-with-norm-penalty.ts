import type { Matrix, PluginContext, PrototypeRequest } from '@hyperproto/core';
import { descendLargestCosine, drawGaussianRows, throwIfAborted, toUnitRows, unitRowsAndNorms } from '@hyperproto/prototype-steps';

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
  request: PrototypeRequest,
  { steps, learningRate }: NormPenaltySettings,
): Promise<Matrix> {
  const { classes, dims } = request;
  const rows = drawGaussianRows(ctx.rng, classes, dims);
  throwIfAborted(ctx, 0, steps);
  const adam = new Adam(rows.length, learningRate);
  // Overwritten every step instead of reallocated: the scan copies the unit rows, and the gradient is used up by
  // the Adam step before the next one.
  let current: { unit: Matrix; norms: Float64Array } | undefined;
  let norms: Float64Array = new Float64Array(classes);
  const gradient = new Float64Array(rows.length);
  await descendLargestCosine(ctx, SOURCE, request, steps, {
    unitRows() {
      current = unitRowsAndNorms(rows, classes, dims, SOURCE, current);
      norms = current.norms;
      return current.unit.data;
    },
    step(unitGradient) {
      adam.step(rows, normPenaltyGradient(rows, norms, unitGradient, classes, dims, gradient));
    },
  });
  return toUnitRows(rows, classes, dims, SOURCE);
}

/**
 * The loss's gradient with respect to the raw rows p_i = n_i u_i, given its gradient g_i with respect to the unit
 * rows: (g_i - (u_i . g_i) u_i) / n_i through the normalisation, plus sign(n_i - 1) u_i / C from the norm penalty.
 * Written into `into` when given.
 */
export function normPenaltyGradient(
  rows: Float32Array,
  norms: Float64Array,
  unitGradient: Float64Array,
  classes: number,
  dims: number,
  into?: Float64Array,
): Float64Array {
  const gradient = into ?? new Float64Array(classes * dims);
  // u_i in double precision (not the float32 unit rows), divided once and used by both loops.
  const unitRow = new Float64Array(dims);
  for (let i = 0; i < classes; i++) {
    const start = i * dims;
    const norm = norms[i]!;
    let along = 0;
    for (let k = 0; k < dims; k++) {
      unitRow[k] = rows[start + k]! / norm;
      along += unitRow[k]! * unitGradient[start + k]!;
    }
    const penalty = Math.sign(norm - 1) / classes;
    for (let k = 0; k < dims; k++) {
      const unit = unitRow[k]!;
      gradient[start + k] = (unitGradient[start + k]! - along * unit) / norm + penalty * unit;
    }
  }
  return gradient;
}

/** Adam with the TensorFlow.js defaults (beta1 0.9, beta2 0.999, epsilon 1e-7), state in float32 like the rows. */
class Adam {
  private readonly firstMoment: Float32Array;
  private readonly secondMoment: Float32Array;
  private beta1Power = 1;
  private beta2Power = 1;

  constructor(
    size: number,
    private readonly learningRate: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-7,
  ) {
    this.firstMoment = new Float32Array(size);
    this.secondMoment = new Float32Array(size);
  }

  step(values: Float32Array, gradient: Float64Array): void {
    const { beta1, beta2, epsilon, learningRate, firstMoment, secondMoment } = this;
    this.beta1Power *= beta1;
    this.beta2Power *= beta2;
    const firstCorrection = 1 - this.beta1Power;
    const secondCorrection = 1 - this.beta2Power;
    for (let k = 0; k < values.length; k++) {
      const g = gradient[k]!;
      const m = (firstMoment[k] = beta1 * firstMoment[k]! + (1 - beta1) * g);
      const v = (secondMoment[k] = beta2 * secondMoment[k]! + (1 - beta2) * g * g);
      values[k] = values[k]! - (learningRate * (m / firstCorrection)) / (Math.sqrt(v / secondCorrection) + epsilon);
    }
  }
}
