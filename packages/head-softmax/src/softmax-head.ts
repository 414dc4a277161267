import { defineHead, ErrorCode, h, HyperprotoError, z, type HeadDefinition } from '@hyperproto/core';

export const softmaxHeadOptionsSchema = z.strictObject({});

export type SoftmaxHeadOptions = z.output<typeof softmaxHeadOptionsSchema>;

/** Cross-entropy of the true class: mean over rows of -log softmax(output)[label]. */
export const softmaxLoss = h.mean(h.neg(h.pickPerRow(h.logSoftmax(h.output()), h.labels())));

/** Class probabilities; their argmax is the prediction. */
export const softmaxScores = h.softmax(h.output());

/** One output unit per class, softmax on top, trained by cross-entropy. */
export const softmaxHead = defineHead({
  name: 'softmax',
  summary: 'Softmax classifier: one output unit per class, cross-entropy loss',
  options: softmaxHeadOptionsSchema,
  usesPrototypes: false,
  build({ classes }): HeadDefinition {
    if (!Number.isInteger(classes) || classes < 2) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `the softmax head needs at least 2 classes, got ${classes}`);
    }
    return {
      outputUnits: classes,
      loss: softmaxLoss,
      scores: softmaxScores,
      scoresName: 'probabilities',
      constants: {},
    };
  },
});
