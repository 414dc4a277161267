import { ErrorCode, HyperprotoError, type EpochRecord } from '@hyperproto/core';

// Counting predictions lives in @hyperproto/core (the training loop scores every epoch with it too); this package
// keeps its public names for it.
export { classificationMetrics, type ClassificationMetrics, type ClassScores } from '@hyperproto/core';

export type ConvergenceMetrics = {
  /** 1-based epoch of the best validation score: the one the trainer kept. */
  readonly bestEpoch?: number;
  /** Epochs trained (the history's length). */
  readonly epochs: number;
  /** Mean wall-clock seconds per epoch. */
  readonly secondsPerEpoch?: number;
};

/** Epoch count, seconds per epoch and the best epoch (given, or the first epoch with the highest validation accuracy). */
export function convergenceMetrics(history: readonly EpochRecord[], bestEpoch?: number): ConvergenceMetrics {
  if (bestEpoch !== undefined && (!Number.isInteger(bestEpoch) || bestEpoch < 1 || (history.length > 0 && bestEpoch > history.length))) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `bestEpoch ${bestEpoch} is not an epoch of the ${history.length}-epoch history; epochs are 1-based`,
    );
  }
  if (history.length === 0) return bestEpoch === undefined ? { epochs: 0 } : { bestEpoch, epochs: 0 };
  let best = history[0]!;
  let seconds = 0;
  for (const record of history) {
    if (record.validationAccuracy > best.validationAccuracy) best = record;
    seconds += record.seconds;
  }
  return { bestEpoch: bestEpoch ?? best.epoch, epochs: history.length, secondsPerEpoch: seconds / history.length };
}
