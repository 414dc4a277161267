import { ErrorCode, HyperprotoError } from '@hyperproto/core';

/** Where the job queue lives: one Redis database. */
export interface QueueAddress {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: boolean;
  /** The URL with its password replaced by `***`: what messages show. */
  readonly display: string;
}

const FORM = 'redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (or rediss:// for TLS)';

/** Parses `redis://[[user]:password@]host[:port][/db]`; anything else is refused with the form it must have. */
export function parseQueueAddress(url: string): QueueAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badAddress(url, 'it is not a URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw badAddress(url, `the scheme is ${parsed.protocol} not redis:`);
  if (!parsed.hostname) throw badAddress(url, 'it names no host');
  const port = parsed.port ? Number(parsed.port) : 6379;
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,5}$/.test(path)) throw badAddress(url, `the database "${path}" is not a number`);
  if (parsed.search || parsed.hash) throw badAddress(url, 'it has a query or fragment; options go in the flags');
  const username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  const shown = new URL(parsed.href);
  if (shown.password) shown.password = '***';
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db: path === '' ? 0 : Number(path),
    username,
    password,
    tls: parsed.protocol === 'rediss:',
    display: `${shown.protocol}//${shown.username || shown.password ? `${shown.username}${shown.password ? `:${shown.password}` : ''}@` : ''}${shown.host}/${path === '' ? 0 : Number(path)}`,
  };
}

function badAddress(url: string, why: string): HyperprotoError {
  const shown = url.replace(/(\/\/[^/:@]*:)[^@/]*@/, '$1***@');
  return new HyperprotoError(ErrorCode.InvalidOptions, `--queue ${shown}: ${why}`, {
    hint: `Give the queue as ${FORM}, e.g. redis://127.0.0.1:6379/0.`,
  });
}
