import {
  createMatrix,
  definePrototypeStrategy,
  prototypeMatrixProblem,
  z,
  type Matrix,
  type PrototypeRequest,
  type PrototypeStrategy,
  type Rng,
} from '@hyperproto/core';

const optionsSchema = z
  .object({
    /** Axes taken in a random order with random signs (exact); false uses e_0, e_1, ... then -e_0, -e_1, ... */
    rotate: z.boolean().default(true),
  })
  .strict();

export type OrthoplexPrototypeOptions = z.output<typeof optionsSchema>;

/** The cross-polytope in D dimensions has 2 D vertices. */
function tooManyForAxes({ classes, dims }: PrototypeRequest): string | undefined {
  const fits = Number.isInteger(classes) && Number.isInteger(dims) && classes >= 2 && dims >= 1 && classes <= 2 * dims;
  return fits
    ? prototypeMatrixProblem({ classes, dims })
    : `the cross-polytope has 2 x dims vertices; needs integers classes >= 2 and dims >= classes / 2 (${Math.ceil(classes / 2)}), got dims ${dims}`;
}

/**
 * Vertices of the cross-polytope: +e_a for the first min(C, D) axes, then -e_a for the rest. Any two rows are
 * orthogonal or opposite, so the largest cosine is 0 (-1 for two classes in one dimension). The plugin boundary
 * asks `unsupported` (tooManyForAxes) before `generate` calls this.
 */
function crossPolytopeRows({ classes, dims }: PrototypeRequest, rng: Rng | undefined): Matrix {
  const axes = Array.from({ length: dims }, (_, a) => a);
  const signs = new Float32Array(dims).fill(1);
  if (rng) {
    rng.shuffle(axes);
    for (let a = 0; a < dims; a++) if (rng.float() < 0.5) signs[a] = -1;
  }
  const matrix = createMatrix(classes, dims);
  for (let i = 0; i < classes; i++) {
    const a = i % dims;
    matrix.data[i * dims + axes[a]!] = i < dims ? signs[a]! : -signs[a]!;
  }
  return matrix;
}

/** The cross-polytope (orthoplex): up to 2 D prototypes at largest cosine 0. */
export const orthoplexPrototypes: PrototypeStrategy<OrthoplexPrototypeOptions> = definePrototypeStrategy({
  name: 'orthoplex',
  summary: 'Cross-polytope: the signed axes +-e_i, every pair orthogonal or opposite (largest cosine 0). Needs D >= C / 2',
  options: optionsSchema,
  unsupported: tooManyForAxes,
  generate: (ctx, request, options) => crossPolytopeRows(request, options.rotate ? ctx.rng : undefined),
});

export default orthoplexPrototypes;
