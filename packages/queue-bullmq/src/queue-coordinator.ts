import { ErrorCode, isHyperprotoError } from '@hyperproto/core';
import {
  recordedInputs,
  type Grid,
  type RunEvents,
  type RunFailure,
  type RunOrder,
  type RunScheduler,
  type SchedulerContext,
  type SchedulerFactory,
} from '@hyperproto/experiments';
import { Queue, type Job, type JobType } from 'bullmq';
import type { Redis } from 'ioredis';
import { requirementsOf } from './compatibility.js';
import { inputsFailure } from './input-check.js';
import {
  ATTEMPTS,
  CLAIM_KEY,
  checkCoordinator,
  heartbeatCoordinator,
  identityOf,
  KEY_PREFIX,
  otherGridError,
  queueNameOf,
  readClaim,
  REFUSALS_KEY,
  releaseCoordinator,
  retryNote,
  WORKER_KEY_PATTERN,
  type GridClaim,
  type JobData,
  type JobResult,
} from './grid-claim.js';
import { parseQueueAddress, type QueueAddress } from './queue-address.js';
import { CONNECT_TIMEOUT_MS, connectionOptions, connectRedis } from './queue-connection.js';
import { QueueHealth, silenceBullmqEvictionLine, warnOnEviction } from './queue-health.js';

export interface QueueSchedulerOptions {
  /** `redis://[[user]:password@]host[:port][/db]`. */
  readonly url: string;
  /** How often the coordinator looks at the queue, ms (default 1000). */
  readonly pollMs?: number;
  readonly connectTimeoutMs?: number;
}

/** A scheduler factory that can check its queue before the session touches the results directory. */
export type QueueSchedulerFactory = SchedulerFactory & {
  /** Connects and refuses a database that serves another grid or another coordinator; nothing is written there. */
  check(grid: Grid): Promise<void>;
  readonly address: QueueAddress;
  /** The workers run the jobs in processes of their own, and go on without the coordinator (see runGrid). */
  readonly remoteWorkers: true;
};

/** Every state a job of ours can be in. */
const ALL_STATES: JobType[] = ['wait', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'waiting-children'];

/**
 * The coordinator's side of a grid on a job queue: enqueues each unfinished run as a job whose id is the run's key
 * (re-enqueueing never duplicates), and hands every record a worker returns to the session, which stores it once.
 * Jobs stay in Redis until their record is stored, so a killed coordinator loses nothing: the next --resume collects
 * what came back meanwhile and re-enqueues whatever Redis lost. It filters BullMQ's eviction-policy line out of
 * console.warn for the whole process (see silenceBullmqEvictionLine): the coordinator says it once itself.
 */
