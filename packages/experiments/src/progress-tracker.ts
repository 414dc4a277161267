import type { CheckedRun } from './grid-validation.js';
import type { RunFailure } from './run-execution.js';
import type { RunEstimates } from './run-estimates.js';
import type { RunRecord } from './run-record.js';

export interface RunningRun {
  readonly key: string;
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  readonly seconds: number;
}

export interface GridProgress {
  /** Runs this session was asked for (the grid, or those `only` selected). */
  readonly total: number;
  /** Of those, runs with a record, including those finished before this session. */
  readonly done: number;
  /** Of those, runs found finished when this session started. */
  readonly skipped: number;
  readonly failed: number;
  readonly running: readonly RunningRun[];
  readonly elapsedSeconds: number;
  /** Estimated seconds until every run has finished; null until there is anything to estimate from. */
  readonly etaSeconds: number | null;
  /** The event that caused this report, when a run finished or failed. */
  readonly event?:
    | { readonly type: 'finished'; readonly record: RunRecord }
    | { readonly type: 'failed'; readonly key: string; readonly failure: RunFailure };
}

export interface TrackerOptions {
  readonly total: number;
  readonly skipped: number;
  /** The runs still to do, in the order they will start. */
  readonly pending: readonly CheckedRun[];
  readonly estimates: RunEstimates;
  /** Runs that execute at once now (the scheduler's; queue workers come and go). */
  readonly parallel: () => number;
  readonly onProgress?: (progress: GridProgress) => void;
  /** performance.now() when the session started. */
  readonly startedAt: number;
}

/** Done, failed, running and the ETA of one session, whichever scheduler runs it. */
export class ProgressTracker {
  private readonly waiting: Map<string, CheckedRun>;
  private readonly runsByKey: Map<string, CheckedRun>;
  private readonly running = new Map<string, { stage: string; done: number; total: number; since: number }>();
  private readonly failures: { key: string; failure: RunFailure }[] = [];
  private finished = 0;

  constructor(private readonly options: TrackerOptions) {
    this.waiting = new Map(options.pending.map((run) => [run.key, run]));
    this.runsByKey = new Map(this.waiting);
  }

  get done(): number {
    return this.options.skipped + this.finished;
  }

  /** Runs this session finished. */
  get ran(): number {
    return this.finished;
  }

  get failed(): readonly { key: string; failure: RunFailure }[] {
    return this.failures;
  }

  started(key: string): void {
    this.waiting.delete(key);
    this.running.set(key, { stage: 'starting', done: 0, total: 1, since: performance.now() });
    this.report();
  }

  stage(key: string, stage: string, done: number, total: number): void {
    const run = this.running.get(key);
    if (!run) return;
    this.running.set(key, { ...run, stage, done, total });
    this.report();
  }

  /** A record was stored. One of a run outside this session (a queue's leftover of the same grid) is not counted. */
  finish(record: RunRecord): void {
    this.settle(record.key);
    if (this.runsByKey.has(record.key)) this.finished++;
    this.report({ type: 'finished', record });
  }

  fail(key: string, failure: RunFailure): void {
    this.settle(key);
    if (this.runsByKey.has(key)) this.failures.push({ key, failure });
    this.report({ type: 'failed', key, failure });
  }

  /** The run stopped without an outcome and waits again. */
  released(key: string): void {
    this.running.delete(key);
    const run = this.runsByKey.get(key);
    if (run) this.waiting.set(key, run);
  }

  report(event?: GridProgress['event']): void {
    const onProgress = this.options.onProgress;
    if (!onProgress) return;
    const now = performance.now();
    const active = [...this.running].map(([key, r]) => ({
      key,
      stage: r.stage,
      done: r.done,
      total: r.total,
      seconds: (now - r.since) / 1000,
    }));
    onProgress({
      total: this.options.total,
      done: this.done,
      skipped: this.options.skipped,
      failed: this.failures.length,
      running: active,
      elapsedSeconds: (now - this.options.startedAt) / 1000,
      etaSeconds: this.options.estimates.remainingSeconds([...this.waiting.values()], active, this.options.parallel(), this.runsByKey),
      ...(event ? { event } : {}),
    });
  }

  private settle(key: string): void {
    this.running.delete(key);
    this.waiting.delete(key);
  }
}
