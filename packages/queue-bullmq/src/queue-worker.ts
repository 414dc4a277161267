import { hostname } from 'node:os';
import { basename, dirname, isAbsolute, join, sep } from 'node:path';
import { ErrorCode, HyperprotoError, isHyperprotoError } from '@hyperproto/core';
import {
  collectVersions,
  gitProvenance,
  importRegistryModule,
  loadRegistry,
  modulePath,
  RunFailedError,
  startupFailure,
  threadShare,
  ThreadSlot,
  type RunFailure,
  type WorkerSetup,
} from '@hyperproto/experiments';
import { WaitingError, Worker, type Job } from 'bullmq';
import { incompatibility, type CodeOnHand } from './compatibility.js';
import { WorkerInputs } from './input-check.js';
import {
  HEARTBEAT_SECONDS,
  KEY_PREFIX,
  readClaim,
  REFUSALS_KEY,
  workerKey,
  type GridClaim,
  type JobData,
  type JobResult,
} from './grid-claim.js';
import { parseQueueAddress } from './queue-address.js';
import { CONNECT_TIMEOUT_MS, connectionOptions, connectRedis } from './queue-connection.js';

export interface QueueWorkerOptions {
  /** `redis://[[user]:password@]host[:port][/db]`. */
  readonly url: string;
  /** Module exporting `buildRegistry(options)` (and `versions()`, `writeRunDirectory`), as for `runGrid`. */
  readonly registryModule: string;
  readonly registryOptions?: unknown;
  /** Runs at once, each in its own worker thread (default 1). */
  readonly concurrency?: number;
  /** Native compute threads each run may use (default: the cores divided by `concurrency`). */
  readonly threads?: number;
  /**
   * Seconds a job's lock lasts without renewal (default 30): a killed worker's job is taken by another after about
   * twice this. Every worker of a queue should use the same value.
   */
  readonly lockSeconds?: number;
  /** How often to look for the grid the database serves, ms (default 2000). */
  readonly pollMs?: number;
  readonly connectTimeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly log?: (message: string) => void;
  readonly onEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { readonly type: 'serving'; readonly grid: string; readonly queue: string }
  | { readonly type: 'started'; readonly key: string }
  | { readonly type: 'finished'; readonly key: string; readonly seconds: number }
  | { readonly type: 'failed'; readonly key: string; readonly failure: RunFailure }
  | { readonly type: 'returned'; readonly key: string };

export interface WorkerOutcome {
  /** `host/pid`: how the coordinator and the jobs name this worker. */
  readonly worker: string;
  readonly queue: string;
  readonly ran: number;
  readonly failed: number;
  /** Runs in progress when it was stopped, put back in the queue for another worker. */
  readonly returned: number;
  readonly concurrency: number;
  readonly threads: number;
}

/**
 * Takes the jobs of whichever grid the queue's database serves and runs each in a worker thread of its own (the main
 * thread stays free to renew the jobs' locks), returning each run's record, or its failure, as the job's result.
 * Before taking any job of a grid it checks that it has every plugin the grid uses, in the coordinator's versions,
 * and otherwise refuses (E_UNKNOWN_PLUGIN or E_UNSUPPORTED, naming both sides) without running anything. Before a
 * run it checks that its files of the run's dataset hold what the coordinator's do (the claim's fingerprints), and
 * otherwise fails that run (E_INVALID_INPUT, naming each file and what differs). Runs until `signal` aborts: the
 * runs in progress then go back to the queue.
 */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<WorkerOutcome> {
  const log = options.log ?? (() => {});
  const address = parseQueueAddress(options.url);
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new HyperprotoError(ErrorCode.InvalidOptions, `concurrency must be a positive integer, got ${concurrency}`);
  const threads = options.threads ?? threadShare(concurrency);
  const lockMs = Math.round((options.lockSeconds ?? 30) * 1000);
  const id = `${hostname()}/${process.pid}`;
  const redis = await connectRedis(address, options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);

  const slots: ThreadSlot[] = [];
  let serving: { claim: GridClaim; worker: Worker<JobData, JobResult> } | undefined;
  const counts = { ran: 0, failed: 0, returned: 0 };
  const heartbeat = () =>
    redis.set(workerKey(id), JSON.stringify({ concurrency, threads, host: hostname(), pid: process.pid }), 'EX', HEARTBEAT_SECONDS);
  let beating: ReturnType<typeof setInterval> | undefined;
  try {
    const module = await importRegistryModule(options.registryModule);
    const built = await loadRegistry(module, options.registryOptions);
    const moduleFile = modulePath(options.registryModule);
    const git = moduleFile ? await gitProvenance(moduleFile) : null;
    const mine: CodeOnHand = {
      registered: new Set(built.registry.list().map(({ kind, name }) => `${kind}:${name}`)),
      plugins: built.plugins,
      versions: await collectVersions(module),
    };
    const files = new WorkerInputs(built.registry, id);
    const setup: WorkerSetup = { registryModule: options.registryModule, registryOptions: options.registryOptions ?? {}, git };
    const started = await Promise.allSettled(Array.from({ length: concurrency }, () => ThreadSlot.start(setup, log, threads)));
    for (const result of started) if (result.status === 'fulfilled') slots.push(result.value);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw startupFailure(failed.reason);
    const free = [...slots];

    await heartbeat();
    beating = setInterval(() => void heartbeat().catch(() => {}), (HEARTBEAT_SECONDS * 1000) / 3);
    log(`worker ${id}: ${concurrency} run(s) at once, ${threads} thread(s) each; waiting for jobs at ${address.display}`);

    const process_ = async (job: Job<JobData, JobResult>, token?: string): Promise<JobResult> => {
      const order = job.data.order;
      const misplaced = order.save && misplacedModel(order);
      if (misplaced) return { type: 'failed', failure: { code: ErrorCode.InvalidInput, message: misplaced }, worker: id };
      // The claim as it is now: each session of the coordinator rewrites it, with its fingerprints, before it queues
      // jobs (kept while Redis restarted without it).
      const now = await readClaim(redis);
      const claim = now?.identity === job.data.identity ? now : serving?.claim;
      // An outcome, not a thrown error, so the job is not retried here; --resume runs it again once the files match.
      const otherFiles = await files.problem(order, claim?.inputs?.[order.dataset]);
      if (otherFiles) {
        counts.failed++;
        options.onEvent?.({ type: 'failed', key: order.key, failure: otherFiles });
        return { type: 'failed', failure: otherFiles, worker: id };
      }
      let slot = free.pop();
      if (!slot) throw new Error('more jobs than worker threads');
      options.onEvent?.({ type: 'started', key: order.key });
      const startedAt = performance.now();
      let reported = 0;
      try {
        const record = await slot.run(order, (stage, done, total) => {
          // A few updates a second are plenty for a display, and each is a Redis call.
          const now = performance.now();
          if (now - reported < 1000 && done < total) return;
          reported = now;
          void job.updateProgress({ stage, done, total }).catch(() => {});
        });
        counts.ran++;
        options.onEvent?.({ type: 'finished', key: order.key, seconds: (performance.now() - startedAt) / 1000 });
        return { type: 'done', record, worker: id };
      } catch (error) {
        if (!(error instanceof RunFailedError)) throw error;
        const stopping = error.failure.code === ErrorCode.Aborted || options.signal?.aborted;
        if (error.lost && !stopping) {
          // The thread died (out of memory, a crash): a fresh one takes the next job.
          const fresh = await ThreadSlot.start(setup, log, threads);
          await slot.close();
          slots[slots.indexOf(slot)] = fresh;
          slot = fresh;
        }
        if (stopping) {
          // Stopped by this worker, not by the run: another worker takes the job.
          counts.returned++;
          options.onEvent?.({ type: 'returned', key: order.key });
          await job.moveToWait(token);
          throw new WaitingError();
        }
        counts.failed++;
        options.onEvent?.({ type: 'failed', key: order.key, failure: error.failure });
        return { type: 'failed', failure: error.failure, worker: id };
      } finally {
        free.push(slot);
      }
    };

    const serve = (claim: GridClaim) => {
      const worker = new Worker<JobData, JobResult>(claim.queue, process_, {
        connection: connectionOptions(address),
        prefix: KEY_PREFIX,
        concurrency,
        lockDuration: lockMs,
        stalledInterval: lockMs,
        // A run that kills its worker every time (e.g. out of memory) is taken up again twice, then fails.
        maxStalledCount: 2,
        name: id,
      });
      let lastError = '';
      worker.on('error', (error) => {
        if (error.message === lastError) return;
        lastError = error.message;
        log(`the job queue at ${address.display}: ${error.message}`);
      });
      options.onEvent?.({ type: 'serving', grid: claim.grid, queue: claim.queue });
      return worker;
    };

    let waitingSaid = false;
    while (!options.signal?.aborted) {
      const claim = await untilAborted(readClaim(redis), options.signal);
      // A claim that disappears (Redis restarted without its data) is kept: the coordinator claims it again.
      if (claim && claim.identity !== serving?.claim.identity) {
        if (serving) await serving.worker.close();
        serving = undefined;
        const problem = incompatibility(claim.grid, claim.needs, mine);
        if (problem) {
          await redis.hset(REFUSALS_KEY, id, problem.message);
          throw problem;
        }
        serving = { claim, worker: serve(claim) };
      } else if (!claim && !serving && !waitingSaid) {
        log(`no grid is queued at ${address.display} yet; waiting`);
        waitingSaid = true;
      }
      await untilAborted(sleep(options.pollMs ?? 2000), options.signal);
    }
    return { worker: id, queue: address.display, ...counts, concurrency, threads };
  } catch (error) {
    if (isHyperprotoError(error)) throw error;
    throw new HyperprotoError(ErrorCode.Internal, `the queue worker failed: ${(error as Error).message}`, { cause: error });
  } finally {
    clearInterval(beating);
    // Runs in progress stop (their jobs go back to wait), then the queue's connections close.
    for (const slot of slots) slot.abort();
    if (serving) await serving.worker.close().catch(() => {});
    await Promise.all(slots.map((slot) => slot.close()));
    await redis.del(workerKey(id)).catch(() => {});
    redis.disconnect();
  }
}

/**
 * Why a job's model placement is not one a coordinator makes (`<out>/models/<dataset>/<model>/.s<seed>.partial-<pid>`
 * beside its target `s<seed>`): a job must not make a worker write anywhere else.
 */
export function misplacedModel(order: JobData['order']): string | undefined {
  const save = order.save!;
  const cell = join('models', order.dataset, order.model);
  const ok =
    isAbsolute(save.dir) &&
    dirname(save.dir).endsWith(`${sep}${cell}`) &&
    new RegExp(`^\\.s${order.seed}\\.partial-\\d+$`).test(basename(save.dir)) &&
    save.target === join(dirname(save.dir), `s${order.seed}`);
  return ok ? undefined : `refused to write the model of ${order.key} to ${save.dir}: not a models directory of this run`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Resolves with the promise's value, or with undefined as soon as the signal aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
