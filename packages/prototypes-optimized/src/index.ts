import { z, type PrototypeStrategy } from '@hyperproto/core';
import { defineAllPairsStrategy } from '@hyperproto/prototype-steps';
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
export const optimizedPrototypes: PrototypeStrategy<OptimizedPrototypeOptions> = defineAllPairsStrategy({
  name: 'optimized',
  summary: "Prototypes pushed apart with Adam: mean largest cosine plus a norm penalty, no renormalisation (the seed's variant)",
  options: optionsSchema,
  optimize: optimizeWithNormPenalty,
});

export default optimizedPrototypes;
