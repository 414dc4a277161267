import { ErrorCode, HyperprotoError } from './errors.js';
import { firstNonFinite } from './matrix.js';
import type { DatasetSplit } from './plugins.js';

/** Checks one split an engine is about to train or validate on: shapes, finite features, labels in range. */
export function checkDatasetSplit(split: DatasetSplit, name: string, inputWidth: number, classes: number): void {
  const { features, labels } = split;
  if (features.cols !== inputWidth || features.rows !== labels.length || features.data.length !== features.rows * features.cols) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${name} split has ${features.rows} x ${features.cols} features for ${labels.length} labels (input width ${inputWidth})`,
    );
  }
  if (labels.length === 0) throw new HyperprotoError(ErrorCode.InvalidInput, `${name} split is empty`);
  const bad = firstNonFinite(features.data);
  if (bad >= 0) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${name} features have a non-finite value at row ${Math.floor(bad / features.cols)}, column ${bad % features.cols}`,
      {
        hint: 'Remove or impute missing values before training.',
      },
    );
  }
  for (const label of labels) {
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `${name} split has label ${label} outside [0, ${classes})`);
    }
  }
}
