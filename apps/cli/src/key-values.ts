import { ErrorCode, HyperprotoError } from '@hyperproto/core';

/** Commander's argument parser for a repeatable flag: every value given, in order. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `key=value` flags to an options object; values that parse as JSON (numbers, booleans) become those. */
export function parseKeyValues(pairs: readonly string[] | undefined, flag: string): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new HyperprotoError(ErrorCode.InvalidOptions, `${flag} ${pair}: expected key=value, e.g. ${flag} steps=500`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Not JSON: keep it as a string.
    }
    // An own property even for `__proto__`, which plain assignment would take as the prototype and drop: the
    // plugin's option check then refuses it as unknown, like any other key it does not know.
    Object.defineProperty(options, pair.slice(0, eq), { value, enumerable: true, writable: true, configurable: true });
  }
  return options;
}

/** The object without its undefined entries: flags not given leave the option to its default. */
export function dropUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
