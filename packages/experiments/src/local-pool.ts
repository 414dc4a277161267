import { availableParallelism } from 'node:os';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import type { RunOrder } from './run-execution.js';
import type { RunEvents, RunScheduler, SchedulerContext, SchedulerFactory } from './run-scheduler.js';
import { InlineSlot, RunFailedError, ThreadSlot, type RunSlot } from './run-slots.js';
import type { WorkerSetup } from './worker-messages.js';

export interface LocalPoolOptions {
  /** Parallel runs; default one per core (never more than there are runs). */
  readonly workers?: number;
  /** Run in this thread instead of worker threads (tests; registries that only exist in this thread). */
  readonly inline?: boolean;
}

/** The default scheduler: this machine's worker threads (or this thread), one run at a time each. */
export function localPool(options: LocalPoolOptions = {}): SchedulerFactory {
  if (options.workers !== undefined && (!Number.isInteger(options.workers) || options.workers < 1)) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `workers must be a positive integer, got ${options.workers}`);
  }
  return async (context) => {
    const count = Math.max(1, Math.min(options.workers ?? availableParallelism(), context.pending || 1));
    const slots: RunSlot[] = [];
    if (options.inline) {
      for (let i = 0; i < count; i++) slots.push(new InlineSlot(context.registry, context.provenance, context.module.writeRunDirectory));
    } else {
      const threads = threadShare(count);
      const setup = workerSetup(context);
      const starting = Array.from({ length: count }, () => ThreadSlot.start(setup, context.runLog, threads));
      const startups = await Promise.race([Promise.allSettled(starting), aborted(context.signal)]);
      if (startups === 'aborted') {
        // Each thread still starting is ended as soon as it is up; nothing waits for it.
        for (const startup of starting) startup.then((slot) => slot.close()).catch(() => {});
        throw new HyperprotoError(ErrorCode.Aborted, 'interrupted while the worker threads started');
      }
      for (const result of startups) if (result.status === 'fulfilled') slots.push(result.value);
      const failure = startups.find((result) => result.status === 'rejected');
      if (failure) {
        await Promise.all(slots.map((slot) => slot.close()));
        throw startupFailure(failure.reason);
      }
    }
    return new LocalPool(slots, options.inline ? null : { setup: workerSetup(context), threads: threadShare(count), log: context.runLog });
  };
}

function aborted(signal: AbortSignal | undefined): Promise<'aborted'> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve('aborted');
    else signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
}

/**
 * Each worker's native sessions get their share of the cores: pools as wide as the machine in every worker would
 * oversubscribe it.
 */
export function threadShare(slots: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / slots));
}

export function workerSetup(context: Pick<SchedulerContext, 'registryModule' | 'registryOptions' | 'git'>): WorkerSetup {
  return { registryModule: context.registryModule, registryOptions: context.registryOptions ?? {}, git: context.git };
}

/** A slot's failure to start, as the error the user sees. */
export function startupFailure(error: unknown): HyperprotoError {
  const failure = error instanceof RunFailedError ? error.failure : { code: ErrorCode.Internal, message: String(error) };
  return new HyperprotoError(
    failure.code as ErrorCode,
    `a worker thread could not start: ${failure.message}`,
    failure.hint ? { hint: failure.hint } : {},
  );
}

/**
 * Slots that each take the next order when free. A slot whose thread died (out of memory, a crash) has its run
 * recorded as failed and is replaced by a fresh thread for the remaining runs.
 */
export class LocalPool implements RunScheduler {
  readonly description: string;

  constructor(
    private readonly slots: RunSlot[],
    /** How to start a replacement thread; null for inline slots (they cannot be lost). */
    private readonly restart: { setup: WorkerSetup; threads: number; log: (message: string) => void } | null,
  ) {
    this.description = `${slots.length} ${restart ? 'worker thread' : 'inline slot'}${slots.length > 1 ? 's' : ''}`;
  }

  parallel(): number {
    return this.slots.length;
  }

  async execute(orders: readonly RunOrder[], events: RunEvents, signal?: AbortSignal): Promise<void> {
    const queue = [...orders];
    const onAbort = () => {
      for (const slot of this.slots) slot.abort();
    };
    signal?.addEventListener('abort', onAbort);
    let fatal: HyperprotoError | undefined;
    try {
      await Promise.all(
        this.slots.map(async (_, index) => {
          for (let order = queue.shift(); order; order = queue.shift()) {
            if (signal?.aborted || fatal) return;
            events.started(order.key);
            const current = order;
            try {
              const record = await this.slots[index]!.run(current, (stage, done, total) =>
                events.progress(current.key, stage, done, total),
              );
              await events.finished(current, record);
            } catch (error) {
              if (!(error instanceof RunFailedError)) throw error;
              if (error.failure.code === ErrorCode.Aborted || signal?.aborted) {
                events.released(current.key);
                return;
              }
              await events.failed(current, error.failure);
              if (error.lost && this.restart) {
                await this.slots[index]!.close();
                try {
                  this.slots[index] = await ThreadSlot.start(this.restart.setup, this.restart.log, this.restart.threads);
                } catch (cause) {
                  fatal = startupFailure(cause);
                  return;
                }
              }
            }
          }
        }),
      );
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (fatal && !signal?.aborted) throw fatal;
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((slot) => slot.close()));
  }
}
