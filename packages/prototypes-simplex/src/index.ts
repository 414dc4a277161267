import { definePrototypeStrategy, prototypeMatrixProblem, z, type PrototypeRequest, type PrototypeStrategy } from '@hyperproto/core';
import { regularSimplexRows, shuffleSignedAxes } from './regular-simplex.js';

const optionsSchema = z
  .object({
    /** Random signed permutation of the axes (exact); false keeps the Helmert coordinates in the first C - 1 axes. */
    rotate: z.boolean().default(true),
  })
  .strict();

export type SimplexPrototypeOptions = z.output<typeof optionsSchema>;

/** The vertices of a regular simplex span C - 1 dimensions. */
export function simplexSizeProblem({ classes, dims }: PrototypeRequest): string | undefined {
  if (Number.isInteger(classes) && Number.isInteger(dims) && classes >= 2 && dims >= Math.max(1, classes - 1))
    // The rows and their shuffled copy: two float32 matrices.
    return prototypeMatrixProblem({ classes, dims }, 8);
  return `a regular simplex with ${classes} vertices spans ${classes - 1} dimensions; needs integers classes >= 2 and dims >= max(1, classes - 1), got dims ${dims}`;
}

/** The regular simplex: the optimum for any C, reachable when D >= C - 1. */
export const simplexPrototypes: PrototypeStrategy<SimplexPrototypeOptions> = definePrototypeStrategy({
  name: 'simplex',
  summary:
    'Regular simplex: every pair at cosine -1/(C-1), the best possible for C prototypes (closed form, Helmert basis). Needs D >= C - 1',
  options: optionsSchema,
  unsupported: simplexSizeProblem,
  // The plugin boundary asks `unsupported` (simplexSizeProblem) before this runs.
  generate: (ctx, request, options) => {
    const simplex = regularSimplexRows(request.classes, request.dims);
    return options.rotate ? shuffleSignedAxes(simplex, ctx.rng) : simplex;
  },
});

export default simplexPrototypes;
