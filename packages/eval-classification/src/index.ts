import { classificationEvaluator } from './classification-evaluator.js';

export default classificationEvaluator;
export {
  classificationEvaluator,
  ClassificationOptionsSchema,
  evaluateClassification,
  type ClassificationOptions,
  type ClassificationOptionsInput,
  type ClassificationReport,
} from './classification-evaluator.js';
export {
  classificationMetrics,
  convergenceMetrics,
  type ClassificationMetrics,
  type ClassScores,
  type ConvergenceMetrics,
} from './classification-metrics.js';
