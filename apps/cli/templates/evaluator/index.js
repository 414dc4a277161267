// @ts-check
import { defineEvaluator, z } from '@hyperproto/core';

/**
 * The recall of the class the model serves worst, and which class that is: a number that an average such as
 * macro-F1 can hide. Replace `evaluate` with your metric; return plain JSON values.
 */
export default defineEvaluator({
  name: '__PLUGIN_NAME__',
  summary: 'recall of the worst-served class',
  options: z.object({}).strict(),
  evaluate({ classes, labels, predictions }) {
    const hits = new Array(classes).fill(0);
    const support = new Array(classes).fill(0);
    for (let i = 0; i < labels.length; i++) {
      const label = /** @type {number} */ (labels[i]);
      support[label]++;
      if (predictions[i] === label) hits[label]++;
    }
    let worstClass = -1;
    let worstClassRecall = 1;
    for (let c = 0; c < classes; c++) {
      if (support[c] === 0) continue;
      const recall = hits[c] / support[c];
      if (worstClass < 0 || recall < worstClassRecall) [worstClass, worstClassRecall] = [c, recall];
    }
    return { worstClass, worstClassRecall };
  },
});
