import { defineHead, h, z, type HeadDefinition } from '@hyperproto/core';
import {
  cosineSoftmaxHeadOptionsSchema,
  prototypeCosines,
  prototypeSoftmaxDefinition,
  scaleExpr,
  unitPrototypes,
} from '@hyperproto/head-cosine-softmax';

/** m when none is given: the additive cosine margin CosFace (Wang et al., 2018) reported as best, 0.35. */
export const DEFAULT_MARGIN = 0.35;

/** The cosine-softmax's `scale` and `learnScale`; here the training logits are s * (cos - m at the true class). */
const scaleOptions = cosineSoftmaxHeadOptionsSchema.shape;

export const marginHeadOptionsSchema = z.strictObject({
  scale: scaleOptions.scale,
  /** m: subtracted from the cosine of the true class during training only; cosines lie in [-1, 1]. */
  margin: z.number().min(0).max(1).default(DEFAULT_MARGIN),
  learnScale: scaleOptions.learnScale,
});

export type MarginHeadOptions = z.output<typeof marginHeadOptionsSchema>;

/**
 * Additive cosine margin over fixed prototypes (CosFace, Wang et al. 2018; AM-softmax): training logits
 * s * (cos(output, p_c) - m * [c = label]), so the true class must win by a margin m in cosine; the scores are
 * softmax(s * cos) without the margin (a model at prediction time has no labels), the prediction the nearest
 * prototype.
 */
export const marginHead = defineHead({
  name: 'margin',
  summary: 'CosFace-style additive margin over fixed prototypes: cross-entropy of s * (cos - m at the true class)',
  options: marginHeadOptionsSchema,
  usesPrototypes: true,
  build({ classes, prototypes }, options): HeadDefinition {
    const unit = unitPrototypes('margin', classes, prototypes);
    const scale = scaleExpr(options);
    const margins = h.mul(h.scalar(options.margin), h.oneHot(h.labels(), classes));
    return prototypeSoftmaxDefinition(unit, h.mul(scale, h.sub(prototypeCosines, margins)), h.mul(scale, prototypeCosines));
  },
});
