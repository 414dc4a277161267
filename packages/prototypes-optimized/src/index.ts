import {
  definePrototypeStrategy,
  ErrorCode,
  HyperprotoError,
  prototypeMatrixProblem,
  z,
  type Matrix,
  type PrototypeStrategy,
} from '@hyperproto/core';
import { checkPrototypeRequest, allPairsUnsupported } from '@hyperproto/prototype-steps';
import { optimizeWithNormPenalty } from './optimize-with-norm-penalty.js';

const optionsSchema = z
  .object({
    /** Adam steps. */
    steps: z.number().int().min(1).default(1000),
    learningRate: z.number().positive().default(0.01),
  })
  .strict();

export type OptimizedPrototypeOptions = z.output<typeof optionsSchema>;

/** The seed's orthogonalisation: separation loss plus a norm penalty, trained with Adam, no renormalisation. */
export const optimizedPrototypes: PrototypeStrategy<OptimizedPrototypeOptions> = definePrototypeStrategy({
  name: 'optimized',
  summary: "Prototypes pushed apart with Adam: mean largest cosine plus a norm penalty, no renormalisation (the seed's variant)",
  options: optionsSchema,
  // Rows, optimiser state and float64 gradients: about 32 bytes a value.
  unsupported: (request) => allPairsUnsupported(request) ?? prototypeMatrixProblem(request, 32),
  async generate(ctx, request, options): Promise<Matrix> {
    checkPrototypeRequest(request, 'prototypes:optimized');
    const why = allPairsUnsupported(request);
    if (why) throw new HyperprotoError(ErrorCode.Unsupported, why, { hint: 'Use the spread strategy (or random) for this many classes.' });
    return optimizeWithNormPenalty(ctx, request, options);
  },
});

export default optimizedPrototypes;
