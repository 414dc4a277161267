import type { RunRecord } from './run-record.js';

/** A run's score on the validation split at the epoch whose weights it kept. */
export interface ValidationScore {
  readonly accuracy: number;
  readonly loss: number;
}

/**
 * The validation accuracy and loss of the kept epoch, from the record's history (so records of any age have one).
 * The test split never chooses anything: that would make its scores optimistic.
 */
export function validationScore(record: Pick<RunRecord, 'history' | 'bestEpoch'>): ValidationScore {
  const kept = record.history.find((e) => e.epoch === record.bestEpoch);
  if (kept) return { accuracy: kept.validationAccuracy, loss: kept.validationLoss };
  // No kept epoch in the history: the best one it has, by the same rule.
  let best: ValidationScore = { accuracy: -Infinity, loss: Infinity };
  for (const e of record.history)
    if (beats({ accuracy: e.validationAccuracy, loss: e.validationLoss }, best))
      best = { accuracy: e.validationAccuracy, loss: e.validationLoss };
  return best;
}

/** Strictly better: higher validation accuracy, ties broken by lower validation loss (the trainers' own rule). */
export function beats(a: ValidationScore, b: ValidationScore): boolean {
  return a.accuracy > b.accuracy || (a.accuracy === b.accuracy && a.loss < b.loss);
}
