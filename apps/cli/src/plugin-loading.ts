import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertPluginShape, createRegistry, ErrorCode, HyperprotoError, type Plugin, type Registry } from '@hyperproto/core';
import { builtinPlugins } from './builtin-plugins.js';

/** A plugin entry as written in a config file or on the command line: `"pkg"` or `["pkg", options | false]`. */
export type PluginEntry = string | [string, unknown];

export interface LoadedPlugin {
  readonly plugin: Plugin;
  /** Module specifier it came from, or `builtin`. */
  readonly source: string;
}

export interface CliRegistry {
  readonly registry: Registry;
  readonly loaded: readonly LoadedPlugin[];
}

const CONFIG_NAMES = ['hyperproto.config.json', 'hyperproto.config.mjs', 'hyperproto.config.js'];

/**
 * The built-in plugins plus those named in the config file and by --plugin. Never scans node_modules:
 * a plugin is used only when it is named.
 */
export async function buildRegistry(options: { cwd?: string; config?: string; plugins?: readonly string[] }): Promise<CliRegistry> {
  const cwd = options.cwd ?? process.cwd();
  const loaded: LoadedPlugin[] = builtinPlugins.map((plugin) => ({ plugin, source: 'builtin' }));
  const registry = createRegistry(builtinPlugins);

  const configPath = options.config ? resolve(cwd, options.config) : CONFIG_NAMES.map((n) => join(cwd, n)).find((p) => existsSync(p));
  const entries: { entry: PluginEntry; base: string; where: string }[] = [];
  if (configPath) {
    const config = await readConfig(configPath);
    config.plugins.forEach((entry, i) => entries.push({ entry, base: dirname(configPath), where: `${configPath} plugins.${i}` }));
  }
  for (const spec of options.plugins ?? []) entries.push({ entry: spec, base: cwd, where: `--plugin ${spec}` });

  for (const { entry, base, where } of entries) {
    const [specifier, pluginOptions] = typeof entry === 'string' ? [entry, undefined] : entry;
    if (pluginOptions === false) continue;
    for (const plugin of await importPlugins(specifier, pluginOptions, base, where)) {
      registry.register(plugin);
      loaded.push({ plugin, source: specifier });
    }
  }
  return { registry, loaded };
}

async function readConfig(path: string): Promise<{ plugins: PluginEntry[] }> {
  let raw: unknown;
  try {
    raw = path.endsWith('.json') ? JSON.parse(await readFile(path, 'utf8')) : (await import(pathToFileURL(path).href)).default;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code === 'ENOENT' ? ErrorCode.Io : ErrorCode.InvalidOptions;
    throw new HyperprotoError(code, `cannot read config ${path}: ${(error as Error).message}`, { cause: error });
  }
  const plugins = (raw as { plugins?: unknown } | null)?.plugins ?? [];
  if (!Array.isArray(plugins)) throw new HyperprotoError(ErrorCode.InvalidOptions, `${path} plugins: expected an array of "pkg" or ["pkg", options]`);
  plugins.forEach((entry, i) => {
    const ok = typeof entry === 'string' || (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string');
    if (!ok) throw new HyperprotoError(ErrorCode.InvalidOptions, `${path} plugins.${i}: expected "pkg" or ["pkg", options], got ${JSON.stringify(entry)}`);
  });
  return { plugins: plugins as PluginEntry[] };
}

async function importPlugins(specifier: string, pluginOptions: unknown, base: string, where: string): Promise<Plugin[]> {
  let module: { default?: unknown };
  try {
    module = await import(resolveSpecifier(specifier, base));
  } catch (error) {
    if (error instanceof HyperprotoError) throw error;
    throw new HyperprotoError(ErrorCode.InvalidPlugin, `${where}: cannot load "${specifier}": ${(error as Error).message.split('\n')[0]}`, {
      cause: error,
      hint: 'Install the package next to your project (npm i <pkg>) or give a path starting with ./',
    });
  }
  let exported = module.default;
  // A factory takes the options given as ["pkg", options].
  if (typeof exported === 'function') exported = await (exported as (options: unknown) => unknown)(pluginOptions);
  const plugins = Array.isArray(exported) ? exported : [exported];
  plugins.forEach((plugin, i) => assertPluginShape(plugin, plugins.length > 1 ? `${specifier} (export ${i})` : specifier));
  return plugins as Plugin[];
}

/** A path (./x, /x) relative to `base`, or a package name resolved from `base` the way Node would. */
function resolveSpecifier(specifier: string, base: string): string {
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
    const path = resolve(base, specifier);
    // A package directory: load its entry point as Node would for an installed package.
    const entry = existsSync(join(path, 'package.json')) ? join(path, esmEntry(path)) : path;
    return pathToFileURL(entry).href;
  }
  const require = createRequire(join(base, 'noop.js'));
  try {
    return pathToFileURL(require.resolve(specifier)).href;
  } catch {
    // ESM-only packages export no `require` condition: find the package directory and its import entry.
    const packageDir = findPackageDir(specifier, base);
    return pathToFileURL(join(packageDir, esmEntry(packageDir))).href;
  }
}

function findPackageDir(name: string, base: string): string {
  for (let dir = resolve(base); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`package "${name}" is not installed (looked in node_modules from ${base} upwards)`);
  }
}

function esmEntry(packageDir: string): string {
  const pkg = createRequire(join(packageDir, 'noop.js'))('./package.json') as { exports?: unknown; main?: string };
  const root = typeof pkg.exports === 'object' && pkg.exports !== null && '.' in pkg.exports ? (pkg.exports as Record<string, unknown>)['.'] : pkg.exports;
  const pick = (value: unknown): string | undefined => {
    if (typeof value === 'string') return value;
    if (typeof value === 'object' && value !== null) {
      const conditions = value as Record<string, unknown>;
      return pick(conditions.import) ?? pick(conditions.node) ?? pick(conditions.default);
    }
    return undefined;
  };
  return pick(root) ?? pkg.main ?? 'index.js';
}
