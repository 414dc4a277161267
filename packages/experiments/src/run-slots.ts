import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { ErrorCode, type ExperimentInputs, type Registry } from '@hyperproto/core';
import { executeRun, failureOf, type RunFailure, type RunOrder } from './run-execution.js';
import type { RunWriter } from './registry-module.js';
import type { RunProvenance, RunRecord } from './run-record.js';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-messages.js';

/** A run that did not produce a record. `lost`: the slot itself died and must be replaced. */
export class RunFailedError extends Error {
  constructor(
    readonly failure: RunFailure,
    readonly lost = false,
  ) {
    super(failure.message);
    this.name = 'RunFailedError';
  }
}

export type StageProgress = (stage: string, done: number, total: number) => void;

/** How long a stopping run may take to notice before its thread is ended: Ctrl-C must stop a grid within 2 s. */
export const ABORT_GRACE_MS = 1000;

/** Somewhere one run at a time executes: a worker thread, or this thread. */
export interface RunSlot {
  run(order: RunOrder, progress: StageProgress): Promise<RunRecord>;
  abort(): void;
  close(): Promise<void>;
}

/** A worker thread that builds its own registry from the registry module and runs one order at a time. */
export class ThreadSlot implements RunSlot {
  private pending: { resolve: (record: RunRecord) => void; reject: (error: RunFailedError) => void; progress: StageProgress } | undefined;
  private exited = false;
  /** Set once asked to stop: a thread that does not stop within the grace period is terminated. */
  private stopping: ReturnType<typeof setTimeout> | undefined;

  private constructor(private readonly worker: Worker) {}

  /** `threads`: the worker's share of the cores, handed to every run it executes for its native sessions. */
  static start(
    setup: WorkerSetup,
    log: (message: string) => void,
    threads: number,
    script = new URL('./run-worker.js', import.meta.url),
  ): Promise<ThreadSlot> {
    const worker = new Worker(script, { workerData: { ...setup, threads } satisfies WorkerSetup, stdout: true, stderr: true });
    // Whatever a plugin prints in a worker must not reach stdout (it would corrupt --json): it becomes a log line.
    for (const stream of [worker.stdout, worker.stderr]) createInterface({ input: stream }).on('line', (line) => line.trim() && log(line));
    const slot = new ThreadSlot(worker);
    return new Promise((resolve, reject) => {
      const onStartup = (message: FromWorker) => {
        if (message.type === 'ready') {
          worker.off('message', onStartup);
          worker.on('message', (m: FromWorker) => slot.onMessage(m, log));
          resolve(slot);
        } else if (message.type === 'fatal') {
          void worker.terminate();
          reject(new RunFailedError(message.failure, true));
        }
      };
      worker.on('message', onStartup);
      worker.on('error', (error) => {
        const failure = failureOf(error);
        reject(new RunFailedError(failure, true));
        slot.fail(failure);
      });
      worker.on('exit', (code) => {
        slot.exited = true;
        clearTimeout(slot.stopping);
        const failure = slot.stopping
          ? { code: ErrorCode.Aborted, message: 'stopped: the run did not stop within the grace period, so its thread was ended' }
          : { code: ErrorCode.Internal, message: `the worker thread exited (code ${code})` };
        reject(new RunFailedError(failure, true));
        slot.fail(failure);
      });
    });
  }

  run(order: RunOrder, progress: StageProgress): Promise<RunRecord> {
    if (this.exited) return Promise.reject(new RunFailedError({ code: ErrorCode.Internal, message: 'the worker thread has exited' }, true));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, progress };
      this.post({ type: 'run', order });
    });
  }

  /**
   * Asks the run to stop at its next check; a thread busy in a long synchronous step (data generation, a native
   * call) may not hear it for seconds, so after `graceMs` the thread is ended (its run reported as aborted).
   */
  abort(graceMs = ABORT_GRACE_MS): void {
    if (this.exited || this.stopping) return;
    this.post({ type: 'abort' });
    this.stopping = setTimeout(() => {
      if (this.pending) void this.worker.terminate();
    }, graceMs);
    this.stopping.unref();
  }

  async close(): Promise<void> {
    clearTimeout(this.stopping);
    if (!this.exited) await this.worker.terminate();
  }

  private post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private onMessage(message: FromWorker, log: (message: string) => void): void {
    const pending = this.pending;
    if (message.type === 'log') log(`${message.key}: ${message.message}`);
    else if (message.type === 'progress') pending?.progress(message.stage, message.done, message.total);
    else if (message.type === 'done') {
      this.settled();
      pending?.resolve(message.record);
    } else if (message.type === 'failed') {
      this.settled();
      pending?.reject(new RunFailedError(message.failure));
    }
  }

  /** The run answered: the thread stays, and a later abort starts its own grace period. */
  private settled(): void {
    this.pending = undefined;
    clearTimeout(this.stopping);
    this.stopping = undefined;
  }

  private fail(failure: RunFailure): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(new RunFailedError(failure, true));
  }
}

/** Runs in the calling thread (for tests and for registries that cannot be rebuilt in a worker). */
export class InlineSlot implements RunSlot {
  private controller: AbortController | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly provenance: RunProvenance,
    private readonly writeRun?: RunWriter,
    /** Shared by the inline slots of one pool: each run gets its own copy of what it takes. */
    private readonly inputs?: ExperimentInputs,
  ) {}

  async run(order: RunOrder, progress: StageProgress): Promise<RunRecord> {
    this.controller = new AbortController();
    try {
      return await executeRun(this.registry, order, this.provenance, {
        signal: this.controller.signal,
        progress,
        writeRun: this.writeRun,
        ...(this.inputs ? { inputs: this.inputs } : {}),
      });
    } catch (error) {
      throw new RunFailedError(failureOf(error));
    } finally {
      this.controller = undefined;
    }
  }

  abort(): void {
    this.controller?.abort();
  }

  async close(): Promise<void> {}
}
