import { ErrorCode, HyperprotoError, hideUrlPassword } from '@hyperproto/core';

/** Where the job queue lives: one Redis database. */
export interface QueueAddress {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: boolean;
  /**
   * The URL with its password replaced by `***` (`redis://user:***@...`), or its user name when there is no password
   * (`redis://***@...`: a password whose colon was forgotten): what messages show.
   */
  readonly display: string;
}

const FORM = 'redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (or rediss:// for TLS)';

/**
 * Parses `redis://[[user]:password@]host[:port][/db]`; anything else is refused with the form it must have. `source`
 * is where the URL came from, as the refusals name it: the option (`--queue`) or an environment variable.
 */
export function parseQueueAddress(url: string, source = '--queue'): QueueAddress {
  const option = source.startsWith('-');
  // An unset variable (`--queue "$QUEUE_URL"`) must not pass for "no queue".
  if (url.trim() === '')
    throw new HyperprotoError(ErrorCode.InvalidOptions, `${source} is empty`, {
      hint: option
        ? `Give the queue as ${FORM}; a variable meant to hold it (--queue "$QUEUE_URL") may be unset.`
        : `Set ${source} to the queue as ${FORM}, or unset it.`,
    });
  // A password with an unencoded `/`, `#` or `?` ends the URL's authority there: the rest, password and all, would be
  // read (and echoed) as the database, query or fragment.
  const afterScheme = url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const authorityEnd = afterScheme.search(/[/?#]/);
  if (authorityEnd >= 0 && afterScheme.slice(authorityEnd).includes('@'))
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `${source} ${hideCredentials(url)}: the password (or user name) has an unencoded "/", "#" or "?"`,
      { hint: 'Percent-encode those characters in the URL: "/" as %2F, "#" as %23, "?" as %3F (and "@" as %40).' },
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badAddress(url, source, 'it is not a URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw badAddress(url, source, `the scheme is ${parsed.protocol} not redis:`);
  if (!parsed.hostname) throw badAddress(url, source, 'it names no host');
  const port = parsed.port ? Number(parsed.port) : 6379;
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,5}$/.test(path)) throw badAddress(url, source, `the database "${path}" is not a number`);
  if (parsed.search || parsed.hash) throw badAddress(url, source, 'it has a query or fragment; options go in the flags');
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

function badAddress(url: string, source: string, why: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidOptions, `${source} ${hideCredentials(url)}: ${why}`, {
    hint: `Give the queue as ${FORM}, e.g. redis://127.0.0.1:6379/0.`,
  });
}

/**
 * A refused URL as its refusal shows it: without password, or without a user name given alone. What no URL parser
 * reads as a user name (one with an unencoded `/`, `?` or `#`, a password whose colon was forgotten, a URL without
 * `redis://`) is hidden from after the scheme up to the last `@`.
 */
function hideCredentials(url: string): string {
  const hidden = hideUrlPassword(url);
  if (hidden.includes('***@') || !hidden.includes('@')) return hidden;
  return hidden.replace(/^((?:[a-z][a-z0-9+.-]*:)?(?:\/\/)?)[\s\S]*@/i, '$1***@');
}
