import type { GitProvenance } from './git-provenance.js';
import type { RunFailure, RunOrder } from './run-execution.js';
import type { RunRecord } from './run-record.js';

/** What a worker thread is started with. */
export interface WorkerSetup {
  readonly registryModule: string;
  readonly registryOptions: unknown;
  /** Found once by the runner, the same for every record of the session. */
  readonly git: GitProvenance | null;
  /** Native compute threads each run may use: the thread's share of the cores. */
  readonly threads?: number;
  /** Bytes of datasets and prototype sets the worker keeps for its later runs (RunInputStore); 0: none. */
  readonly inputStoreBytes?: number;
}

export type ToWorker = { readonly type: 'run'; readonly order: RunOrder } | { readonly type: 'abort' };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'fatal'; readonly failure: RunFailure }
  | { readonly type: 'progress'; readonly key: string; readonly stage: string; readonly done: number; readonly total: number }
  | { readonly type: 'log'; readonly key: string; readonly message: string }
  | { readonly type: 'done'; readonly key: string; readonly record: RunRecord }
  | { readonly type: 'failed'; readonly key: string; readonly failure: RunFailure };
