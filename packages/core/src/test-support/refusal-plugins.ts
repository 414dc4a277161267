// Plugins and data for tests of what a run refuses before training: an engine that fails if training is reached,
// an evaluator that scores nothing, and a small split of every class.
import { createMatrix } from '../matrix.js';
import { type DatasetSplit, defineEngine, defineEvaluator } from '../plugins.js';
import { z } from 'zod';

/** The engine `fake`: its train throws "reached training" after calling `onTrain`. */
export const engineThatMustNotTrain = (onTrain: () => void = () => {}) =>
  defineEngine({
    name: 'fake',
    summary: 'test engine',
    priority: 1,
    options: z.strictObject({}),
    probe: async () => ({ ok: true as const, backend: 'fake/cpu', skipped: [] }),
    train: async () => {
      onTrain();
      throw new Error('reached training');
    },
  });

export const emptyClassificationEvaluator = defineEvaluator({
  name: 'classification',
  summary: 'test evaluator',
  options: z.strictObject({}),
  evaluate: () => ({}),
});

export const SPLIT_CLASSES = 3;

/** Two rows of each of SPLIT_CLASSES classes, in class order (0, 1, 2, 0, 1, 2), two features: the label and 0. */
export function everyClassSplit(): DatasetSplit {
  const labels = Int32Array.from({ length: SPLIT_CLASSES * 2 }, (_, i) => i % SPLIT_CLASSES);
  const features = createMatrix(labels.length, 2);
  labels.forEach((label, i) => (features.data[i * 2] = label));
  return { features, labels };
}
