import { availableParallelism } from 'node:os';
import { ErrorCode, HyperprotoError, plannedInputKeys } from '@hyperproto/core';
import { AffinityQueue, type QueuedRun } from './run-affinity.js';
import type { RunOrder } from './run-execution.js';
import { DEFAULT_INPUT_STORE_BYTES, RunInputStore } from './run-input-store.js';
import type { RunEvents, RunScheduler, SchedulerContext, SchedulerFactory } from './run-scheduler.js';
import { InlineSlot, RunFailedError, ThreadSlot, type RunSlot } from './run-slots.js';
import type { WorkerSetup } from './worker-messages.js';

export interface LocalPoolOptions {
  /** Parallel runs; default one per core (never more than there are runs). */
  readonly workers?: number;
  /** Run in this thread instead of worker threads (tests; registries that only exist in this thread). */
  readonly inline?: boolean;
  /**
   * Bytes of datasets, prototype sets and what is derived from them that each worker keeps for its later runs
   * (default {@link DEFAULT_INPUT_STORE_BYTES}; inline slots share one store); 0: every run makes its own.
   */
  readonly inputStoreBytes?: number;
}

/** How many of its last runs' inputs a slot is taken to still hold, for choosing its next run. */
const HELD_RUNS = 4;

/** The default scheduler: this machine's worker threads (or this thread), one run at a time each. */
export function localPool(options: LocalPoolOptions = {}): SchedulerFactory {
  if (options.workers !== undefined && (!Number.isInteger(options.workers) || options.workers < 1)) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `workers must be a positive integer, got ${options.workers}`);
  }
  const storeBytes = options.inputStoreBytes ?? DEFAULT_INPUT_STORE_BYTES;
  if (!Number.isSafeInteger(storeBytes) || storeBytes < 0) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `inputStoreBytes must be a whole number of bytes >= 0, got ${storeBytes}`, {
      hint: 'Give 0 to turn the store off.',
    });
  }
  return async (context) => {
    const count = Math.max(1, Math.min(options.workers ?? availableParallelism(), context.pending || 1));
    const slots: RunSlot[] = [];
    // Without a store nothing is held, so there is nothing to choose runs by.
    const inputs = storeBytes > 0 ? inputsOfRuns(context) : undefined;
    if (options.inline) {
      const store = storeBytes > 0 ? new RunInputStore(storeBytes) : undefined;
      for (let i = 0; i < count; i++)
        slots.push(new InlineSlot(context.registry, context.provenance, context.module.writeRunDirectory, store));
    } else {
      const threads = threadShare(count);
      const setup = { ...workerSetup(context), inputStoreBytes: storeBytes };
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
    return new LocalPool(
      slots,
      options.inline
        ? null
        : { setup: { ...workerSetup(context), inputStoreBytes: storeBytes }, threads: threadShare(count), log: context.runLog },
      inputs,
    );
  };
}

/** What runs share, by run key: the store keys of each run's prototype set and dataset, and its weight. */
export type RunInputs = ReadonlyMap<string, Omit<QueuedRun<unknown>, 'order'>>;

function inputsOfRuns(context: Pick<SchedulerContext, 'registry' | 'runs' | 'weights'>): RunInputs {
  const out = new Map<string, Omit<QueuedRun<unknown>, 'order'>>();
  for (const run of context.runs) {
    const weight = context.weights?.get(run.key);
    if (weight === undefined) continue;
    // The grid was checked before the pool starts; a run whose keys still cannot be found just shares nothing.
    const keys = (() => {
      try {
        return plannedInputKeys(context.registry, run.parsedSpec);
      } catch {
        return {};
      }
    })();
    out.set(run.key, { weight, inputs: [keys.prototypes, keys.dataset] });
  }
  return out;
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
    /** What the runs share: with it, a slot prefers a run over inputs it has just made (see AffinityQueue). */
    private readonly runInputs?: RunInputs,
  ) {
    this.description = `${slots.length} ${restart ? 'worker thread' : 'inline slot'}${slots.length > 1 ? 's' : ''}`;
  }

  parallel(): number {
    return this.slots.length;
  }

  async execute(orders: readonly RunOrder[], events: RunEvents, signal?: AbortSignal): Promise<void> {
    const queue = new AffinityQueue(
      orders.map((order) => ({ order, weight: 0, inputs: [], ...this.runInputs?.get(order.key) })),
      this.slots.length,
    );
    // The inputs of each slot's last runs: what its worker's store most likely still holds.
    const recent = this.slots.map((): (readonly (string | undefined)[])[] => []);
    const keys = (lists: readonly (readonly (string | undefined)[])[]) =>
      new Set(lists.flat().filter((key): key is string => key !== undefined));
    const held = (index: number) => keys(recent[index]!);
    // The inputs of the run each slot executes now.
    const running: (readonly (string | undefined)[])[] = this.slots.map(() => []);
    const elsewhere = (index: number) => keys(running.filter((_, i) => i !== index));
    const next = (index: number) => {
      const order = queue.take(held(index), elsewhere(index));
      running[index] = (order && this.runInputs?.get(order.key)?.inputs) || [];
      return order;
    };
    const ran = (index: number, order: RunOrder) => {
      const inputs = this.runInputs?.get(order.key)?.inputs;
      if (inputs) recent[index] = [...recent[index]!, inputs].slice(-HELD_RUNS);
    };
    const onAbort = () => {
      for (const slot of this.slots) slot.abort();
    };
    signal?.addEventListener('abort', onAbort);
    let fatal: HyperprotoError | undefined;
    try {
      await Promise.all(
        this.slots.map(async (_, index) => {
          for (let order = next(index); order; order = next(index)) {
            if (signal?.aborted || fatal) return;
            events.started(order.key);
            const current = order;
            try {
              const record = await this.slots[index]!.run(current, (stage, done, total) =>
                events.progress(current.key, stage, done, total),
              );
              ran(index, current);
              await events.finished(current, record);
            } catch (error) {
              if (!(error instanceof RunFailedError)) throw error;
              if (error.failure.code === ErrorCode.Aborted || signal?.aborted) {
                events.released(current.key);
                return;
              }
              await events.failed(current, error.failure);
              if (!error.lost) ran(index, current);
              if (error.lost && this.restart) {
                // A fresh thread starts with an empty store.
                recent[index] = [];
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
