import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import type { RedisOptions } from 'bullmq';
import { Redis, type RedisOptions as ClientOptions } from 'ioredis';
import type { QueueAddress } from './queue-address.js';

/** How long the first connection may take: a wrong address must fail in seconds, never hang. */
export const CONNECT_TIMEOUT_MS = 5000;

/**
 * Options for every connection after the first succeeded: ioredis reconnects with a capped backoff and commands wait
 * for Redis to come back (a restart mid-grid loses nothing that was written to results.jsonl), as BullMQ requires.
 */
export function connectionOptions(address: QueueAddress): RedisOptions {
  return {
    host: address.host,
    port: address.port,
    db: address.db,
    ...(address.username ? { username: address.username } : {}),
    ...(address.password ? { password: address.password } : {}),
    ...(address.tls ? { tls: {} } : {}),
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
}

/**
 * Connects to the queue's Redis and checks that it answers, within `timeoutMs`. Refused connections, unknown hosts,
 * silence, a missing or wrong password: each is a HyperprotoError naming the address (password hidden). The client
 * returned reconnects on its own from then on.
 */
export async function connectRedis(address: QueueAddress, timeoutMs = CONNECT_TIMEOUT_MS): Promise<Redis> {
  let connected = false;
  const client = new Redis({
    ...(connectionOptions(address) as ClientOptions),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    retryStrategy: (times: number) => (connected ? Math.min(200 * times, 2000) : null),
  });
  let last: Error | undefined;
  client.on('error', (error: Error) => {
    last = error;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
    connected = true;
    return client;
  } catch (error) {
    client.disconnect();
    throw connectionError(address, last ?? (error as Error));
  } finally {
    clearTimeout(timer);
  }
}

/** What went wrong talking to the queue, as the user should read it. */
export function connectionError(address: QueueAddress, error: Error): HyperprotoError {
  const text = error.message;
  if (/^NOAUTH|authentication required/i.test(text)) {
    return new HyperprotoError(ErrorCode.InvalidOptions, `the job queue at ${address.display} needs a password`, {
      cause: error,
      hint: 'Put it in the URL: redis://:PASSWORD@HOST:PORT/DB (or redis://USER:PASSWORD@... with an ACL user).',
    });
  }
  if (/^WRONGPASS|invalid password|invalid username-password/i.test(text)) {
    return new HyperprotoError(ErrorCode.InvalidOptions, `the job queue at ${address.display} refused the password`, {
      cause: error,
      hint: "Give the password of Redis's requirepass (or of the ACL user) in the URL.",
    });
  }
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? `unknown host ${address.host}`
        : code === 'ETIMEDOUT'
          ? 'the connection timed out'
          : text;
  return new HyperprotoError(ErrorCode.Io, `cannot reach the job queue at ${address.display}: ${why}`, {
    cause: error,
    hint: 'Check that Redis runs there and that this machine can reach it (host, port, firewall), or correct --queue.',
  });
}
