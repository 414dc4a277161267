import { ContractErrorCode, exportInstructions, ModelContractError } from './contract-error.js';
import type { FeatureMatrix } from './feature-batch.js';

/** Rows in the self-check: enough that a label output which is not the argmax shows, few enough to cost nothing. */
export const SELF_CHECK_ROWS = 8;

/** The fixed rows a runtime runs a model on when it opens it (values about ±1.5, different in every row and column). */
export function selfCheckBatch(inputWidth: number): FeatureMatrix {
  const data = new Float32Array(SELF_CHECK_ROWS * inputWidth);
  for (let r = 0; r < SELF_CHECK_ROWS; r++)
    for (let c = 0; c < inputWidth; c++) data[r * inputWidth + c] = Math.sin(12.9898 * (r + 1) + 78.233 * (c + 1)) * 1.5;
  return { rows: SELF_CHECK_ROWS, cols: inputWidth, data };
}

/** What a model answered for the self-check rows, as the runtime read its outputs. */
export interface ClassifierAnswers {
  readonly rows: number;
  /** The class count of the model's interface. */
  readonly classes: number;
  /** The label output, or the argmax of the scores when the model has none. */
  readonly labels: ArrayLike<number>;
  /** The score output, [rows * classes]. */
  readonly scores: ArrayLike<number>;
  /** The model's own top-k label output [rows * k], when it has one. */
  readonly topK?: { readonly k: number; readonly labels: ArrayLike<number> };
}

/**
 * Checks a model's answers to the self-check rows against its own interface: labels are class indices (0 to
 * classes - 1) that pick the best score, scores are finite, top-k labels are class indices. A file that breaks
 * this (a label output that is not the argmax, a wrong class count) is refused with E_INVALID_INPUT, so that no
 * runtime serves its nonsense.
 */
export function checkClassifierAnswers(answers: ClassifierAnswers, source: string): void {
  const { rows, classes, labels, scores, topK } = answers;
  const fail = (why: string) =>
    new ModelContractError(ContractErrorCode.InvalidInput, `${source} is not a classifier this runtime can serve: ${why}`, {
      hint: `Export the model again with ${exportInstructions()}; its outputs must be scores [N, classes] and label [N] = their argmax.`,
    });
  if (labels.length !== rows) throw fail(`its label output gave ${labels.length} labels for ${rows} rows`);
  if (scores.length !== rows * classes) throw fail(`its score output gave ${scores.length} values for ${rows} rows of ${classes} classes`);
  for (let r = 0; r < rows; r++) {
    const label = labels[r]!;
    if (!Number.isInteger(label) || label < 0 || label >= classes)
      throw fail(
        `its label output is not a class index: row ${r} has label ${label}, but the model has ${classes} classes (0 to ${classes - 1})`,
      );
    let best = -Infinity;
    for (let c = 0; c < classes; c++) {
      const value = scores[r * classes + c]!;
      if (!Number.isFinite(value)) throw fail(`its score output holds ${value} for row ${r}`);
      best = Math.max(best, value);
    }
    const labelScore = scores[r * classes + label]!;
    // A relative tolerance: a label computed by the model's own ArgMax may pick a float32 near-tie differently.
    if (labelScore < best - 1e-6 * Math.max(1, Math.abs(best)))
      throw fail(
        `its label output is not the best-scoring class: row ${r} has label ${label} (score ${labelScore}) but the best score is ${best}`,
      );
    for (let i = 0; topK && i < topK.k; i++) {
      const topLabel = topK.labels[r * topK.k + i]!;
      if (!Number.isInteger(topLabel) || topLabel < 0 || topLabel >= classes)
        throw fail(`its top-k output is not a class index: row ${r} has ${topLabel}, but the model has ${classes} classes`);
    }
  }
}
