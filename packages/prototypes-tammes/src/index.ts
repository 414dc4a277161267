import { z, type PrototypeStrategy } from '@hyperproto/core';
import { defineAllPairsStrategy } from '@hyperproto/prototype-steps';
import { optimizeWithRenormalization } from './optimize-with-renormalization.js';

const optionsSchema = z
  .object({
    /** SGD steps (Mettes et al. run 1000 epochs of one full-batch step each). */
    steps: z.number().int().min(1).default(1000),
    learningRate: z.number().positive().default(0.1),
    momentum: z.number().min(0).lt(1).default(0.9),
  })
  .strict();

export type TammesPrototypeOptions = z.output<typeof optionsSchema>;

/** The reference procedure of Hyperspherical Prototype Networks (Mettes et al., 2019). */
export const tammesPrototypes: PrototypeStrategy<TammesPrototypeOptions> = defineAllPairsStrategy({
  name: 'tammes',
  summary: 'Prototypes pushed apart by SGD with momentum on the mean largest cosine, renormalised every step (Mettes et al., 2019)',
  options: optionsSchema,
  optimize: optimizeWithRenormalization,
});

export default tammesPrototypes;
