// A plugin's options as its Zod schema declares them, read through the schema's JSON Schema (input side, so
// defaults and optional keys are what a user may give): one reading for `hyperproto plugins` and the dataset flags.
import { z } from '@hyperproto/core';

/** The key under which a schema with no JSON form carries what it expects; no JSON Schema keyword uses it. */
const CODE_ONLY = 'x-hyperproto-code-only';

/** The part of a JSON Schema that an option's listing reads. */
interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema | boolean;
  prefixItems?: JsonSchema[];
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  /** Set by {@link markCodeOnly}: what a value that JSON cannot hold must be. */
  [CODE_ONLY]?: string;
}

/** A number option's limits, as the schema states them (JSON Schema's names). */
export interface OptionBounds {
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  exclusiveMaximum?: number;
}

export interface OptionInfo extends OptionBounds {
  name: string;
  /** The type as the listing writes it: `integer`, `string[]`, `string | string[]`, `"auto" | "cpu" | "cuda"`. */
  type: string;
  /** The values an enum option takes. */
  enum?: unknown[];
  default?: unknown;
  description?: string;
  required: boolean;
}

export interface PluginOptions {
  options: OptionInfo[];
  /** Whether keys besides `options` reach the plugin (a loose object or a catchall): then no key can be called unknown. */
  otherKeys: boolean;
}

/** The options an object schema declares; undefined for a schema that is not an object or cannot be read. */
export function readPluginOptions(schema: unknown): PluginOptions | undefined {
  let json: JsonSchema;
  try {
    json = z.toJSONSchema(schema as z.ZodType, { io: 'input', unrepresentable: 'any', override: markCodeOnly }) as JsonSchema;
  } catch {
    return undefined;
  }
  if (json.type !== 'object' || json.properties === undefined) return undefined;
  const required = json.required ?? [];
  return {
    options: Object.entries(json.properties).map(([name, property]) => ({
      name,
      type: typeText(property),
      ...(property.enum ? { enum: property.enum } : {}),
      ...bounds(property),
      ...(property.default !== undefined ? { default: property.default } : {}),
      ...(property.description !== undefined ? { description: property.description } : {}),
      required: required.includes(name),
    })),
    // Absent means Zod's default object, which drops unknown keys: they never reach the plugin either.
    otherKeys: json.additionalProperties !== undefined && json.additionalProperties !== false,
  };
}

/** What each kind of value that JSON cannot hold is called; Zod writes them all as `{}`, which reads as "any". */
const CODE_ONLY_KINDS: Record<string, string> = {
  custom: 'a value', // z.custom: what its check's message says it expects, when it says so
  function: 'a function',
  date: 'a Date',
  map: 'a Map',
  set: 'a Set',
  bigint: 'a bigint',
  symbol: 'a symbol',
};

/**
 * Marks an option that no command-line value or grid file can give (e.g. spread's `start`, a matrix that
 * `prototypes --start` makes): `z.custom(check, { message: 'expected a C x D matrix ...' })` is named by its message.
 */
function markCodeOnly({ zodSchema, jsonSchema }: { zodSchema: unknown; jsonSchema: object }): void {
  const def = (zodSchema as { _zod?: { def?: { type?: string; error?: (issue: object) => unknown } } })._zod?.def;
  const kind = def?.type === undefined ? undefined : CODE_ONLY_KINDS[def.type];
  if (kind === undefined) return;
  let expected = kind;
  if (def?.type === 'custom') {
    try {
      const message = def.error?.({ code: 'custom', input: undefined });
      if (typeof message === 'string' && message.startsWith('expected ')) expected = message.slice('expected '.length);
    } catch {
      // A message built from the value it refuses: the plain name stays.
    }
  }
  (jsonSchema as JsonSchema)[CODE_ONLY] = expected;
}

/** The type of a schema in TypeScript's notation: literals quoted, unions joined by `|`, arrays as `T[]`. */
function typeText(schema: JsonSchema | boolean | undefined): string {
  if (typeof schema !== 'object') return 'any';
  const codeOnly = schema[CODE_ONLY];
  if (codeOnly !== undefined) return `${codeOnly} (not JSON: set from code)`;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  const members = schema.anyOf ?? schema.oneOf;
  if (members) return [...new Set(members.map(typeText))].join(' | ');
  if (Array.isArray(schema.type)) return schema.type.map((type) => typeText({ ...schema, type })).join(' | ');
  if (schema.type === 'array') {
    if (schema.prefixItems) return `[${schema.prefixItems.map(typeText).join(', ')}]`;
    const item = typeText(schema.items);
    return item.includes(' | ') ? `(${item})[]` : `${item}[]`;
  }
  return schema.type ?? 'any';
}

/**
 * The bounds a number option declares. Zod writes ±Number.MAX_SAFE_INTEGER for every `z.int()`; those say only
 * "an integer JavaScript holds exactly", not a limit the plugin chose, so they are left out.
 */
function bounds(schema: JsonSchema): OptionBounds {
  const keys = ['minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum'] as const;
  return Object.fromEntries(
    keys
      .map((key) => [key, schema[key]] as const)
      .filter(([, value]) => typeof value === 'number' && Math.abs(value) < Number.MAX_SAFE_INTEGER),
  );
}
