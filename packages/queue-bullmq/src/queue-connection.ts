import { ErrorCode, HyperprotoError, isHyperprotoError } from '@hyperproto/core';
import type { RedisOptions } from 'bullmq';
import { Redis, ReplyError, type RedisOptions as ClientOptions } from 'ioredis';
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
    // Another service's answer says more than the closed connection that follows it.
    if (!last || !NOT_REDIS.test(last.message)) last = error;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
        await checkDatabase(client, address);
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
    connected = true;
    return client;
  } catch (error) {
    client.disconnect();
    if (isHyperprotoError(error)) throw error;
    throw connectionError(address, last ?? (error as Error));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Refuses a database the server does not have. ioredis reports its failed SELECT only as an error event and stays on
 * database 0, where this grid would mix with the one there; the explicit SELECT's error is checked instead.
 * Database 0 needs none (ioredis sends none for it, and a Redis Cluster refuses SELECT). Any other refusal (an ACL
 * user without SELECT, a service that offers database 0 only) is a wrong option too, not an unreachable server.
 */
async function checkDatabase(client: Redis, address: QueueAddress): Promise<void> {
  if (address.db === 0) return;
  try {
    await client.select(address.db);
  } catch (error) {
    // The server answered: whatever it refused, it is no trouble of reaching it.
    if (!(error instanceof ReplyError)) throw error;
    const refusal = (error as Error).message;
    if (!/DB index is out of range|invalid DB index/i.test(refusal))
      throw new HyperprotoError(
        ErrorCode.InvalidOptions,
        `the job queue at ${address.display}: that Redis refused SELECT ${address.db} (${refusal})`,
        {
          cause: error,
          hint: `Use database 0 (${address.display.replace(/\/\d+$/, '/0')}): a Redis Cluster, and some services, offer no other; or grant the ACL user SELECT (ACL SETUSER USER +select).`,
        },
      );
    // Managed services may forbid CONFIG: the count is then left out.
    const reply = (await client.call('CONFIG', 'GET', 'databases').catch(() => null)) as string[] | null;
    const count = Number(reply?.[1]);
    const range = Number.isInteger(count) && count > 0 ? `0 to ${count - 1}` : undefined;
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `the job queue at ${address.display}: that Redis has no database ${address.db}${range ? ` (it has ${count}: ${range})` : ''}`,
      {
        cause: error,
        hint: `Give a database ${range ? `from ${range}` : 'the server has'} at the end of the URL (e.g. ${address.display.replace(/\/\d+$/, '/0')}), or raise "databases" in the server's redis.conf.`,
      },
    );
  }
}

/** ioredis's word for an answer that is not Redis's protocol. */
const NOT_REDIS = /Unknown RESP type|Protocol error/i;

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
    // A user name without a password: most often a password whose colon was forgotten (redis://PASSWORD@HOST).
    if (address.username !== undefined && address.password === undefined)
      return new HyperprotoError(
        ErrorCode.InvalidOptions,
        `the job queue at ${address.display} refused the user name, given without a password`,
        {
          cause: error,
          hint: 'A password alone goes after a colon: redis://:PASSWORD@HOST:PORT/DB (with the colon); an ACL user is redis://USER:PASSWORD@HOST:PORT/DB.',
        },
      );
    return new HyperprotoError(ErrorCode.InvalidOptions, `the job queue at ${address.display} refused the password`, {
      cause: error,
      hint: "Give the password of Redis's requirepass (or of the ACL user) in the URL.",
    });
  }
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const where = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
  const tlsNote = address.tls ? '' : ', and whether that Redis expects TLS (then give rediss://)';
  // Another service's answer (an HTTP server's "HTTP/1.0 400").
  if (NOT_REDIS.test(text))
    return new HyperprotoError(ErrorCode.Io, `the job queue at ${address.display} does not answer as a Redis server`, {
      cause: error,
      hint: `Check that ${where} is the address of Redis, not of another service${tlsNote}, or correct --queue.`,
    });
  // A listener that hangs up on the first command, or resets it (an HTTP server may, before its answer arrives).
  if (code === 'EPIPE' || code === 'ECONNRESET' || /^Connection is closed/.test(text))
    return new HyperprotoError(
      ErrorCode.Io,
      `the job queue at ${address.display} accepted the connection but closed it without speaking Redis (another service, a TLS-only port, or a tunnel or proxy whose Redis is down)`,
      {
        cause: error,
        hint: `Check that Redis runs at ${where} (or behind the tunnel or proxy there)${tlsNote}, or correct --queue.`,
      },
    );
  // rediss:// to a server without TLS: a plain Redis never answers the TLS handshake; another server's answer is no TLS.
  const noTls = address.tls && (code.startsWith('ERR_SSL') || /timed out|ETIMEDOUT|no answer within/.test(`${code} ${text}`));
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? `unknown host ${address.host}`
        : code === 'ETIMEDOUT'
          ? 'the connection timed out'
          : code.startsWith('ERR_SSL')
            ? 'the TLS handshake failed'
            : text;
  return new HyperprotoError(ErrorCode.Io, `cannot reach the job queue at ${address.display}: ${why}`, {
    cause: error,
    hint: noTls
      ? `rediss:// speaks TLS, and the server at ${where} may not: give redis:// for a server without TLS, or check that ${where} is the TLS port of Redis.`
      : 'Check that Redis runs there and that this machine can reach it (host, port, firewall), or correct --queue.',
  });
}
