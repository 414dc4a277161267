// A coordinator killed and resumed (`experiment --queue ... --resume`) with saved models, against a real Redis and
// real BullMQ workers that run each job's order as `hyperproto worker` does (the fake registry of
// @hyperproto/experiments' tests, in this thread) and write its model where the order says.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import {
  collectVersions,
  importRegistryModule,
  InlineSlot,
  loadRegistry,
  MODELS_DIR,
  parseGrid,
  runGrid,
  SAVE_MODELS_FILE,
  type RunOrder,
  type SaveModels,
} from '@hyperproto/experiments';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { identityOf, KEY_PREFIX, queueNameOf, type JobData, type JobResult } from './grid-claim.js';
import { parseQueueAddress } from './queue-address.js';
import { queueScheduler } from './queue-coordinator.js';
import { connectionOptions } from './queue-connection.js';
import { redisMissing, startRedisServer, type RedisServer } from './testing.js';

const missing = redisMissing();
if (missing) console.log(`skipping the coordinator's saved-model tests: ${missing}`);

const registryModule = fileURLToPath(new URL('../../experiments/src/test-support/fake-registry-module.ts', import.meta.url));
// The pid of the killed coordinator that queued the earlier session's jobs: never this process's.
const OLD_PID = process.pid === 4_000_001 ? 4_000_002 : 4_000_001;

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'hyperproto-queue-models-'));
  return () => rmSync(root, { recursive: true, force: true });
});

/** Every entry under models/<dataset>/<model>/, hidden ones (staging directories) included. */
function entries(out: string): string[] {
  const models = join(out, MODELS_DIR);
  if (!existsSync(models)) return [];
  return readdirSync(models)
    .filter((d) => d !== SAVE_MODELS_FILE)
    .flatMap((d) => readdirSync(join(models, d)).flatMap((m) => readdirSync(join(models, d, m)).map((e) => `${d}/${m}/${e}`)))
    .sort();
}

/**
 * A worker as `hyperproto worker` is: runs each job's order and writes its model at the order's placement.
 * `stalledInterval`: how often it looks for stalled jobs (BullMQ's default 30 s), which writes the queue's meta hash.
 */
async function startWorker(url: string, queueName: string, stalledInterval = 30_000): Promise<Worker<JobData, JobResult>> {
  const module = await importRegistryModule(registryModule);
  const { registry, plugins } = await loadRegistry(module, {});
  const slot = new InlineSlot(registry, { versions: await collectVersions(module), git: null, plugins }, module.writeRunDirectory);
  return new Worker<JobData, JobResult>(
    queueName,
    async (job) => ({ type: 'done', record: await slot.run(job.data.order, () => {}), worker: 'elsewhere/7' }),
    { connection: connectionOptions(parseQueueAddress(url)), prefix: KEY_PREFIX, stalledInterval },
  );
}

