// The eviction warning against a real Redis (Debian's redis-server on a free 127.0.0.1 port), also for a user that
// may not use CONFIG, as on managed services.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQueueAddress } from './queue-address.js';
import { connectRedis } from './queue-connection.js';
import { warnOnEviction } from './queue-health.js';
import { redisMissing, startRedisServer, type RedisServer } from './testing.js';

const missing = redisMissing();
if (missing) console.log(`skipping the eviction warning tests: ${missing}`);

describe.skipIf(missing)('warnOnEviction', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
    const admin = await connectRedis(parseQueueAddress(server.url));
    await admin.call('ACL', 'SETUSER', 'noconfig', 'on', '>pw', '~*', '&*', '+@all', '-config');
    admin.disconnect();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const said = async (url: string) => {
    const lines: string[] = [];
    const client = await connectRedis(parseQueueAddress(url));
    try {
      await warnOnEviction(client, 'QUEUE', (line) => lines.push(line));
    } finally {
      client.disconnect();
    }
    return lines;
  };

  it('warns of a policy that evicts, also to a user that may not use CONFIG, and says nothing of noeviction', async () => {
    const limited = `redis://noconfig:pw@127.0.0.1:${server.port}/0`;
    expect(await said(limited)).toEqual([]);
    const admin = await connectRedis(parseQueueAddress(server.url));
    await admin.call('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    admin.disconnect();
    const warning =
      'warning: the job queue at QUEUE has maxmemory-policy allkeys-lru: Redis may evict jobs when memory runs out; set maxmemory-policy noeviction';
    const noConfig = await connectRedis(parseQueueAddress(limited));
    await expect(noConfig.call('CONFIG', 'GET', 'maxmemory-policy')).rejects.toThrow(/NOPERM/);
    noConfig.disconnect();
    expect(await said(limited)).toEqual([warning]);
    expect(await said(server.url)).toEqual([warning]);
  });
});
