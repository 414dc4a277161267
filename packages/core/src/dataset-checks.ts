import { ErrorCode, HyperprotoError } from './errors.js';
import { firstNonFinite } from './matrix.js';
import type { DatasetSplit } from './plugins.js';

/** What is wrong with one split of a dataset (shapes, emptiness, finite features, labels in range), or undefined. */
export function datasetSplitProblem(split: DatasetSplit, name: string, inputWidth: number, classes: number): string | undefined {
  const { features, labels } = split;
  if (features.cols !== inputWidth || features.rows !== labels.length || features.data.length !== features.rows * features.cols)
    return `${name} split has ${features.rows} x ${features.cols} features for ${labels.length} labels (input width ${inputWidth})`;
  if (labels.length === 0) return `${name} split is empty`;
  const bad = firstNonFinite(features.data);
  if (bad >= 0) return `${name} features have a non-finite value at row ${Math.floor(bad / features.cols)}, column ${bad % features.cols}`;
  const outside = labels.findIndex((label) => !(Number.isInteger(label) && label >= 0 && label < classes));
  if (outside >= 0) return `${name} split has label ${labels[outside]} at row ${outside}, outside [0, ${classes})`;
  return undefined;
}

/** Checks one split an engine is about to train or validate on (`datasetSplitProblem`): E_INVALID_INPUT if bad. */
export function checkDatasetSplit(split: DatasetSplit, name: string, inputWidth: number, classes: number): void {
  const problem = datasetSplitProblem(split, name, inputWidth, classes);
  if (problem) {
    throw new HyperprotoError(ErrorCode.InvalidInput, problem, {
      hint: 'Each split needs one label per feature row, finite features (remove or impute missing values) and labels that are class indices.',
    });
  }
}
