import { definePrototypeStrategy, prototypeMatrixProblem, z, type PrototypeRequest, type PrototypeStrategy } from '@hyperproto/core';
import { axisRows, randomOrthonormalRows } from './random-orthonormal-rows.js';

const optionsSchema = z
  .object({
    /** A uniformly random rotation (O(C^2 D)); false gives the axes e_0 ... e_{C-1} themselves. */
    rotate: z.boolean().default(true),
  })
  .strict();

export type OrthogonalPrototypeOptions = z.output<typeof optionsSchema>;

/** C mutually orthogonal directions need C dimensions. */
const sizeProblem = ({ classes, dims }: PrototypeRequest): string | undefined =>
  Number.isInteger(classes) && Number.isInteger(dims) && classes >= 2 && dims >= classes
    ? // Gram-Schmidt runs on a float64 copy beside the float32 result: 12 bytes a value.
      prototypeMatrixProblem({ classes, dims }, 12)
    : `${classes} mutually orthogonal directions need integers classes >= 2 and dims >= classes (${classes}), got dims ${dims}`;

/** Exactly orthogonal unit rows: every pairwise cosine 0 up to float32 rounding. */
export const orthogonalPrototypes: PrototypeStrategy<OrthogonalPrototypeOptions> = definePrototypeStrategy({
  name: 'orthogonal',
  summary:
    'Exactly orthogonal unit rows (largest cosine 0): a random rotation of the first C axes, by QR of a Gaussian matrix. Needs D >= C',
  options: optionsSchema,
  unsupported: sizeProblem,
  // The plugin boundary asks `unsupported` (sizeProblem) before this runs.
  async generate(ctx, request, options) {
    return options.rotate
      ? randomOrthonormalRows(ctx.rng, request.classes, request.dims, ctx.signal)
      : axisRows(request.classes, request.dims);
  },
});

export default orthogonalPrototypes;
