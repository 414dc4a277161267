// Against a real Redis (Debian's redis-server on a free 127.0.0.1 port): every way of not getting a connection is a
// clear error naming the address, in seconds.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
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
  let open: RedisServer;
  let silent: Server;
  let web: HttpServer;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    server = await startRedisServer({ password: 'right horse' });
    open = await startRedisServer();
    // Accepts connections and never answers: a wrong port that happens to be something else's.
    silent = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    // Another service at the address: it answers, but not as Redis.
    web = createHttpServer((_, response) => response.end('<html>hello</html>')).listen(0, '127.0.0.1');
    await new Promise((resolve) => web.once('listening', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    silent?.close();
    web?.close();
    await server?.stop();
    await open?.stop();
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

  it('says that Redis refused a user name given without a password (the colon forgotten), without showing it', async () => {
    // The password where the user name goes: user "right horse", no password.
    const { error } = await failure(`redis://right%20horse@127.0.0.1:${server.port}/0`);
    expect(error).toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: `the job queue at redis://***@127.0.0.1:${server.port}/0 refused the user name, given without a password`,
      hint: expect.stringContaining('redis://:PASSWORD@HOST:PORT/DB (with the colon)'),
    });
    expect(JSON.stringify(error)).not.toMatch(/right/);
    expect((error as unknown as Error).message).not.toMatch(/refused the password/);
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

  it('refuses a database the server does not have, naming how many it has, instead of landing on database 0', async () => {
    const { error } = await failure(`redis://127.0.0.1:${open.port}/99`);
    expect(error).toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: `the job queue at redis://127.0.0.1:${open.port}/99: that Redis has no database 99 (it has 16: 0 to 15)`,
      hint: `Give a database from 0 to 15 at the end of the URL (e.g. redis://127.0.0.1:${open.port}/0), or raise "databases" in the server's redis.conf.`,
    });
    const client = await connectRedis(parseQueueAddress(`redis://127.0.0.1:${open.port}/15`));
    await client.set('where', 'fifteen');
    expect(await client.get('where')).toBe('fifteen');
    client.disconnect();
  });

  it('says that SELECT was refused, and why, when the server answers but the user may not change databases', async () => {
    const admin = await connectRedis(parseQueueAddress(open.url));
    await admin.call('ACL', 'SETUSER', 'nosel', 'on', '>pw', '~*', '&*', '+@all', '-select');
    admin.disconnect();
    const { error } = await failure(`redis://nosel:pw@127.0.0.1:${open.port}/3`);
    expect(error).toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringMatching(
        new RegExp(
          `^the job queue at redis://nosel:\\*\\*\\*@127\\.0\\.0\\.1:${open.port}/3: that Redis refused SELECT 3 \\(NOPERM .*select`,
        ),
      ),
      hint: `Use database 0 (redis://nosel:***@127.0.0.1:${open.port}/0): a Redis Cluster, and some services, offer no other; or grant the ACL user SELECT (ACL SETUSER USER +select).`,
    });
  });

  it('says that a listener which hangs up at once (a tunnel whose Redis is down) does not speak Redis', async () => {
    const closer = createServer((socket) => socket.destroy()).listen(0, '127.0.0.1');
    await new Promise((resolve) => closer.once('listening', resolve));
    try {
      const port = (closer.address() as { port: number }).port;
      const { error } = await failure(`redis://127.0.0.1:${port}/0`);
      expect(error).toMatchObject({
        code: ErrorCode.Io,
        message: `the job queue at redis://127.0.0.1:${port}/0 accepted the connection but closed it without speaking Redis (another service, a TLS-only port, or a tunnel or proxy whose Redis is down)`,
        hint: `Check that Redis runs at 127.0.0.1:${port} (or behind the tunnel or proxy there), and whether that Redis expects TLS (then give rediss://), or correct --queue.`,
      });
    } finally {
      closer.close();
    }
  });

  it('says that another service at the address does not answer as Redis', async () => {
    const port = (web.address() as { port: number }).port;
    const { error } = await failure(`redis://127.0.0.1:${port}/0`);
    expect(error).toMatchObject({
      code: ErrorCode.Io,
      // Its answer, or the reset that may overtake it.
      message: expect.stringMatching(
        new RegExp(
          `^the job queue at redis://127\\.0\\.0\\.1:${port}/0 (does not answer as a Redis server|accepted the connection but closed it without speaking Redis \\(another service, )`,
        ),
      ),
      hint: expect.stringContaining('(then give rediss://)'),
    });
  });

  it('says that a server may not speak TLS when rediss:// gets no answer or no TLS', async () => {
    const plain = await failure(`rediss://127.0.0.1:${open.port}/0`, 1000);
    expect(plain.error).toMatchObject({
      code: ErrorCode.Io,
      message: `cannot reach the job queue at rediss://127.0.0.1:${open.port}/0: no answer within 1 s`,
      hint: `rediss:// speaks TLS, and the server at 127.0.0.1:${open.port} may not: give redis:// for a server without TLS, or check that 127.0.0.1:${open.port} is the TLS port of Redis.`,
    });
    const port = (web.address() as { port: number }).port;
    const { error } = await failure(`rediss://127.0.0.1:${port}/0`, 1000);
    expect(error).toMatchObject({
      message: `cannot reach the job queue at rediss://127.0.0.1:${port}/0: the TLS handshake failed`,
      hint: expect.stringContaining('may not: give redis:// for a server without TLS'),
    });
  });
});
