import { definePrototypeStrategy, ErrorCode, HyperprotoError, z } from '@hyperproto/core';
import { drawGaussianUnitRows } from './gaussian-unit-rows.js';

const optionsSchema = z.object({}).strict();

/** The random strategy takes no options. */
export type RandomPrototypeOptions = z.output<typeof optionsSchema>;

/** Directions drawn uniformly on the sphere: the seed's baseline, costs almost nothing at any size. */
export const randomPrototypes = definePrototypeStrategy({
  name: 'random',
  summary: 'Random unit vectors: rows drawn from N(0, I) and normalised (no optimisation)',
  options: optionsSchema,
  generate(ctx, { classes, dims }) {
    if (!Number.isInteger(classes) || classes < 1 || !Number.isInteger(dims) || dims < 1) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `random prototypes need positive integer classes and dims, got ${classes} x ${dims}`);
    }
    return drawGaussianUnitRows(ctx.rng, classes, dims);
  },
});

export default randomPrototypes;
