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
  RETRIES_AFTER_STALL,
  retryNote,
  workerKey,
  type GridClaim,
  type JobData,
  type JobResult,
} from './grid-claim.js';
import { parseQueueAddress } from './queue-address.js';
import { CONNECT_TIMEOUT_MS, connectionOptions, connectRedis } from './queue-connection.js';
import { isConnectionError, QueueHealth, silenceBullmqEvictionLine, warnOnEviction } from './queue-health.js';

/**
 * How long a stopping worker waits for the queue to take back its runs in progress (and its last records): with
 * Redis down that would be forever, and a worker must stop within seconds (a container's grace period).
 */
export const STOP_WAIT_MS = 5000;

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
  /** `retry`: why and which attempt, when the run is taken up again after its worker stopped answering. */
  | { readonly type: 'started'; readonly key: string; readonly retry?: string }
  /** The run's record is in the queue, for the coordinator. */
  | { readonly type: 'finished'; readonly key: string; readonly seconds: number }
  | { readonly type: 'failed'; readonly key: string; readonly failure: RunFailure }
  | { readonly type: 'returned'; readonly key: string }
  /** The run finished, but the queue did not take its record (this worker had lost the job's lock): it runs again. */
  | { readonly type: 'unstored'; readonly key: string }
  /** Stopped while the queue did not answer: the run goes back to the queue when its lock expires. */
  | { readonly type: 'abandoned'; readonly key: string; readonly afterSeconds: number };

