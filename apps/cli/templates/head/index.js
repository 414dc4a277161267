// @ts-check
import { defineHead, h, z } from '@hyperproto/core';

/**
 * Cross-entropy over the scaled cosines between the network's output and each class prototype (a cosine softmax
 * with a fixed scale); the prediction is the nearest prototype. A head is an expression over hyperproto's
 * operations (`h`), so every engine trains it and `hyperproto export` writes it to ONNX without extra code.
 */
export default defineHead({
  name: '__PLUGIN_NAME__',
  summary: 'cross-entropy over scale x cosine to each class prototype',
  options: z.object({ scale: z.number().positive().default(10) }).strict(),
  usesPrototypes: true,
  build({ classes, prototypes }, { scale }) {
    if (!prototypes || prototypes.rows !== classes) throw new Error(`needs one prototype per class (${classes})`);
    const cosines = h.matmulTransposed(h.l2normalize(h.output()), h.constant('prototypes'));
    return {
      outputUnits: prototypes.cols,
      loss: h.mean(h.neg(h.pickPerRow(h.logSoftmax(h.mul(h.scalar(scale), cosines)), h.labels()))),
      scores: cosines,
      scoresName: 'scores',
      constants: { prototypes },
    };
  },
});