export function queueScheduler(options: QueueSchedulerOptions): QueueSchedulerFactory {
  const address = parseQueueAddress(options.url);
  silenceBullmqEvictionLine();
  const refuseOthers = async (client: Redis, grid: Grid) => {
    await checkCoordinator(client, address, grid.name);
    const claim = await readClaim(client);
    if (claim && claim.identity !== identityOf(grid)) {
      const unfinished = await jobCount(claim.queue, address);
      if (unfinished > 0) throw otherGridError(address, claim, unfinished, grid.name);
    }
  };
  // Its own connection, closed again: the session may still stop before it starts the scheduler.
  const check = async (grid: Grid) => {
    const client = await connectRedis(address, options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
    try {
      await refuseOthers(client, grid);
    } finally {
      client.disconnect();
    }
  };
  const factory = async (context: SchedulerContext): Promise<RunScheduler> => {
    const client = await connectRedis(address, options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
    try {
      await refuseOthers(client, context.grid);
      const registered = new Set(context.registry.list().map(({ kind, name }) => `${kind}:${name}`));
      const claim: GridClaim = {
        queue: queueNameOf(context.grid),
        grid: context.grid.name,
        identity: identityOf(context.grid),
        source: context.gridSource,
        needs: requirementsOf(context.grid, context.runs, { registered, ...context.provenance }),
        since: new Date().toISOString(),
      };
      const previous = await readClaim(client);
      // A finished grid's empty queue is removed before this grid takes the database, and so is what the queues of
      // grids finished before it left.
      if (previous && previous.identity !== claim.identity) await obliterate(previous.queue, address);
      await removeDoneQueues(client, address, claim.queue).catch(() => {});
      const since = new Date().toISOString();
      await heartbeatCoordinator(client, context.grid.name, since);
      await client.set(CLAIM_KEY, JSON.stringify(claim));
      await client.del(REFUSALS_KEY);
      await warnOnEviction(client, address.display, context.log);
      const queue = new Queue<JobData, JobResult>(claim.queue, { connection: connectionOptions(address), prefix: KEY_PREFIX });
      return new QueueCoordinator(client, queue, address, claim, since, options.pollMs ?? 1000, context);
    } catch (error) {
      client.disconnect();
      throw error;
    }
  };
  return Object.assign(factory, { check, address, remoteWorkers: true as const });
}

class QueueCoordinator implements RunScheduler {
  readonly description: string;
  private slots = 0;
  /** Every unfinished run of the session has a job: from then on a stop leaves them to the workers. */
  private queued = false;
  private readonly refusals = new Set<string>();
  /** The attempt of each run last said to be a retry. */
  private readonly retries = new Map<string, number>();
  private readonly health: QueueHealth;
  /** The claim in Redis lacks what `claim` says now. */
  private claimChanged = false;
  private readonly log: (message: string) => void;
  private readonly inputs: SchedulerContext['inputs'];

  constructor(
    private readonly redis: Redis,
    private readonly queue: Queue<JobData, JobResult>,
    private readonly address: QueueAddress,
    private claim: GridClaim,
    private readonly since: string,
    private readonly pollMs: number,
    context: Pick<SchedulerContext, 'log' | 'inputs'>,
  ) {
    this.log = context.log;
    this.inputs = context.inputs;
    this.description = `the workers of the job queue at ${address.display} (queue ${claim.queue})`;
    // Redis restarted, unreachable or full: commands wait for it or are retried; said once per outage.
    this.health = new QueueHealth(address.display, this.log, 'records already in results.jsonl are kept');
    redis.on('reconnecting', () => this.health.lost());
    redis.on('ready', () => this.health.reconnected());
    queue.on('error', (error) => this.health.failed(error));
  }

  get interruptedNote(): string {
    if (this.health.down)
      return `the job queue at ${this.address.display} did not answer when it stopped: the runs it kept stay queued for the workers, and --resume collects their records and queues again whatever it lost`;
    return this.queued
      ? `the unfinished runs stay queued at ${this.address.display}, where workers keep running them; --resume collects their records`
      : `the unfinished runs were not all queued at ${this.address.display} when it stopped; --resume queues them`;
  }

  parallel(): number {
    return Math.max(1, this.slots);
  }

  async execute(orders: readonly RunOrder[], events: RunEvents, signal?: AbortSignal): Promise<void> {
    const pending = new Map(orders.map((order) => [order.key, order]));
    const active = new Map<string, string>();
    // The fingerprints of the files of the datasets with runs to come, as this session read them: the next look
    // hands them to the workers (in the claim) before it queues any job.
    const datasets = new Set(orders.map((order) => order.dataset));
    const inputs = Object.fromEntries(Object.entries(this.inputs).filter(([dataset]) => datasets.has(dataset)));
    if (Object.keys(inputs).length > 0) {
      this.claim = { ...this.claim, inputs };
      this.claimChanged = true;
    }
    const stopped = abortPromise(signal);
    // The first look queues the runs: a Ctrl-C meanwhile lets it finish (Redis answering within the connect
    // timeout), so that the runs do stay queued as the interrupted session says, and a later grid finds them.
    const queuing = stopped.then(() => sleep(CONNECT_TIMEOUT_MS));
    let looked = false;
    while (pending.size > 0 && !(signal?.aborted && looked)) {
      const look = this.poll(pending, active, events);
      // Left running when interrupted: closing the connection ends it, and that ending must not surface.
      look.catch(() => {});
      try {
        // A look that ended by the stop says nothing of the queue.
        if (await Promise.race([look.then(() => true), (this.queued ? stopped : queuing).then(() => false)])) this.health.wrote();
      } catch (error) {
        // The session's own errors (the results store) end the session; the queue's are retried until it answers.
        if (isHyperprotoError(error)) throw error;
        this.health.failed(error as Error);
      }
      looked = true;
      if (pending.size > 0) await Promise.race([sleep(this.pollMs), stopped]);
    }
    if (!signal?.aborted) await Promise.race([this.releaseIfEmpty(), stopped]);
  }

  async close(): Promise<void> {
    await Promise.race([releaseCoordinator(this.redis).catch(() => {}), sleep(1000)]);
    await Promise.race([this.queue.close().catch(() => {}), sleep(1000)]);
    this.redis.disconnect();
  }

  /** One look at the queue: collect what came back, follow what runs, and enqueue whatever is missing. */
  private async poll(pending: Map<string, RunOrder>, active: Map<string, string>, events: RunEvents): Promise<void> {
    await heartbeatCoordinator(this.redis, this.claim.grid, this.since);
    if (this.claimChanged) {
      await this.redis.set(CLAIM_KEY, JSON.stringify(this.claim));
      this.claimChanged = false;
    }
    // Redis restarted without its data: claim the database again so that workers find this grid's queue.
    if (!(await this.redis.exists(CLAIM_KEY))) await this.redis.set(CLAIM_KEY, JSON.stringify(this.claim), 'NX');

    for (const job of await this.queue.getJobs(['completed', 'failed'], 0, 199, true)) {
      if (!job.id) continue;
      // A job whose data Redis lost (evicted or deleted while its id stayed queued) failed on its worker with nothing
      // run: removed, it is missing below and queued again.
      if (!job.data?.order && pending.has(job.id)) {
        await job.remove();
        this.log(`${job.id}: the queue lost this job's data (evicted or deleted in Redis); queued again`);
        continue;
      }
      // The order the job carries, when it is this grid's: a job an earlier session queued (a coordinator killed and
      // resumed) keeps that session's, whose model placement (`.s<seed>.partial-<its pid>`) is where the worker wrote
      // the model, so that is where the session settles or removes it.
      const carried = job.data?.identity === this.claim.identity && job.data.order?.key === job.id ? job.data.order : undefined;
      const order = carried ?? pending.get(job.id);
      if (order) {
        const result = job.returnvalue;
        if (job.finishedOn && result?.type === 'done') {
          const refused = this.otherFiles(order, result.record.data, result.worker);
          if (refused) await events.failed(order, refused);
          else await events.finished(order, result.record);
        } else if (result?.type === 'failed') await events.failed(order, result.failure);
        else await events.failed(order, jobFailure(job));
      }
      pending.delete(job.id);
      active.delete(job.id);
      // Only once the record is stored: a coordinator killed before this finds the job again and skips it.
      await job.remove().catch(() => {});
    }

    const running = new Set<string>();
    for (const job of await this.queue.getJobs(['active'], 0, -1)) {
      if (!job.id || !pending.has(job.id)) continue;
      running.add(job.id);
      if (!active.has(job.id)) {
        active.set(job.id, '');
        events.started(job.id);
      }
      // Taken up again after its worker stopped answering: BullMQ counts each such stop.
      const stalls = job.stalledCounter ?? 0;
      if (stalls > 0 && this.retries.get(job.id) !== stalls) {
        this.retries.set(job.id, stalls);
        this.log(`${job.id}: ${retryNote(stalls)}`);
      }
      const progress = job.progress as { stage?: unknown; done?: unknown; total?: unknown } | number;
      if (typeof progress === 'object' && typeof progress.stage === 'string') {
        const text = JSON.stringify(progress);
        if (active.get(job.id) !== text) {
          active.set(job.id, text);
          events.progress(job.id, progress.stage, Number(progress.done) || 0, Number(progress.total) || 1);
        }
      }
    }
    // A job whose worker died goes back to wait once its lock expires: it waits again here too.
    for (const key of [...active.keys()]) {
      if (!running.has(key) && pending.has(key)) {
        active.delete(key);
        events.released(key);
      }
    }

    const known = new Set(await this.queue.getRanges(ALL_STATES, 0, -1));
    const missing = [...pending.values()].filter((order) => !known.has(order.key));
    if (missing.length > 0) {
      await this.queue.addBulk(
        missing.map((order) => ({
          name: 'run',
          data: { identity: this.claim.identity, order },
          opts: { jobId: order.key, removeOnComplete: false, removeOnFail: false, attempts: 1 },
        })),
      );
    }
    this.queued = true;

    this.slots = await this.workerSlots();
    await this.showRefusals();
  }

  /**
   * Why a record must not be stored: it says its run read other files than this coordinator's (a worker's copy
   * that changed after its check, or a worker that checks nothing). A record that says nothing of its files passes.
   */
  private otherFiles(order: RunOrder, data: unknown, worker: string): RunFailure | undefined {
    const expected = this.claim.inputs?.[order.dataset];
    const actual = recordedInputs(data);
    return expected && actual ? inputsFailure(order.dataset, expected, actual, worker, 'coordinator') : undefined;
  }

  /** The concurrency of every live worker together. */
  private async workerSlots(): Promise<number> {
    let total = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', WORKER_KEY_PATTERN, 'COUNT', 100);
      cursor = next;
      if (keys.length === 0) continue;
      for (const value of await this.redis.mget(...keys)) {
        const concurrency = Number((JSON.parse(value ?? '{}') as { concurrency?: unknown }).concurrency);
        if (Number.isInteger(concurrency) && concurrency > 0) total += concurrency;
      }
    } while (cursor !== '0');
    return total;
  }

  private async showRefusals(): Promise<void> {
    const refusals = await this.redis.hgetall(REFUSALS_KEY);
    for (const [worker, message] of Object.entries(refusals)) {
      if (this.refusals.has(worker)) continue;
      this.refusals.add(worker);
      this.log(`worker ${worker} refused grid "${this.claim.grid}": ${message}`);
    }
  }

  /** The grid is done: remove its queue and give the database back, unless jobs of it are still there. */
  private async releaseIfEmpty(): Promise<void> {
    const counts = await this.queue.getJobCounts(...ALL_STATES);
    if (Object.values(counts).some((n) => n > 0)) return;
    await this.queue.obliterate({ force: true });
    // Housekeeping: a failure is no failure of this grid, and the next coordinator tries again.
    await removeDoneQueues(this.redis, this.address, this.claim.queue).catch(() => {});
    const claim = await readClaim(this.redis);
    if (claim?.identity === this.claim.identity) await this.redis.del(CLAIM_KEY, REFUSALS_KEY);
  }
}

function jobFailure(job: Job<JobData, JobResult>): RunFailure {
  const reason = job.failedReason || 'no reason given';
  return {
    code: ErrorCode.Internal,
    message: /stalled more than allowable limit/.test(reason)
      ? `the workers running it stopped answering ${job.stalledCounter || ATTEMPTS} times (killed, out of memory, or cut off from the queue), so it is not taken up again; look at what ends the worker on the run (e.g. its memory), then --resume runs it again`
      : `the job failed on its worker: ${reason}`,
  };
}

async function jobCount(queueName: string, address: QueueAddress): Promise<number> {
  // Counting writes nothing: a Queue writes its `meta` hash when it starts, unless told not to.
  const queue = new Queue(queueName, { connection: connectionOptions(address), prefix: KEY_PREFIX, skipMetasUpdate: true });
  try {
    const counts = await queue.getJobCounts(...ALL_STATES);
    return Object.values(counts).reduce((a, b) => a + b, 0);
  } finally {
    await queue.close();
  }
}

async function obliterate(queueName: string, address: QueueAddress): Promise<void> {
  const queue = new Queue(queueName, { connection: connectionOptions(address), prefix: KEY_PREFIX, skipMetasUpdate: true });
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
  }
}

/**
 * Removes what the queues of finished grids left in the database. The coordinator obliterates its grid's queue when
 * the grid is done, but every worker still serving it (workers serve the last grid until another takes the database)
 * writes BullMQ's `meta` hash of the queue again at its next stalled-job check, and that hash has no TTL: one would
 * stay per grid. A queue of another grid that holds no job is finished, and the one coordinator of the database is
 * this one, so removing it loses nothing; a worker that still serves it may write the hash again, which the next
 * grid's coordinator removes. A grid's own hash, written again after its coordinator removed its queue, stays until
 * then (or until the workers stop serving it).
 */
async function removeDoneQueues(client: Redis, address: QueueAddress, current: string): Promise<void> {
  const metaKey = /^(.+):meta$/;
  const names = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${KEY_PREFIX}:grid-*:meta`, 'COUNT', 100);
    cursor = next;
    for (const key of keys) {
      const name = metaKey.exec(key.slice(KEY_PREFIX.length + 1))?.[1];
      if (name && name !== current) names.add(name);
    }
  } while (cursor !== '0');
  for (const name of names) if ((await jobCount(name, address)) === 0) await obliterate(name, address);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function abortPromise(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