export interface WorkerOutcome {
  /** `host/pid`: how the coordinator and the jobs name this worker. */
  readonly worker: string;
  readonly queue: string;
  /** Runs whose records the queue took. */
  readonly ran: number;
  readonly failed: number;
  /**
   * Runs in progress when it was stopped, put back in the queue for another worker (at once, or when their locks
   * expire if the queue did not answer then).
   */
  readonly returned: number;
  /** Runs that finished but whose records the queue did not take (the job's lock was lost): they run again. */
  readonly notStored: number;
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
 * runs in progress then go back to the queue. Like queueScheduler, it filters BullMQ's eviction-policy line
 * out of console.warn for the whole process (see silenceBullmqEvictionLine): the worker says it once itself.
 */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<WorkerOutcome> {
  const log = options.log ?? (() => {});
  const address = parseQueueAddress(options.url);
  silenceBullmqEvictionLine();
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new HyperprotoError(ErrorCode.InvalidOptions, `concurrency must be a positive integer, got ${concurrency}`);
  const threads = options.threads ?? threadShare(concurrency);
  const lockMs = Math.round((options.lockSeconds ?? 30) * 1000);
  const id = `${hostname()}/${process.pid}`;
  const redis = await connectRedis(address, options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
  // Outages, a full Redis: said once each, and once when over.
  const health = new QueueHealth(
    address.display,
    log,
    'the runs in progress go on; their records are handed in when it answers, unless their locks expired meanwhile',
  );
  redis.on('reconnecting', () => health.lost());
  redis.on('ready', () => health.reconnected());

  const slots: ThreadSlot[] = [];
  let serving: { claim: GridClaim; worker: HandingWorker } | undefined;
  const counts = { ran: 0, failed: 0, returned: 0, notStored: 0 };
  /** The jobs this worker holds, by key: when each run started (ms). Left when the queue has the job back. */
  const held = new Map<string, number>();
  /** The jobs this stop gave back: each counts once, however often the queue hands it to this worker meanwhile. */
  const returned = new Set<string>();
  /** The runs executing in a thread now: a stop waits for them (a native call returns first), then for the queue. */
  const running = new Set<Promise<unknown>>();
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
    // The heartbeat is a write: the first to go through after an outage (or a full Redis) says it is over.
    beating = setInterval(
      () =>
        void heartbeat().then(
          () => health.wrote(),
          (error: Error) => health.failed(error),
        ),
      (HEARTBEAT_SECONDS * 1000) / 3,
    );
    await warnOnEviction(redis, address.display, log);
    log(`worker ${id}: ${concurrency} run(s) at once, ${threads} thread(s) each; waiting for jobs at ${address.display}`);

    const process_ = async (job: Job<JobData, JobResult>, token?: string): Promise<JobResult> => {
      const order = job.data?.order;
      // A job whose data Redis lost (evicted, deleted) while its id stayed queued: nothing to run. Failed as it is, its
      // coordinator removes it and queues the run again.
      if (!order) {
        log(`${job.id}: the queue lost this job's data (evicted or deleted in Redis); its coordinator queues the run again`);
        throw new Error("the queue lost this job's data");
      }
      held.set(order.key, performance.now());
      // Stopped by this worker, not by the run: another worker takes the job. A job whose lock was lost is back in the
      // queue already; one left when the queue did not answer was said to go back by its lock's expiry.
      // Counted when the queue has it back (or took it from this worker already: Missing lock); a move that failed
      // otherwise is what the stop says when it gives up on the queue.
      const handBack = async (): Promise<never> => {
        const back = await job.moveToWait(token).then(
          () => true,
          (error: Error) => /^Missing lock for job /.test(error.message),
        );
        if (back && held.delete(order.key) && !returned.has(order.key)) {
          returned.add(order.key);
          counts.returned++;
          options.onEvent?.({ type: 'returned', key: order.key });
        }
        throw new WaitingError();
      };
      const misplaced = order.save && misplacedModel(order);
      if (misplaced) return { type: 'failed', failure: { code: ErrorCode.InvalidInput, message: misplaced }, worker: id };
      // The claim as it is now: each session of the coordinator rewrites it, with its fingerprints, before it queues
      // jobs (kept while Redis restarted without it).
      const now = await readClaim(redis);
      const claim = now?.identity === job.data.identity ? now : serving?.claim;
      // An outcome, not a thrown error, so the job is not retried here; --resume runs it again once the files match.
      const otherFiles = await files.problem(order, claim?.inputs?.[order.dataset]);
      if (otherFiles) return { type: 'failed', failure: otherFiles, worker: id };
      // A stop that came meanwhile: the run would start after the stop asked the threads to stop theirs.
      if (options.signal?.aborted) return handBack();
      let slot = free.pop();
      if (!slot) throw new Error('more jobs than worker threads');
      // BullMQ counts each time a worker running the job stopped answering and the job went back to the queue.
      const stalls = job.stalledCounter ?? 0;
      options.onEvent?.({ type: 'started', key: order.key, ...(stalls > 0 ? { retry: retryNote(stalls) } : {}) });
      let reported = 0;
      const execution = slot.run(order, (stage, done, total) => {
        // A few updates a second are plenty for a display, and each is a Redis call.
        const now = performance.now();
        if (now - reported < 1000 && done < total) return;
        reported = now;
        void job.updateProgress({ stage, done, total }).catch(() => {});
      });
      const settled = execution.then(
        () => {},
        () => {},
      );
      running.add(settled);
      void settled.then(() => running.delete(settled));
      try {
        const record = await execution;
        // Counted and said once the queue has taken the record (the worker's "completed").
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
        if (stopping) return handBack();
        return { type: 'failed', failure: error.failure, worker: id };
      } finally {
        free.push(slot);
      }
    };

    const serve = (claim: GridClaim) => {
      const worker = new HandingWorker(claim.queue, process_, {
        connection: connectionOptions(address),
        prefix: KEY_PREFIX,
        concurrency,
        lockDuration: lockMs,
        stalledInterval: lockMs,
        // A run that kills its worker every time (e.g. out of memory) is taken up again twice, then fails.
        maxStalledCount: RETRIES_AFTER_STALL,
        name: id,
      });
      // A result counts once the queue has it: a record the queue did not take is no run done.
      worker.on('completed', (job, result) => {
        const key = job.id ?? job.data.order.key;
        const since = held.get(key);
        held.delete(key);
        if (result.type === 'done') {
          counts.ran++;
          options.onEvent?.({ type: 'finished', key, seconds: since === undefined ? 0 : (performance.now() - since) / 1000 });
        } else {
          counts.failed++;
          options.onEvent?.({ type: 'failed', key, failure: result.failure });
        }
      });
      // A job this worker failed by an error of its own (not a run's failure, which is a result).
      worker.on('failed', (job, error) => {
        const key = job?.id;
        if (!key || !held.has(key)) return;
        held.delete(key);
        counts.failed++;
        options.onEvent?.({ type: 'failed', key, failure: { code: ErrorCode.Internal, message: error.message } });
      });
      worker.notStored = (job) => {
        const key = job.id ?? job.data.order.key;
        if (!held.delete(key)) return;
        counts.notStored++;
        options.onEvent?.({ type: 'unstored', key });
      };
      worker.on('error', (error) => {
        // BullMQ's word for a result it could not store (said above), and for the job it then cannot fail either;
        // "Missing key": the queue lost the job itself (Redis restarted without its data), not a trouble of now.
        if (/^Missing (lock|key) for job /.test(error.message)) return;
        // A lock lost during an outage: the outage was said, and what became of the job is said when its record is
        // handed in, or not. Otherwise (another worker took the job) it is no trouble of the queue's.
        if (/^could not renew lock for job /.test(error.message)) {
          if (!health.down) log(`the job queue at ${address.display}: ${error.message}`);
        } else health.failed(error);
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
  } catch (error) {
    if (isHyperprotoError(error)) throw error;
    throw new HyperprotoError(ErrorCode.Internal, `the queue worker failed: ${(error as Error).message}`, { cause: error });
  } finally {
    clearInterval(beating);
    // Runs in progress stop (each at its next check: a native call returns first), their jobs go back to wait and
    // the queue's connections close. BullMQ stops fetching as soon as close() is called: called later, each slot a
    // stopped run frees would take the next job, only to hand it back at once, over and over. The queue gets
    // STOP_WAIT_MS for its part: a worker must not hang on a Redis that is down; what it holds then goes back to the
    // queue when the locks expire.
    for (const slot of slots) slot.abort();
    const worker = serving?.worker;
    const closing = (async () => {
      await worker?.close().catch(() => {});
      await redis.del(workerKey(id)).catch(() => {});
      return true;
    })();
    await Promise.all(running);
    const handedBack = await Promise.race([closing, sleep(STOP_WAIT_MS).then(() => false)]);
    if (!handedBack) {
      log(
        `the job queue at ${address.display} did not answer within ${STOP_WAIT_MS / 1000} s: this worker stops without it${held.size > 0 ? `, and the ${held.size} run(s) it holds go back to the queue when their locks expire` : ''}`,
      );
      for (const key of held.keys()) {
        counts.returned++;
        options.onEvent?.({ type: 'abandoned', key, afterSeconds: lockMs / 1000 });
      }
      // Said and counted: the hand-backs the disconnect fails are no news, nor is the connection it closes.
      held.clear();
      health.mute();
      redis.removeAllListeners('reconnecting');
      redis.removeAllListeners('ready');
      worker?.removeAllListeners();
      worker?.on('error', () => {});
      void worker?.disconnect().catch(() => {});
    }
    await Promise.all(slots.map((slot) => slot.close()));
    redis.disconnect();
  }
  // Built after the stop, which counts the runs it returns.
  return { worker: id, queue: address.display, ...counts, concurrency, threads };
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

/**
 * A BullMQ worker that tells when the queue did not take a job's result: the job's lock expired while the queue did
 * not answer or was full ("Missing lock"), so the job went back to the queue and the record was lost with it, or the
 * queue lost the job itself ("Missing key": Redis restarted without its data; the coordinator queues it again).
 */
class HandingWorker extends Worker<JobData, JobResult> {
  notStored: (job: Job<JobData, JobResult>, error: Error) => void = () => {};

  protected override async handleCompleted(result: JobResult, job: Job<JobData, JobResult>, token: string, ...rest: unknown[]) {
    try {
      return await super.handleCompleted(result, job, token, ...(rest as []));
    } catch (error) {
      // A lost connection is retried until Redis answers, unless this worker stops (then its stop says so).
      if (!isConnectionError(error as Error)) this.notStored(job, error as Error);
      throw error;
    }
  }
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