async function until(what: string, condition: () => Promise<boolean> | boolean, seconds = 30): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`waited ${seconds} s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.skipIf(missing)('a coordinator resumed after it was killed, saving models', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  const db = (n: number) => server.url.replace(/\/0$/, `/${n}`);

  const grid = parseGrid({
    name: 'models',
    seeds: 3,
    datasets: [{ id: 'c4', name: 'blobs', options: { classes: 4 } }],
    models: [{ id: 'softmax', head: 'softmax' }],
  });

  /**
   * The state a coordinator with pid OLD_PID leaves when it is killed: the results directory, and jobs whose orders
   * carry its model placements (`.s<seed>.partial-<OLD_PID>`). s2 finished while no coordinator ran (its model waits in
   * its staging directory, its record in Redis), s1 still waits for a worker, and s0's job was lost (Redis restarted
   * without its data). A staging directory of s0 from before is left too, which no record will settle.
   */
  async function killedSession(url: string, out: string, saveModels: SaveModels): Promise<void> {
    // A real first session, stopped once it has queued its jobs (no worker runs yet).
    const stop = new AbortController();
    await expect(
      runGrid({
        grid,
        out,
        registryModule,
        saveModels,
        scheduler: queueScheduler({ url, pollMs: 50 }),
        signal: stop.signal,
        onLog: (message) => {
          if (/runs to do/.test(message)) setTimeout(() => stop.abort(), 200);
        },
      }),
    ).rejects.toMatchObject({ code: ErrorCode.Aborted });
    const queue = new Queue<JobData, JobResult>(queueNameOf(grid), {
      connection: connectionOptions(parseQueueAddress(url)),
      prefix: KEY_PREFIX,
    });
    try {
      const jobs = await queue.getJobs(['wait', 'prioritized']);
      expect(jobs.map((job) => job.id).sort()).toEqual(['c4/softmax/s0', 'c4/softmax/s1', 'c4/softmax/s2']);
      // Made by another process: its placements name that process.
      const orders = new Map<string, RunOrder>();
      for (const job of jobs) {
        const order = job.data.order;
        expect(order.save?.dir).toBe(join(out, MODELS_DIR, `c4/softmax/.s${order.seed}.partial-${process.pid}`));
        orders.set(job.id!, { ...order, save: { dir: order.save!.dir.replace(/\d+$/, String(OLD_PID)), target: order.save!.target } });
        await job.remove();
      }
      const add = (key: string) =>
        queue.add(
          'run',
          { identity: identityOf(grid), order: orders.get(key)! },
          { jobId: key, removeOnComplete: false, removeOnFail: false },
        );
      await add('c4/softmax/s2');
      const worker = await startWorker(url, queueNameOf(grid));
      await until('s2 to finish', async () => (await queue.getJobState('c4/softmax/s2')) === 'completed');
      await worker.close();
      await add('c4/softmax/s1');
    } finally {
      await queue.close();
    }
    // What tells the model written while the coordinator was down from one written later.
    writeFileSync(join(out, MODELS_DIR, `c4/softmax/.s2.partial-${OLD_PID}/written-while-down`), '');
    mkdirSync(join(out, MODELS_DIR, `c4/softmax/.s0.partial-${OLD_PID}`));
    writeFileSync(join(out, MODELS_DIR, `c4/softmax/.s0.partial-${OLD_PID}/run.json`), '{');
    expect(entries(out)).toEqual([`c4/softmax/.s0.partial-${OLD_PID}`, `c4/softmax/.s2.partial-${OLD_PID}`]);
  }

  /** The same command with --resume; the workers start once it runs, so that s1 finishes after it started. */
  async function resumed(url: string, out: string, saveModels: SaveModels) {
    const logs: string[] = [];
    let worker: Promise<Worker<JobData, JobResult>> | undefined;
    try {
      const outcome = await runGrid({
        grid,
        out,
        registryModule,
        saveModels,
        resume: true,
        scheduler: queueScheduler({ url, pollMs: 50 }),
        onLog: (message) => {
          logs.push(message);
          if (/runs to do/.test(message)) worker = startWorker(url, queueNameOf(grid));
        },
      });
      return { outcome, logs };
    } finally {
      await (await worker)?.close();
    }
  }

  const saved = (out: string, seed: number) => join(out, MODELS_DIR, `c4/softmax/s${seed}`);
  const runJson = (out: string, seed: number) => JSON.parse(readFileSync(join(saved(out, seed), 'run.json'), 'utf8'));

  it("settles each model where its job's worker wrote it, also one written while no coordinator ran (all)", async () => {
    const url = db(1);
    const out = join(root, 'all');
    await killedSession(url, out, 'all');
    const { outcome, logs } = await resumed(url, out, 'all');
    expect(logs.filter((line) => /not saved|hint:/.test(line))).toEqual([]);
    expect(outcome).toMatchObject({ ran: 3, failed: [] });
    // Every run's model in place, and no staging directory left: the grid is complete.
    expect(entries(out)).toEqual(['c4/softmax/s0', 'c4/softmax/s1', 'c4/softmax/s2']);
    expect(outcome.models).toMatchObject({ mode: 'all', removed: [], held: ['c4/softmax/s0', 'c4/softmax/s1', 'c4/softmax/s2'] });
    expect([...outcome.models!.saved].sort()).toEqual(['c4/softmax/s0', 'c4/softmax/s1', 'c4/softmax/s2']);
    expect(existsSync(join(saved(out, 2), 'written-while-down'))).toBe(true);
    expect([0, 1, 2].map((seed) => runJson(out, seed))).toEqual([
      { seed: 0, bestEpoch: 2, target: saved(out, 0) },
      { seed: 1, bestEpoch: 3, target: saved(out, 1) },
      { seed: 2, bestEpoch: 4, target: saved(out, 2) },
    ]);
    expect(logs).toContain(`removed 1 model directory no run will settle: ${join(out, MODELS_DIR, `c4/softmax/.s0.partial-${OLD_PID}`)}`);
  });

  it('keeps the best seed under best when that seed finished while no coordinator ran', async () => {
    const url = db(2);
    const out = join(root, 'best');
    await killedSession(url, out, 'best');
    const { outcome, logs } = await resumed(url, out, 'best');
    expect(logs.filter((line) => /not saved|hint:/.test(line))).toEqual([]);
    expect(outcome).toMatchObject({ ran: 3, failed: [] });
    // s2 validates best (validation loss 1/5 against 1/4 and 1/3, accuracy 1 each).
    expect(entries(out)).toEqual(['c4/softmax/s2']);
    expect(outcome.models?.held).toEqual(['c4/softmax/s2']);
    expect(existsSync(join(saved(out, 2), 'written-while-down'))).toBe(true);
    expect(runJson(out, 2)).toEqual({ seed: 2, bestEpoch: 4, target: saved(out, 2) });
  });

  it('leaves no key without a TTL of a finished grid in Redis, not even the meta hash its workers wrote again', async () => {
    const url = db(3);
    const client = new Redis(url);
    const first = parseGrid({ ...grid, name: 'first', seeds: 2 });
    const second = parseGrid({ ...grid, name: 'second', seeds: 1 });
    const meta = (g: typeof grid) => `${KEY_PREFIX}:${queueNameOf(g)}:meta`;
    try {
      // A worker that looks for stalled jobs every 200 ms, and serves the grid's queue after the grid is done.
      const worker = await startWorker(url, queueNameOf(first), 200);
      try {
        const outcome = await runGrid({
          grid: first,
          out: join(root, 'first'),
          registryModule,
          scheduler: queueScheduler({ url, pollMs: 50 }),
        });
        expect(outcome).toMatchObject({ ran: 2, failed: [] });
        // The coordinator removed the queue; the worker's next look writes BullMQ's meta hash again, without a TTL.
        await until('the worker to write the meta hash again', async () => (await client.exists(meta(first))) === 1);
        expect(await client.ttl(meta(first))).toBe(-1);
      } finally {
        await worker.close();
      }
      // The next grid's coordinator removes it, and its own queue once that grid is done.
      const next = await startWorker(url, queueNameOf(second));
      try {
        const outcome = await runGrid({
          grid: second,
          out: join(root, 'second'),
          registryModule,
          scheduler: queueScheduler({ url, pollMs: 50 }),
        });
        expect(outcome).toMatchObject({ ran: 1, failed: [] });
      } finally {
        await next.close();
      }
      const left = await client.keys(`${KEY_PREFIX}:*`);
      expect(left.filter((key) => key.startsWith(`${KEY_PREFIX}:${queueNameOf(first)}:`))).toEqual([]);
      // The second worker's stalled-job check, with a TTL, at most.
      expect(left.filter((key) => key !== `${KEY_PREFIX}:${queueNameOf(second)}:stalled-check`)).toEqual([]);
    } finally {
      client.disconnect();
    }
  });
});
