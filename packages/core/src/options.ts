import type { z } from 'zod';
import { ErrorCode, HyperprotoError } from './errors.js';
import type { Plugin } from './plugins.js';
import { closestName, pluginId } from './registry.js';

/** Formats zod issues as `path: message`, one per line, with the dotted path of each. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string {
  return issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      const where = [prefix, path].filter(Boolean).join(' ');
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/**
 * `unknown setting "max_epochs" (did you mean "maxEpochs"?); the trainer settings are hiddenUnits, ...`: the one
 * wording of keys an object does not have, each with the closest known key where one is close, then every known key.
 * @param noun what a key is called there: `setting`, `field`, `option`
 * @param listing what precedes the known keys (default `the <noun>s here are`)
 */
export function unknownKeysText(
  keys: readonly string[],
  known: readonly string[],
  noun: string,
  listing = `the ${noun}s here are`,
): string {
  const each = keys.map((key) => {
    const closest = closestName(key, known);
    return `${JSON.stringify(key)}${closest ? ` (did you mean "${closest}"?)` : ''}`;
  });
  const allowed = known.length > 0 ? `${listing} ${known.join(', ')}` : `there are no ${noun}s here`;
  return `unknown ${noun}${keys.length === 1 ? '' : 's'} ${each.join(', ')}; ${allowed}`;
}

/**
 * An error map for a whole parse (`schema.safeParse(raw, { error: unknownKeysErrorMap('field') })`) that words
 * zod's bare `Unrecognized key: "datset"` as {@link unknownKeysText}, the known keys taken from the strict object
 * that refused it: a typo then names the key meant. Every other issue keeps zod's message, and a schema's own
 * error map (the trainer settings') comes first.
 */
export function unknownKeysErrorMap(noun: string): z.core.$ZodErrorMap {
  return (issue) => {
    if (issue.code !== 'unrecognized_keys') return undefined;
    const known = objectSchemaKeys(issue.inst);
    return known && unknownKeysText(issue.keys, known, noun);
  };
}

/**
 * Marks a value as the output of a schema, so that handing it to the plugin again does not parse it a second time
 * (a schema's transforms need not be idempotent). A symbol from the global registry, so that another copy of this
 * package (a third-party plugin's) recognises the mark; non-enumerable, so a spread copy (`{ ...options, x }`)
 * is unmarked and validated again. Frozen values are remembered in a WeakMap instead.
 */
const PARSED_BY = Symbol.for('hyperproto.optionsParsedBy');
const parsedFrozen = new WeakMap<object, unknown>();

function markParsed(value: unknown, schema: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  if (Object.isExtensible(value)) Object.defineProperty(value, PARSED_BY, { value: schema, configurable: true });
  else parsedFrozen.set(value, schema);
}

/** Whether `value` is an output of `schema` (objects only: other values are parsed again). */
export function isParsedOptions(value: unknown, schema: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  return (value as Record<symbol, unknown>)[PARSED_BY] === schema || parsedFrozen.get(value) === schema;
}

/**
 * Validates raw options against the plugin's schema, before the plugin ever sees them; errors read
 * `${kind}:${name} ${path}: ${message}`. What it returns is marked, so passing it again (to the plugin's hook,
 * which validates too) returns it as it is instead of parsing it twice.
 */
export function resolveOptions<O>(plugin: Plugin & { options: z.ZodType<O> }, raw: unknown): O {
  if (isParsedOptions(raw, plugin.options)) return raw as O;
  // An own `__proto__` key (JSON.parse and the key=value flags make one) is never an option: zod would drop it
  // unseen, unless the schema is strict. Refused first, worded as the strict schema's unknown keys.
  if (typeof raw === 'object' && raw !== null && Object.hasOwn(raw, '__proto__'))
    throw invalidOptions(
      plugin,
      `${pluginId(plugin)}: ${unknownKeysText(['__proto__'], objectSchemaKeys(plugin.options) ?? [], 'option')}`,
    );
  const result = plugin.options.safeParse(raw ?? {}, { error: unknownKeysErrorMap('option') });
  if (result.success) {
    markParsed(result.data, plugin.options);
    return result.data;
  }
  throw invalidOptions(plugin, formatIssues(result.error.issues, pluginId(plugin)));
}

function invalidOptions(plugin: Plugin, message: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidOptions, message, {
    pluginId: pluginId(plugin),
    hint: `Run \`hyperproto plugins --kind ${plugin.kind}\` (with the same --plugin and --config) to see the options of ${pluginId(plugin)}.`,
  });
}

/** The keys of an object schema, through the wrappers around it (default, optional, pipe); undefined for any other schema. */
function objectSchemaKeys(schema: unknown): string[] | undefined {
  type Def = { shape?: unknown; innerType?: { _zod?: { def?: Def } }; in?: { _zod?: { def?: Def } } };
  let def = (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
  // Bounded: the schema is the plugin's, whatever its form.
  for (let depth = 0; def && depth < 16; depth++) {
    if (typeof def.shape === 'object' && def.shape !== null) return Object.keys(def.shape);
    def = (def.innerType ?? def.in)?._zod?.def;
  }
  return undefined;
}
