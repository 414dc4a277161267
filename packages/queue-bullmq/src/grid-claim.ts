import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { ErrorCode, HyperprotoError, type DatasetInput } from '@hyperproto/core';
import {
  canonicalJson,
  gridIdentity,
  processAlive,
  type Grid,
  type RunFailure,
  type RunOrder,
  type RunRecord,
} from '@hyperproto/experiments';
import type { Redis } from 'ioredis';
import type { Requirements } from './compatibility.js';
import { otherDatabase, type QueueAddress } from './queue-address.js';

/** Every key hyperproto keeps in the queue's Redis database starts with this (BullMQ's queues too). */
export const KEY_PREFIX = 'hyperproto';
/** Which grid the database serves now: workers read it to know which queue to take jobs from. */
export const CLAIM_KEY = `${KEY_PREFIX}:grid`;
/** The coordinator collecting the records, refreshed while it runs. */
export const COORDINATOR_KEY = `${KEY_PREFIX}:coordinator`;
/** Why workers refused the grid, by worker: the coordinator shows them. */
export const REFUSALS_KEY = `${KEY_PREFIX}:refusals`;
/** One key per live worker (host/pid), refreshed while it runs: its concurrency, for the ETA. */
export const WORKER_KEY_PATTERN = `${KEY_PREFIX}:worker:*`;
export const workerKey = (id: string) => `${KEY_PREFIX}:worker:${id}`;
/** Heartbeat keys live this long without a refresh: a killed process is forgotten after it. */
export const HEARTBEAT_SECONDS = 15;
/**
 * How often a run whose worker stopped answering (killed, out of memory, cut off from the queue) is taken up again
 * by another: a run that kills its worker every time then fails after this many more attempts.
 */
export const RETRIES_AFTER_STALL = 2;
export const ATTEMPTS = RETRIES_AFTER_STALL + 1;

/** What a run taken up again after a stall is (`stalls` counts the stops so far), as both sides say it. */
export function retryNote(stalls: number): string {
  return `attempt ${stalls + 1} of ${ATTEMPTS}, because the worker running it before stopped answering (killed, out of memory, or cut off from the queue)`;
}

/** What a job carries: the run, and the grid it belongs to. */
export interface JobData {
  readonly identity: string;
  readonly order: RunOrder;
}

/** What a worker returns for a job. A failed run is an outcome too; only a failure of the worker itself fails the job. */
export type JobResult =
  | { readonly type: 'done'; readonly record: RunRecord; readonly worker: string }
  | { readonly type: 'failed'; readonly failure: RunFailure; readonly worker: string };

/** The grid a database serves. */
export interface GridClaim {
  readonly queue: string;
  readonly grid: string;
  /** Hash of the grid's identity (datasets, models, seeds, trainer, engine, evaluators). */
  readonly identity: string;
  readonly source: string;
  /** Plugins and versions a worker must have to run the grid's jobs. */
  readonly needs: Requirements;
  /**
   * The coordinator's fingerprints of the files of each dataset that reads files, by dataset id: a worker runs a
   * job only on files of the same content, and the coordinator stores only records of them. Rewritten by each
   * session, so jobs left in Redis are checked against the files of the coordinator collecting them. Absent from
   * the claims of coordinators that did not send them: their jobs run unchecked.
   */
  readonly inputs?: Readonly<Record<string, readonly DatasetInput[]>>;
  readonly since: string;
}

export interface CoordinatorClaim {
  readonly host: string;
  readonly pid: number;
  readonly grid: string;
  readonly since: string;
}

export function identityOf(grid: Grid): string {
  return createHash('sha256')
    .update(canonicalJson(gridIdentity(grid)))
    .digest('hex')
    .slice(0, 16);
}

/** The grid's own queue: its name and identity, so jobs of two grids never share a queue. */
export function queueNameOf(grid: Grid): string {
  const slug =
    grid.name
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'grid';
  return `grid-${slug}-${identityOf(grid)}`;
}

export function readClaim(redis: Redis): Promise<GridClaim | undefined> {
  return readJsonKey(redis, CLAIM_KEY);
}

export function readCoordinator(redis: Redis): Promise<CoordinatorClaim | undefined> {
  return readJsonKey(redis, COORDINATOR_KEY);
}

/** The JSON value stored at `key`, or undefined when there is none or it is not JSON (a claim nobody holds). */
async function readJsonKey<T>(redis: Redis, key: string): Promise<T | undefined> {
  const text = await redis.get(key);
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a database that another coordinator is using: one coordinator collects a queue's records (a usage conflict,
 * as another grid's jobs are). A coordinator on this machine whose process is gone (killed) is taken over at once;
 * one elsewhere is forgotten once its heartbeat key expires.
 */
export async function checkCoordinator(redis: Redis, address: QueueAddress, wanted: string): Promise<void> {
  const holder = await readCoordinator(redis);
  if (!holder || (holder.host === hostname() && (holder.pid === process.pid || !processAlive(holder.pid)))) return;
  throw new HyperprotoError(
    ErrorCode.InvalidOptions,
    `the job queue at ${address.display} is in use by another coordinator (pid ${holder.pid} on ${holder.host}, grid "${holder.grid}", since ${holder.since}), so grid "${wanted}"${wanted === holder.grid ? ' (the same grid)' : ''} cannot run there now`,
    {
      hint: `One coordinator per Redis database: wait for it to finish, or use another database (e.g. ${otherDatabase(address)}). A killed coordinator's claim expires ${HEARTBEAT_SECONDS} s after it stopped.`,
    },
  );
}

export async function heartbeatCoordinator(redis: Redis, grid: string, since: string): Promise<void> {
  const claim: CoordinatorClaim = { host: hostname(), pid: process.pid, grid, since };
  await redis.set(COORDINATOR_KEY, JSON.stringify(claim), 'EX', HEARTBEAT_SECONDS);
}

export async function releaseCoordinator(redis: Redis): Promise<void> {
  const holder = await readCoordinator(redis);
  if (holder && holder.host === hostname() && holder.pid === process.pid) await redis.del(COORDINATOR_KEY);
}

/**
 * Refuses a database that serves another grid whose jobs are not all collected: its workers, queue and records
 * would mix with this grid's. `unfinished` counts the other queue's jobs.
 */
export function otherGridError(address: QueueAddress, claim: GridClaim, unfinished: number, wanted: string): HyperprotoError {
  return new HyperprotoError(
    ErrorCode.InvalidOptions,
    `the job queue at ${address.display} serves grid "${claim.grid}" (from ${claim.source}, queue ${claim.queue}), not "${wanted}": ${unfinished} of its jobs are not finished and collected`,
    {
      hint: `Finish that grid first (its coordinator collects the records with --resume), use another Redis database (e.g. ${otherDatabase(address)}), or abandon it by emptying this database (redis-cli -n ${address.db} FLUSHDB).`,
    },
  );
}
