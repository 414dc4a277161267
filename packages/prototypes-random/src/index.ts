import { definePrototypeStrategy, prototypeMatrixProblem, z } from '@hyperproto/core';
import { checkPrototypeRequest, drawGaussianUnitRows } from '@hyperproto/prototype-steps';

const optionsSchema = z.object({}).strict();

/** The random strategy takes no options. */
export type RandomPrototypeOptions = z.output<typeof optionsSchema>;

/** Directions drawn uniformly on the sphere: the seed's baseline, costs almost nothing at any size. */
export const randomPrototypes = definePrototypeStrategy({
  name: 'random',
  summary: 'Random unit vectors: rows drawn from N(0, I) and normalised (no optimisation)',
  options: optionsSchema,
  // Refused with its size before allocating: a C x D float32 matrix is all it needs.
  unsupported: (request) => prototypeMatrixProblem(request),
  generate(ctx, request) {
    checkPrototypeRequest(request, 'prototypes:random');
    return drawGaussianUnitRows(ctx.rng, request.classes, request.dims);
  },
});

export default randomPrototypes;
