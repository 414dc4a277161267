// Against a real Redis (Debian's redis-server on a free 127.0.0.1 port): every way of not getting a connection is a
// clear error naming the address, in seconds.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { parseQueueAddress } from './queue-address.js';
import { connectRedis } from './queue-connection.js';
import { freePort, redisMissing, startRedisServer, type RedisServer } from './testing.js';

const missing = redisMissing();
if (missing) console.log(`skipping the Redis connection tests: ${missing}`);

async function failure(url: string, timeoutMs?: number): Promise<{ error: Record<string, unknown>; seconds: number }> {
  const started = performance.now();
  try {
    const client = await connectRedis(parseQueueAddress(url), timeoutMs);
    client.disconnect();
  } catch (error) {
    return { error: error as Record<string, unknown>, seconds: (performance.now() - started) / 1000 };
  }
  throw new Error(`connected to ${url}`);
}

describe.skipIf(missing)('connectRedis', () => {
  let server: RedisServer;
  let silent: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    server = await startRedisServer({ password: 'right horse' });
    // Accepts connections and never answers: a wrong port that happens to be something else's.
    silent = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    silent?.close();
    await server?.stop();
  });

  it('connects with the right password', async () => {
    const client = await connectRedis(parseQueueAddress(server.url));
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  it('says the queue needs a password when none is given', async () => {
    const { error } = await failure(`redis://127.0.0.1:${server.port}/0`);
    expect(error).toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: `the job queue at redis://127.0.0.1:${server.port}/0 needs a password`,
    });
  });

  it('says the password was refused, without showing it', async () => {
    const { error } = await failure(`redis://:wrong-horse@127.0.0.1:${server.port}/0`);
    expect(error).toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: `the job queue at redis://:***@127.0.0.1:${server.port}/0 refused the password`,
    });
    expect(JSON.stringify(error)).not.toContain('wrong-horse');
  });

  it('refuses an address where nothing listens, at once', async () => {
    const port = await freePort();
    const { error, seconds } = await failure(`redis://127.0.0.1:${port}/0`);
    expect(error).toMatchObject({
      code: ErrorCode.Io,
      message: `cannot reach the job queue at redis://127.0.0.1:${port}/0: connection refused`,
    });
    expect(seconds).toBeLessThan(2);
  });

  it('gives up on a server that never answers after the timeout instead of hanging', async () => {
    const port = (silent.address() as { port: number }).port;
    const { error, seconds } = await failure(`redis://127.0.0.1:${port}/0`, 1000);
    expect(error).toMatchObject({
      code: ErrorCode.Io,
      message: `cannot reach the job queue at redis://127.0.0.1:${port}/0: no answer within 1 s`,
    });
    expect(seconds).toBeGreaterThanOrEqual(0.9);
    expect(seconds).toBeLessThan(3);
  });
});
