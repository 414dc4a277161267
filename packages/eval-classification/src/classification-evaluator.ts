import { defineEvaluator, z, type EvaluationInput, type EvaluatorPlugin } from '@hyperproto/core';
import {
  classificationMetrics,
  convergenceMetrics,
  type ClassificationMetrics,
  type ConvergenceMetrics,
} from './classification-metrics.js';

export const ClassificationOptionsSchema = z.strictObject({
  /** Include per-class precision, recall, F1 and support; turn off for thousands of classes to keep results small. */
  perClass: z.boolean().default(true),
});

export type ClassificationOptions = z.output<typeof ClassificationOptionsSchema>;
export type ClassificationOptionsInput = z.input<typeof ClassificationOptionsSchema>;

/** What the evaluator returns: plain JSON values only. Convergence fields appear when a training history was given. */
export type ClassificationReport = ClassificationMetrics & Partial<ConvergenceMetrics>;

/** Scores a prediction run: the metrics of the seed's Tables 2 (F-score) and 3 (epochs until convergence). */
export function evaluateClassification(input: EvaluationInput, options: ClassificationOptions): ClassificationReport {
  const metrics = classificationMetrics(input.classes, input.labels, input.predictions, { perClass: options.perClass });
  if (input.history) return { ...metrics, ...convergenceMetrics(input.history, input.bestEpoch) };
  return input.bestEpoch === undefined ? metrics : { ...metrics, bestEpoch: input.bestEpoch };
}

export const classificationEvaluator: EvaluatorPlugin<ClassificationOptions> = defineEvaluator<ClassificationOptions>({
  name: 'classification',
  summary: "Accuracy, macro-F1 (the seed's F-score), per-class precision/recall/F1 and epochs to convergence",
  options: ClassificationOptionsSchema,
  evaluate: evaluateClassification,
});
