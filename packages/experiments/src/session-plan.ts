import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { runDifferences } from './grid-difference.js';
import type { CheckedRun } from './grid-validation.js';
import type { RunEstimates } from './run-estimates.js';
import type { RunRecord } from './run-record.js';

/** What one session of a grid has to do: pure data, decided before anything runs. */
export interface SessionPlan {
  /** The runs this session was asked for: the grid, or those `only` selected. */
  readonly selected: readonly CheckedRun[];
  /** Records of the grid's runs found when the session started, by key. */
  readonly finished: ReadonlyMap<string, RunRecord>;
  /** Selected runs without a record, most expensive first. */
  readonly pending: readonly CheckedRun[];
  /** Selected runs that already have a record. */
  readonly skipped: number;
  /** The expected cost each pending run was ordered by, by key: seconds from the records, else the planned cost. */
  readonly weights: ReadonlyMap<string, number>;
}

export interface PlanInput {
  /** Every run of the grid. */
  readonly runs: readonly CheckedRun[];
  /** Key patterns (see `selectRuns`); none: the whole grid. */
  readonly only?: readonly string[];
  /** The records stored so far. */
  readonly records: readonly RunRecord[];
  /** Seconds each run is expected to take, learned from the records. */
  readonly estimates: RunEstimates;
  /** Where the records come from, for messages. */
  readonly source: string;
}

/**
 * Which runs are unfinished and in which order to start them. The most expensive go first (by the seconds finished
 * runs of the same cell took, else by planned cost): the long runs overlap with many short ones instead of starting
 * last and leaving every other slot idle at the end. Ties keep the grid's order.
 */
export function planSession(input: PlanInput): SessionPlan {
  const selected = input.only?.length ? selectRuns(input.runs, input.only) : [...input.runs];
  const finished = finishedRuns(input.records, input.runs, input.source);
  const weight = (run: CheckedRun) => input.estimates.estimate(run) ?? run.cost;
  const weighed = selected
    .filter((run) => !finished.has(run.key))
    .map((run, index) => ({ run, index, weight: weight(run) }))
    .sort((a, b) => b.weight - a.weight || a.index - b.index);
  const pending = weighed.map(({ run }) => run);
  const weights = new Map(weighed.map(({ run, weight }) => [run.key, weight]));
  return { selected, finished, pending, skipped: selected.length - pending.length, weights };
}

/** The runs whose key matches a pattern; a pattern that matches nothing is an error (a typo would run nothing). */
export function selectRuns<R extends { key: string }>(runs: readonly R[], patterns: readonly string[]): R[] {
  const matchers = patterns.map((pattern) => ({
    pattern,
    regex: new RegExp(
      `^${pattern
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*')}(/.*)?$`,
    ),
  }));
  for (const { pattern, regex } of matchers) {
    if (!runs.some((run) => regex.test(run.key))) {
      throw new HyperprotoError(ErrorCode.InvalidOptions, `--only ${pattern} matches no run of the grid`, {
        hint: `Run keys look like ${runs[0]?.key ?? 'dataset/model/s0'}; * matches within one part and a shorter pattern matches all below it, e.g. ${runs[0]?.key.split('/')[0] ?? 'c10'} or */softmax.`,
      });
    }
  }
  return runs.filter((run) => matchers.some(({ regex }) => regex.test(run.key)));
}

/** Why a record cannot stand for its run of this grid (another spec, e.g. changed defaults); undefined when it can. */
export function recordMismatch(record: RunRecord, run: Pick<CheckedRun, 'parsedSpec'>): string | undefined {
  // Read as runIdentity reads it, so that a spec written in an older form (e.g. `engine` as a bare name) compares as
  // what it means.
  const found = runDifferences(record.spec, run.parsedSpec);
  if (found.length === 0) return undefined;
  const first = found.slice(0, 3);
  return first.map((d) => `${d.path}: ${JSON.stringify(d.before)} there, ${JSON.stringify(d.after)} now`).join('; ');
}

/**
 * Records that belong to the grid's runs, by key. A record whose spec differs from what the grid now asks for
 * (e.g. changed defaults) is refused with the difference rather than silently counted as finished.
 */
function finishedRuns(records: readonly RunRecord[], runs: readonly CheckedRun[], source: string): Map<string, RunRecord> {
  const byKey = new Map(runs.map((run) => [run.key, run]));
  const finished = new Map<string, RunRecord>();
  for (const record of records) {
    const run = byKey.get(record.key);
    if (!run) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `${source} holds run ${record.key}, which the grid does not have`, {
        hint: 'These results come from another grid: use a new --out.',
      });
    }
    const mismatch = recordMismatch(record, run);
    if (mismatch) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `${source}: run ${record.key} was made with a different spec (${mismatch})`, {
        hint: 'The defaults or the grid changed since these results were made: use a new --out.',
      });
    }
    finished.set(record.key, record);
  }
  return finished;
}
