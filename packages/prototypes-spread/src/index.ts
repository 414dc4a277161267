import {
  definePrototypeStrategy,
  ErrorCode,
  HyperprotoError,
  prototypeMatrixProblem,
  z,
  type Matrix,
  type PrototypeStrategy,
} from '@hyperproto/core';
import { checkPrototypeRequest } from '@hyperproto/prototype-steps';
import { optimizeSpread } from './optimize-spread.js';

const optionsSchema = z
  .object({
    /** Adam steps. */
    steps: z.number().int().min(1).default(300),
    /** Neighbours per prototype in the smooth maximum (fewer when there are fewer other prototypes). */
    neighbours: z.number().int().min(1).max(256).default(8),
    /** Steps between exact neighbour scans over all pairs (O(C^2 D) each, in tiles). */
    refreshEvery: z.number().int().min(1).default(5),
    /** Of the smooth maximum: lower is closer to the plain maximum. */
    temperature: z.number().positive().default(0.02),
    learningRate: z.number().positive().default(0.003),
    /** The step size decays linearly to learningRate x decayTo. */
    decayTo: z.number().min(0).max(1).default(0.01),
    /**
     * Rows to start from instead of random directions, e.g. another strategy's output (`--start codes` in the
     * CLI): spread then refines them.
     */
    start: z
      .custom<Matrix>((value) => isMatrix(value), { message: 'expected a C x D matrix ({ rows, cols, data: Float32Array })' })
      .optional(),
  })
  .strict();

export type SpreadPrototypeOptions = z.output<typeof optionsSchema>;

/** Separation at any scale: each step looks only at each prototype's k nearest neighbours. */
export const spreadPrototypes: PrototypeStrategy<SpreadPrototypeOptions> = definePrototypeStrategy({
  name: 'spread',
  summary:
    "Prototypes pushed apart by Adam on a smooth maximum (log-sum-exp) of the cosines to each one's k nearest neighbours, " +
    'on the sphere; neighbours refreshed by an exact blocked scan on onnxruntime. Any C >= 2, D >= 1; O(C k D) per step',
  options: optionsSchema,
  // Rows and two Adam moments in, the same three out of each onnxruntime run: six float32 matrices.
  unsupported: (request) => prototypeMatrixProblem(request, 24),
  async generate(ctx, request, options): Promise<Matrix> {
    checkPrototypeRequest(request, 'prototypes:spread');
    const { start } = options;
    if (start && (start.rows !== request.classes || start.cols !== request.dims)) {
      throw new HyperprotoError(
        ErrorCode.InvalidOptions,
        `prototypes:spread start: rows are ${start.rows} x ${start.cols}, expected ${request.classes} x ${request.dims}`,
      );
    }
    return optimizeSpread(ctx, request, options);
  },
});

function isMatrix(value: unknown): value is Matrix {
  const candidate = value as Partial<Matrix> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    Number.isInteger(candidate.rows) &&
    Number.isInteger(candidate.cols) &&
    candidate.data instanceof Float32Array &&
    candidate.data.length === candidate.rows! * candidate.cols!
  );
}

export default spreadPrototypes;
