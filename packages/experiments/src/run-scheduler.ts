import type { Grid } from './grid-schema.js';
import type { CheckedRun } from './grid-validation.js';
import type { GitProvenance } from './git-provenance.js';
import type { RegistryModule } from './registry-module.js';
import type { RunFailure, RunOrder } from './run-execution.js';
import type { RunProvenance, RunRecord } from './run-record.js';
import type { DatasetInput, Registry } from '@hyperproto/core';

/**
 * What a scheduler tells the session about each run. The session stores outcomes (one record per run, through the
 * results store and its lock) and keeps the progress display; a scheduler only decides where runs execute.
 */
export interface RunEvents {
  started(key: string): void;
  progress(key: string, stage: string, done: number, total: number): void;
  /** A record came back; resolves once it is stored (a second record of the same run is dropped there). */
  finished(order: RunOrder, record: RunRecord): Promise<void>;
  /** The run failed (not whatever executed it): recorded as a failure once. */
  failed(order: RunOrder, failure: RunFailure): Promise<void>;
  /** The run stopped without an outcome (interrupted) and waits again. */
  released(key: string): void;
}

/** Where a session's runs execute: the local worker-thread pool (the default), or the workers of a job queue. */
export interface RunScheduler {
  /** Says where the runs go, for the session's first log line, e.g. "2 worker threads". */
  readonly description: string;
  /** Runs that can execute at once now, for the ETA. */
  parallel(): number;
  /**
   * Has every order executed (in the order given, as capacity frees up) and reports each outcome; resolves when each
   * has one, or, once `signal` is aborted, when nothing of this process runs any more.
   */
  execute(orders: readonly RunOrder[], events: RunEvents, signal?: AbortSignal): Promise<void>;
  /** Said after "interrupted", e.g. where the unfinished runs are now. */
  readonly interruptedNote?: string;
  close(): Promise<void>;
}

/** What the session knows when it starts a scheduler: the grid is checked and the results directory is open. */
export interface SchedulerContext {
  readonly grid: Grid;
  readonly gridSource: string;
  /** Every run of the grid, checked. */
  readonly runs: readonly CheckedRun[];
  /** How many runs this session has to do. */
  readonly pending: number;
  /**
   * The expected cost each pending run was ordered by (the heaviest first), by key: lets a scheduler reorder a
   * little without undoing that order. Absent: unknown.
   */
  readonly weights?: ReadonlyMap<string, number>;
  /**
   * The fingerprints of the files of each dataset with runs to do that reads files, by dataset id, as the session
   * read them before its first run: a scheduler whose runs execute elsewhere (a queue's workers) checks those
   * machines' copies against them.
   */
  readonly inputs: Readonly<Record<string, readonly DatasetInput[]>>;
  readonly registryModule: string;
  readonly registryOptions: unknown;
  readonly module: RegistryModule;
  /** The registry of this thread (for inline execution and for checks). */
  readonly registry: Registry;
  /** Versions, git and plugin origins of the code in this process. */
  readonly provenance: RunProvenance;
  readonly git: GitProvenance | null;
  readonly log: (message: string) => void;
  /** For what every run says alike: said once per session. */
  readonly runLog: (message: string) => void;
  /** Aborted (Ctrl-C) while the scheduler starts: it stops starting and may throw. */
  readonly signal?: AbortSignal;
}

export type SchedulerFactory = ((context: SchedulerContext) => Promise<RunScheduler>) & {
  /** Checks what it can before the results directory is touched (a queue that does not answer leaves nothing). */
  readonly check?: (grid: Grid) => Promise<void>;
  /**
   * True when its runs execute in processes of their own that go on without this session (a job queue's workers):
   * the models they write for jobs of an earlier session are then kept and settled (see SavedModels).
   */
  readonly remoteWorkers?: boolean;
};
