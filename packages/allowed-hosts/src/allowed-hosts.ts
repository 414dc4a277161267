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
