import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { ErrorCode, type ExperimentInputs, type Registry } from '@hyperproto/core';
import { executeRun, failureOf, type RunFailure, type RunOrder } from './run-execution.js';
import type { RunWriter } from './registry-module.js';
import { processMemory } from './resident-memory.js';
import type { RunProvenance, RunRecord } from './run-record.js';
import { type FromWorker, StopFlag, type ToWorker, type WorkerData, type WorkerSetup } from './worker-messages.js';

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

/**
 * How long a stopping run may go on before its slot says what it waits for. A run stops at its next check; a thread
 * inside a native call (an onnxruntime step) cannot be ended before the call returns (Worker.terminate would abort
 * the whole process then), so the slot waits for it.
 */
export const ABORT_GRACE_MS = 1000;

/** Somewhere one run at a time executes: a worker thread, or this thread. */
export interface RunSlot {
  run(order: RunOrder, progress: StageProgress): Promise<RunRecord>;
  abort(): void;
  close(): Promise<void>;
}

/**
 * A worker thread that builds its own registry from the registry module and runs one order at a time. It is never
 * ended from outside: it stops its run when asked (a flag in shared memory and a message) and ends itself when
 * closed, both between two steps of the run, so a native call in flight always returns first. Every way of running a
 * grid in worker threads (the local pool, the queue worker) goes through here, which is why the records get their
 * `memory` (the process's resident set while the run executed) here.
 */
export class ThreadSlot implements RunSlot {
  private pending:
    | { key: string; resolve: (record: RunRecord) => void; reject: (error: RunFailedError) => void; progress: StageProgress }
    | undefined;
  private readonly exit: Promise<void>;
  private exited = false;
  /** Asked to stop or to close: the thread's end is then no failure of its run. */
  private stopping = false;
  private closing = false;
  private slowStop: ReturnType<typeof setTimeout> | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly stop: StopFlag,
    private readonly log: (message: string) => void,
  ) {
    this.exit = new Promise((resolve) => worker.once('exit', () => resolve()));
  }

  /** `threads`: the worker's share of the cores, handed to every run it executes for its native sessions. */
  static start(
    setup: WorkerSetup,
    log: (message: string) => void,
    threads: number,
    script = new URL('./run-worker.js', import.meta.url),
  ): Promise<ThreadSlot> {
    const stop = new StopFlag();
    const worker = new Worker(script, {
      workerData: { ...setup, threads, stop: stop.buffer } satisfies WorkerData,
      stdout: true,
      stderr: true,
    });
    // Whatever a plugin prints in a worker must not reach stdout (it would corrupt --json): it becomes a log line.
    for (const stream of [worker.stdout, worker.stderr]) createInterface({ input: stream }).on('line', (line) => line.trim() && log(line));
    const slot = new ThreadSlot(worker, stop, log);
    return new Promise((resolve, reject) => {
      const onStartup = (message: FromWorker) => {
        if (message.type === 'ready') {
          worker.off('message', onStartup);
          worker.on('message', (m: FromWorker) => slot.onMessage(m));
          resolve(slot);
        } else if (message.type === 'fatal') {
          void slot.close();
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
        clearTimeout(slot.slowStop);
        const failure = slot.stopping
          ? { code: ErrorCode.Aborted, message: 'stopped: the worker thread ended before its run answered' }
          : { code: ErrorCode.Internal, message: `the worker thread exited (code ${code})` };
        reject(new RunFailedError(failure, true));
        slot.fail(failure);
      });
    });
  }

  run(order: RunOrder, progress: StageProgress): Promise<RunRecord> {
    if (this.exited || this.closing)
      return Promise.reject(new RunFailedError({ code: ErrorCode.Internal, message: 'the worker thread has exited' }, true));
    // Sampled here, in the thread that started the run, whose event loop the run's synchronous steps never hold.
    const memory = processMemory.watch();
    return new Promise((resolve, reject) => {
      this.pending = {
        key: order.key,
        resolve: (record) => resolve({ ...record, memory: memory.end() }),
        reject: (error) => {
          memory.end();
          reject(error);
        },
        progress,
      };
      this.stop.lower();
      this.stopping = false;
      this.post({ type: 'run', order });
    });
  }

  /**
   * Asks the run to stop at its next check. The run answers (as aborted) once it gets there; a run that has not
   * after {@link ABORT_GRACE_MS} is inside a step that cannot be interrupted, and the slot says that it waits.
   */
  abort(): void {
    if (this.exited || this.stopping) return;
    this.stopping = true;
    this.stop.raise();
    this.post({ type: 'abort' });
    const key = this.pending?.key;
    if (!key) return;
    this.slowStop = setTimeout(() => {
      if (this.pending?.key === key)
        this.log(
          `${key}: waiting for the step in progress to return before the run stops (a native call cannot be interrupted; Ctrl-C again quits at once)`,
        );
    }, ABORT_GRACE_MS);
    this.slowStop.unref();
  }

  /** Ends the thread from inside at its next turn (a run still in progress stops there) and waits until it has. */
  async close(): Promise<void> {
    if (!this.exited && !this.closing) {
      this.closing = true;
      this.stopping = true;
      this.stop.raise();
      this.post({ type: 'close' });
    }
    await this.exit;
    clearTimeout(this.slowStop);
  }

  private post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private onMessage(message: FromWorker): void {
    const pending = this.pending;
    if (message.type === 'log') this.log(`${message.key}: ${message.message}`);
    else if (message.type === 'progress') pending?.progress(message.stage, message.done, message.total);
    else if (message.type === 'done') {
      this.settled();
      pending?.resolve(message.record);
    } else if (message.type === 'failed') {
      this.settled();
      pending?.reject(new RunFailedError(message.failure));
    }
  }

  /** The run answered: the thread stays for the next one. */
  private settled(): void {
    this.pending = undefined;
    clearTimeout(this.slowStop);
  }

  private fail(failure: RunFailure): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(new RunFailedError(failure, true));
  }
}

/**
 * Runs in the calling thread (for tests and for registries that cannot be rebuilt in a worker). Its records have no
 * `memory`: the run holds the thread that would sample it.
 */
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
