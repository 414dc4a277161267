import type { RunInput, RunRecord } from './run-record.js';

/** The stages of a run, in the order it goes through them (see `RunRecord.seconds`). */
export const RUN_PHASES = ['data', 'prototypes', 'setup', 'training', 'evaluation', 'baseline', 'geometry'] as const;
export type RunPhase = (typeof RUN_PHASES)[number];

/** Where the time of some runs went: seconds per stage summed over the runs, and how often an input was reused. */
export interface PhaseTotals {
  readonly runs: number;
  /**
   * Seconds per stage summed over the runs; `other` is what the stages do not account for (starting and stopping
   * the run, and every stage a record predates), `total` the runs' own seconds in all.
   */
  readonly seconds: Readonly<Record<RunPhase | 'other' | 'total', number>>;
  /** Runs that took each input from their worker's store instead of making it. */
  readonly reused: Readonly<Partial<Record<RunInput, number>>>;
}

export function phaseTotals(records: readonly Pick<RunRecord, 'seconds' | 'reused'>[]): PhaseTotals {
  const seconds = Object.fromEntries([...RUN_PHASES, 'other', 'total'].map((phase) => [phase, 0])) as Record<
    RunPhase | 'other' | 'total',
    number
  >;
  const reused: Partial<Record<RunInput, number>> = {};
  for (const record of records) {
    let staged = 0;
    for (const phase of RUN_PHASES) {
      const value = record.seconds[phase] ?? 0;
      seconds[phase] += value;
      staged += value;
    }
    seconds.total += record.seconds.total;
    seconds.other += Math.max(0, record.seconds.total - staged);
    for (const input of record.reused ?? []) reused[input] = (reused[input] ?? 0) + 1;
  }
  return { runs: records.length, seconds, reused };
}
