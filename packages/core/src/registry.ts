import { ErrorCode, HyperprotoError } from './errors.js';
import { PLUGIN_KINDS, type Plugin, type PluginKind, type PluginOfKind } from './plugins.js';

const NAME_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** The methods each kind must have, checked when a plugin is registered. */
const REQUIRED_METHODS: Record<PluginKind, readonly string[]> = {
  dataset: ['generate'],
  prototypes: ['generate'],
  head: ['build'],
  evaluator: ['evaluate'],
  engine: ['probe', 'train'],
};

export interface Registry {
  /** Adds plugins; the same object twice is a no-op, a different one under a taken `kind:name` is an error. */
  register(...plugins: readonly (Plugin | readonly Plugin[])[]): Registry;
  /** The plugin, or an E_UNKNOWN_PLUGIN error listing the known names and the closest match. */
  get<K extends PluginKind>(kind: K, name: string): PluginOfKind<K>;
  has(kind: PluginKind, name: string): boolean;
  list<K extends PluginKind>(kind: K): PluginOfKind<K>[];
  list(): Plugin[];
}

export function pluginId(plugin: { kind: string; name: string }): string {
  return `${plugin.kind}:${plugin.name}`;
}

export const KIND_LABEL: Record<PluginKind, string> = {
  dataset: 'dataset',
  prototypes: 'prototype strategy',
  head: 'head',
  evaluator: 'evaluator',
  engine: 'engine',
};

/** Throws E_INVALID_PLUGIN unless `value` looks like a plugin; `source` says where it came from. */
export function assertPluginShape(value: unknown, source = 'plugin'): asserts value is Plugin {
  const fail = (why: string): never => {
    throw new HyperprotoError(ErrorCode.InvalidPlugin, `${source} is not a valid hyperproto plugin: ${why}`, {
      hint: 'Export an object made with definePrototypeStrategy/defineHead/defineDataset/defineEvaluator/defineEngine from @hyperproto/core.',
    });
  };
  if (typeof value !== 'object' || value === null) fail(`expected an object, got ${value === null ? 'null' : typeof value}`);
  const candidate = value as Record<string, unknown>;
  const kind = candidate.kind;
  if (typeof kind !== 'string' || !(PLUGIN_KINDS as readonly string[]).includes(kind)) {
    fail(`"kind" must be one of ${PLUGIN_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
  const name = candidate.name;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    fail(`"name" must be kebab-case (e.g. "my-strategy"), got ${JSON.stringify(name)}`);
  }
  if (typeof candidate.summary !== 'string') fail(`${kind}:${String(name)} needs a "summary" string`);
  const options = candidate.options as { safeParse?: unknown } | undefined;
  if (typeof options?.safeParse !== 'function') fail(`${kind}:${String(name)} needs an "options" schema (zod)`);
  for (const method of REQUIRED_METHODS[kind as PluginKind]) {
    if (typeof candidate[method] !== 'function') fail(`${kind}:${String(name)} needs a "${method}" function`);
  }
  if (kind === 'head' && typeof candidate.usesPrototypes !== 'boolean') fail(`head:${String(name)} needs "usesPrototypes"`);
  if (kind === 'engine' && typeof candidate.priority !== 'number') fail(`engine:${String(name)} needs a numeric "priority"`);
}

export function createRegistry(...initial: readonly (Plugin | readonly Plugin[])[]): Registry {
  const byId = new Map<string, Plugin>();

  const registry: Registry = {
    register(...plugins) {
      for (const plugin of plugins.flat() as Plugin[]) {
        assertPluginShape(plugin);
        const id = pluginId(plugin);
        const existing = byId.get(id);
        if (existing === plugin) continue;
        if (existing) {
          throw new HyperprotoError(
            ErrorCode.InvalidPlugin,
            `a different ${KIND_LABEL[plugin.kind]} named "${plugin.name}" is already registered`,
            {
              hint: 'Give your plugin another name, or stop loading one of the two packages.',
            },
          );
        }
        byId.set(id, plugin);
      }
      return registry;
    },
    get(kind, name) {
      const plugin = byId.get(`${kind}:${name}`);
      if (plugin) return plugin as PluginOfKind<typeof kind>;
      const known = registry.list(kind).map((p) => p.name);
      const closest = closestName(name, known);
      const suggestion = closest ? ` Did you mean "${closest}"?` : '';
      throw new HyperprotoError(
        ErrorCode.UnknownPlugin,
        `unknown ${KIND_LABEL[kind]} "${name}".${suggestion} Known: ${known.length ? known.join(', ') : '(none)'}.`,
        { hint: 'Load third-party plugins with --plugin <package> or a hyperproto.config.json file.' },
      );
    },
    has(kind, name) {
      return byId.has(`${kind}:${name}`);
    },
    list(kind?: PluginKind) {
      const all = [...byId.values()];
      return (kind ? all.filter((p) => p.kind === kind) : all) as never;
    },
  };
  registry.register(...initial);
  return registry;
}

/** The known name within edit distance 3 (or sharing a prefix) that is closest to `name`. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  return bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}
