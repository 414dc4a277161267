import { ErrorCode, HyperprotoError } from '@hyperproto/core';

/** Commander's argument parser for a repeatable flag: every value given, in order. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `key=value` flags to an options object; values that parse as JSON (numbers, booleans) become those. */
export function parseKeyValues(pairs: readonly string[] | undefined, flag: string): Record<string, unknown> {
  return keyValueOptions(pairs, flag).options;
}

/** Options that one flag gave, and how the command line wrote each (`--classes 5`, `--dataset-option classes=10`). */
export interface FlagOptions {
  readonly options: Record<string, unknown>;
  readonly written: (key: string) => string;
}

/** A repeatable `key=value` flag's options (see parseKeyValues), each written as it was typed. */
export function keyValueOptions(pairs: readonly string[] | undefined, flag: string): FlagOptions {
  const options: Record<string, unknown> = {};
  const typed = new Map<string, string>();
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
    defineOption(options, pair.slice(0, eq), value);
    typed.set(pair.slice(0, eq), pair);
  }
  return { options, written: (key) => `${flag} ${typed.get(key) ?? key}` };
}

/**
 * The options of flags that set the same settings (`--classes` and `--dataset-option classes=`) as one object. A
 * setting given by two of them with different values is refused naming both, rather than one silently winning; the
 * same value twice is taken.
 */
export function mergeFlagOptions(...sources: readonly FlagOptions[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  const givenBy = new Map<string, FlagOptions>();
  for (const source of sources) {
    for (const [key, value] of Object.entries(source.options)) {
      const earlier = givenBy.get(key);
      if (earlier && JSON.stringify(earlier.options[key]) !== JSON.stringify(value))
        throw new HyperprotoError(ErrorCode.InvalidOptions, `${earlier.written(key)} and ${source.written(key)} give ${key} two values`, {
          hint: 'Give the setting once, or the same value to both.',
        });
      givenBy.set(key, source);
      defineOption(merged, key, value);
    }
  }
  return merged;
}

/**
 * An own property even for `__proto__`, which plain assignment would take as the prototype and drop: the plugin's
 * option check then refuses it as unknown, like any other key it does not know.
 */
function defineOption(options: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(options, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The object without its undefined entries: flags not given leave the option to its default. */
export function dropUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
