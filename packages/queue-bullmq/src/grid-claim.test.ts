// Which grid a Redis database serves, against a real Redis: a coordinator refuses a database that holds another
// grid's unfinished jobs or that another live coordinator uses, before anything is written anywhere.
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { parseGrid } from '@hyperproto/experiments';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CLAIM_KEY, COORDINATOR_KEY, identityOf, KEY_PREFIX, queueNameOf, type GridClaim } from './grid-claim.js';
import { queueScheduler } from './queue-coordinator.js';
import { redisMissing, startRedisServer, type RedisServer } from './testing.js';

const missing = redisMissing();
if (missing) console.log(`skipping the grid claim tests: ${missing}`);

const grid = (name: string, classes: number) =>
  parseGrid({ name, seeds: 1, datasets: [{ id: `c${classes}`, options: { classes } }], models: [{ id: 'softmax', head: 'softmax' }] });
const seed = grid('seed', 10);
const other = grid('other', 20);

describe('queue names', () => {
  it('derive from the grid: its name and a hash of what it runs', () => {
    expect(queueNameOf(seed)).toMatch(/^grid-seed-[0-9a-f]{16}$/);
    expect(queueNameOf(grid('seed', 11))).not.toBe(queueNameOf(seed));
    // Labels and notes are not what a grid runs.
    expect(identityOf(parseGrid({ ...seed, description: 'the same runs' }))).toBe(identityOf(seed));
  });
});

describe.skipIf(missing)('a coordinator checking a database', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
  });
  afterEach(async () => {
    await redis.flushdb();
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  const claimFor = (g: typeof seed): GridClaim => ({
    queue: queueNameOf(g),
    grid: g.name,
    identity: identityOf(g),
    source: `preset ${g.name}`,
    needs: { plugins: [], versions: {} },
    since: '2026-01-01T00:00:00.000Z',
  });

  it('refuses a database serving another grid with unfinished jobs, naming both grids and the address', async () => {
    await redis.set(CLAIM_KEY, JSON.stringify(claimFor(seed)));
    const queue = new Queue(queueNameOf(seed), { connection: { host: '127.0.0.1', port: server.port }, prefix: KEY_PREFIX });
    await queue.add('run', { identity: identityOf(seed) }, { jobId: 'c10/softmax/s0' });
    await queue.close();
    await expect(queueScheduler({ url: server.url }).check(other)).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: `the job queue at ${server.url} serves grid "seed" (from preset seed, queue ${queueNameOf(seed)}), not "other": 1 of its jobs are not finished and collected`,
      hint: expect.stringMatching(/redis:\/\/127\.0\.0\.1:\d+\/1/),
    });
    // The same grid is welcome: its coordinator continues it.
    await expect(queueScheduler({ url: server.url }).check(seed)).resolves.toBeUndefined();
  });

  it('takes a database whose grid left no jobs', async () => {
    await redis.set(CLAIM_KEY, JSON.stringify(claimFor(seed)));
    await expect(queueScheduler({ url: server.url }).check(other)).resolves.toBeUndefined();
  });

  it('refuses a database that a live coordinator uses, and takes over from one that is gone', async () => {
    const sleeper = spawn('sleep', ['30']);
    try {
      await redis.set(COORDINATOR_KEY, JSON.stringify({ host: hostname(), pid: sleeper.pid, grid: 'seed', since: 'then' }));
      // A usage conflict, as another grid's jobs are (exit 2), naming both grids.
      await expect(queueScheduler({ url: server.url }).check(other)).rejects.toMatchObject({
        code: ErrorCode.InvalidOptions,
        message: `the job queue at ${server.url} is in use by another coordinator (pid ${sleeper.pid} on ${hostname()}, grid "seed", since then), so grid "other" cannot run there now`,
      });
      await expect(queueScheduler({ url: server.url }).check(seed)).rejects.toMatchObject({
        message: expect.stringMatching(/, so grid "seed" \(the same grid\) cannot run there now$/),
      });
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('exit', resolve));
    }
    await expect(queueScheduler({ url: server.url }).check(seed)).resolves.toBeUndefined();
  });
});
