import { ErrorCode, HyperprotoError } from './errors.js';
import type { Metrics } from './plugins.js';

// Type aliases, not interfaces: only aliases are assignable to the core's Metrics (a string-keyed record).
export type ClassScores = {
  readonly class: number;
  /** tp / (tp + fp); 0 when the class was never predicted. */
  readonly precision: number;
  /** tp / (tp + fn); 0 when the class has no rows. */
  readonly recall: number;
  /** 2 tp / (2 tp + fp + fn); 0 when both of the above are 0. */
  readonly f1: number;
  /** Rows whose true label is this class. */
  readonly support: number;
};

export type ClassificationMetrics = {
  /** Fraction of rows predicted correctly, in [0, 1]. */
  readonly accuracy: number;
  /**
   * Macro-averaged F1: the unweighted mean of the per-class F1 over all `classes` classes, in [0, 1]. This is the
   * "F-score" of the seed's Table 2 (which prints it as a percentage). Like scikit-learn's
   * `f1_score(average='macro', labels=range(C), zero_division=0)`: a class never predicted has precision 0, a class
   * with no rows has recall 0, and either way it still counts in the mean.
   */
  readonly macroF1: number;
  /** One entry per class, in class order; left out when not asked for (it is large for many classes). */
  readonly perClass?: readonly ClassScores[];
};

/**
 * Accuracy, macro-F1 and (unless `perClass` is false) per-class precision, recall, F1 and support of
 * `predictions` against `labels`, both class indices in [0, classes).
 */
export function classificationMetrics(
  classes: number,
  labels: Int32Array,
  predictions: Int32Array,
  options: { readonly perClass?: boolean } = {},
): ClassificationMetrics {
  checkPredictions(classes, labels, predictions);
  const truePositives = new Float64Array(classes);
  const support = new Float64Array(classes);
  const predicted = new Float64Array(classes);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    const prediction = predictions[i]!;
    support[label]!++;
    predicted[prediction]!++;
    if (label === prediction) {
      truePositives[label]!++;
      correct++;
    }
  }

  let f1Sum = 0;
  const perClass: ClassScores[] = [];
  for (let c = 0; c < classes; c++) {
    const tp = truePositives[c]!;
    const falsePositives = predicted[c]! - tp;
    const falseNegatives = support[c]! - tp;
    // The 2tp / (2tp + fp + fn) form equals 2PR / (P + R) and needs no special case beyond an empty class.
    const denominator = 2 * tp + falsePositives + falseNegatives;
    const f1 = denominator === 0 ? 0 : (2 * tp) / denominator;
    f1Sum += f1;
    if (options.perClass !== false) {
      perClass.push({
        class: c,
        precision: predicted[c]! === 0 ? 0 : tp / predicted[c]!,
        recall: support[c]! === 0 ? 0 : tp / support[c]!,
        f1,
        support: support[c]!,
      });
    }
  }
  const metrics = { accuracy: correct / labels.length, macroF1: f1Sum / classes };
  return options.perClass === false ? metrics : { ...metrics, perClass };
}

function checkPredictions(classes: number, labels: Int32Array, predictions: Int32Array): void {
  if (!Number.isInteger(classes) || classes < 1) {
    throw new HyperprotoError(ErrorCode.InvalidInput, `the number of classes must be a positive integer, got ${classes}`);
  }
  if (labels.length !== predictions.length) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `got ${labels.length} labels but ${predictions.length} predictions; pass one prediction per labelled row`,
    );
  }
  if (labels.length === 0)
    throw new HyperprotoError(ErrorCode.InvalidInput, 'there are no rows to evaluate; pass at least one label and prediction');
  for (const [name, values] of [
    ['label', labels],
    ['prediction', predictions],
  ] as const) {
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (value < 0 || value >= classes) {
        throw new HyperprotoError(
          ErrorCode.InvalidInput,
          `${name} ${value} at row ${i} is outside the classes [0, ${classes}); class indices must be 0-based`,
        );
      }
    }
  }
}

/** The name of the built-in classification evaluator, which every spec runs unless it names its own evaluators. */
export const CLASSIFICATION_EVALUATOR = 'classification';

/**
 * The test accuracy and macro-F1 of an outcome's metrics (`outcome.metrics`, `baselineMetrics`, `validationMetrics`,
 * `referenceMetrics`), typed: metrics are keyed by evaluator name and each evaluator's output is its own, so this
 * reads the classification evaluator's and checks both values are finite numbers. Undefined when the spec did not
 * run that evaluator (or something else answered under its name).
 */
export function classificationScores(
  metrics: Readonly<Record<string, Metrics>> | undefined,
): Pick<ClassificationMetrics, 'accuracy' | 'macroF1'> | undefined {
  const scores = metrics?.[CLASSIFICATION_EVALUATOR];
  const { accuracy, macroF1 } = scores ?? {};
  if (typeof accuracy !== 'number' || !Number.isFinite(accuracy) || typeof macroF1 !== 'number' || !Number.isFinite(macroF1)) {
    return undefined;
  }
  return { accuracy, macroF1 };
}
