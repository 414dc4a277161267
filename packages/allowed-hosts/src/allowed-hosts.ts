import { networkInterfaces } from 'node:os';

/** The names a browser on this machine uses for a loopback server. */
export function loopbackHosts(): string[] {
  return ['127.0.0.1', 'localhost', '[::1]'];
}

/** A listen address as a Host header names it: IPv6 in brackets, lower case. */
export function hostName(address: string): string {
  const lower = address.trim().toLowerCase();
  return lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower;
}

/** The name part of a Host header (port dropped), or undefined when it is not a well-formed host[:port]. */
export function hostOfHeader(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/i.exec(header.trim());
  return match ? match[1]!.toLowerCase() : undefined;
}

/**
 * The authority (`name:port`) of an absolute-form request target such as `http://127.0.0.1:8080/v1/metadata`, the
 * form clients send to proxies; undefined for any other form (`/path`, `*`).
 */
export function targetAuthority(target: string | undefined): string | undefined {
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(target ?? '');
  return match ? match[1] : undefined;
}

/** The host a request names, to check against `allowedHostNames`, and where it came from (for the refusal). */
export interface RequestedHost {
  /** As `hostOfHeader` writes it; undefined when malformed (a `user@` part, a common disguise for the real host). */
  readonly name: string | undefined;
  /** `target`: an absolute-form target's authority; a server that is no proxy answers another host with 421. */
  readonly source: 'target' | 'header';
  /** The authority or Host header as sent. */
  readonly text: string;
}

/**
 * The host a request is for: an absolute-form target's authority, whose Host header is then ignored (RFC 9112
 * 3.2.2), else the Host header.
 */
export function requestedHost(target: string | undefined, hostHeader: string | undefined): RequestedHost {
  const authority = targetAuthority(target);
  if (authority !== undefined) return { name: hostOfHeader(authority), source: 'target', text: authority };
  return { name: hostOfHeader(hostHeader), source: 'header', text: hostHeader ?? '' };
}

/**
 * The Host names a server listening on `host` answers, as `hostName` writes them: loopback, `host` itself, every
 * address of this machine when it listens on all of them (0.0.0.0, ::), and `extra`. A page on another site that
 * resolves its own name to this machine (DNS rebinding) sends its own name and is refused.
 */
export function allowedHostNames(host: string, extra: readonly string[] = []): Set<string> {
  const names = new Set([...loopbackHosts(), hostName(host), ...extra.map(hostName)]);
  if (host === '0.0.0.0' || host === '::' || host === '') {
    for (const list of Object.values(networkInterfaces())) for (const address of list ?? []) names.add(hostName(address.address));
  }
  return names;
}
