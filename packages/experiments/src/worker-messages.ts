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

/** What ThreadSlot hands its thread besides the setup. */
export interface WorkerData extends WorkerSetup {
  /** The memory of the slot's {@link StopFlag}. */
  readonly stop: SharedArrayBuffer;
}

/**
 * Raised by a slot to stop its run, read by the thread in shared memory: the run's own progress and log calls see it
 * at once, where the `abort` message waits for the thread's event loop, which a long synchronous step holds.
 */
export class StopFlag {
  private readonly cell: Int32Array;

  constructor(readonly buffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)) {
    this.cell = new Int32Array(buffer);
  }

  get raised(): boolean {
    return Atomics.load(this.cell, 0) !== 0;
  }

  raise(): void {
    Atomics.store(this.cell, 0, 1);
  }

  lower(): void {
    Atomics.store(this.cell, 0, 0);
  }
}

/**
 * `abort`: stop the run at its next check. `close`: end the thread from inside, at its next turn of the event loop:
 * never from outside (Worker.terminate), which aborts the whole process when the thread is inside a native call.
 */
export type ToWorker = { readonly type: 'run'; readonly order: RunOrder } | { readonly type: 'abort' } | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'fatal'; readonly failure: RunFailure }
  | { readonly type: 'progress'; readonly key: string; readonly stage: string; readonly done: number; readonly total: number }
  | { readonly type: 'log'; readonly key: string; readonly message: string }
  | { readonly type: 'done'; readonly key: string; readonly record: RunRecord }
  | { readonly type: 'failed'; readonly key: string; readonly failure: RunFailure };
