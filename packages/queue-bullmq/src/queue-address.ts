import { ErrorCode, HyperprotoError, hideUrlPassword } from '@hyperproto/core';

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
  // An unset variable (`--queue "$QUEUE_URL"`) must not pass for "no queue".
  if (url.trim() === '')
    throw new HyperprotoError(ErrorCode.InvalidOptions, '--queue is empty', {
      hint: `Give the queue as ${FORM}; a variable meant to hold it (--queue "$QUEUE_URL") may be unset.`,
    });
  // A password with an unencoded `/`, `#` or `?` ends the URL's authority there: the rest, password and all, would be
  // read (and echoed) as the database, query or fragment.
  const afterScheme = url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const authorityEnd = afterScheme.search(/[/?#]/);
  if (authorityEnd >= 0 && afterScheme.slice(authorityEnd).includes('@'))
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `--queue ${hideUrlPassword(url)}: the password (or user name) has an unencoded "/", "#" or "?"`,
      { hint: 'Percent-encode those characters in the URL: "/" as %2F, "#" as %23, "?" as %3F (and "@" as %40).' },
    );
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
  const db = path === '' ? 0 : Number(path);
  const userinfo = parsed.username || parsed.password ? `${parsed.username}${parsed.password ? `:${parsed.password}` : ''}@` : '';
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db,
    username,
    password,
    tls: parsed.protocol === 'rediss:',
    display: hideUrlPassword(`${parsed.protocol}//${userinfo}${parsed.host}/${db}`),
  };
}

/** The queue's URL (password hidden) on another database than its own, for hints that suggest one. */
export function otherDatabase(address: QueueAddress): string {
  return address.display.replace(/\/\d+$/, `/${address.db === 1 ? 2 : 1}`);
}

function badAddress(url: string, why: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidOptions, `--queue ${hideUrlPassword(url)}: ${why}`, {
    hint: `Give the queue as ${FORM}, e.g. redis://127.0.0.1:6379/0.`,
  });
}
