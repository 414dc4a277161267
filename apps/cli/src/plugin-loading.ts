import { createHash } from 'node:crypto';
import { constants, existsSync, readFileSync, realpathSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createRequire, register } from 'node:module';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import {
  assertPluginShape,
  createRegistry,
  ErrorCode,
  fileErrorReason,
  HyperprotoError,
  pluginId,
  type Plugin,
  type Registry,
} from '@hyperproto/core';
import semver from 'semver';
import { builtinPlugins } from './builtin-plugins.js';

/** A plugin entry as written in a config file or on the command line: `"pkg"` or `["pkg", options | false]`. */
export type PluginEntry = string | [string, unknown];

export interface LoadedPlugin {
  readonly plugin: Plugin;
  /** Module specifier it came from, or `builtin`. */
  readonly source: string;
  /** The package that provided it, when it came from a package (not a single module file, not a built-in). */
  readonly package?: { readonly name: string | null; readonly version: string | null };
  /** A single module file's SHA-256 (hex): what a queue's workers compare with the coordinator's copy. */
  readonly sha256?: string;
}

export interface CliRegistry {
  readonly registry: Registry;
  readonly loaded: readonly LoadedPlugin[];
}

const CONFIG_NAMES = ['hyperproto.config.json', 'hyperproto.config.mjs', 'hyperproto.config.js'];
const CORE = '@hyperproto/core';
const coreUrl = import.meta.resolve(CORE);
/** The package directory of the core this CLI runs. */
const coreDir = fileURLToPath(new URL('..', coreUrl));
/** The version of the core this CLI runs, which plugins must accept. */
export const coreVersion = (JSON.parse(readFileSync(join(coreDir, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * The built-in plugins plus those named in the config file, in experiment's grid file and by --plugin, loaded in
 * that order. Never scans node_modules: a plugin is used only when it is named. Relative specifiers resolve from
 * `cwd` (the user's directory) or, for a file's entries, from that file's directory. A module named twice with the
 * same options (say in the config and in the grid) loads once.
 */
export async function buildRegistry(options: {
  cwd?: string;
  /** A config file; false (--no-config) loads none. HYPERPROTO_NO_CONFIG=1 skips only the directory's own. */
  config?: string | false;
  /** experiment's grid file: its "plugins" load after the config's. */
  grid?: string;
  plugins?: readonly string[];
}): Promise<CliRegistry> {
  const cwd = options.cwd ?? process.cwd();
  const loaded: LoadedPlugin[] = builtinPlugins.map((plugin) => ({ plugin, source: 'builtin' }));
  const registry = createRegistry(builtinPlugins);

  // A .mjs/.js config is code that runs: --no-config and HYPERPROTO_NO_CONFIG=1 keep the directory's config out (a
  // file named by --config, or experiment's grid, is still read).
  const configPath =
    options.config === false
      ? undefined
      : options.config
        ? resolve(cwd, options.config)
        : configDisabledByEnvironment()
          ? undefined
          : findConfig(cwd);
  const entries: { entry: PluginEntry; base: string; where: string }[] = [];
  const sources = [
    { file: configPath, flag: options.config ? '--config' : undefined },
    { file: options.grid && resolve(cwd, options.grid), flag: '--grid' },
  ];
  for (const { file, flag } of sources) {
    if (!file) continue;
    const { plugins } = await readConfig(file, flag);
    plugins.forEach((entry, i) => entries.push({ entry, base: dirname(file), where: `${file} plugins.${i}` }));
  }
  for (const spec of options.plugins ?? []) entries.push({ entry: spec, base: cwd, where: `--plugin ${spec}` });

  if (entries.length > 0) shareCoreWithPlugins();
  // Per module URL, the options it was loaded with: the same pair again is skipped.
  const imported = new Map<string, unknown[]>();
  // Per plugin id, the entry that registered it, to name both when two clash.
  const registeredBy = new Map<string, string>();
  for (const { entry, base, where } of entries) {
    const [specifier, pluginOptions] = typeof entry === 'string' ? [entry, undefined] : entry;
    if (pluginOptions === false) continue;
    const resolved = resolveSpecifier(specifier, base, where);
    const before = imported.get(resolved.url) ?? [];
    if (before.some((earlier) => isDeepStrictEqual(earlier, pluginOptions))) continue;
    imported.set(resolved.url, [...before, pluginOptions]);
    const plugins = await importPlugins(specifier, resolved.url, pluginOptions, where);
    const packageJson = resolved.packageJson;
    const provider = packageJson
      ? { package: { name: packageJson.name ?? null, version: packageJson.version ?? null } }
      : resolved.file
        ? {
            sha256: createHash('sha256')
              .update(await readFile(resolved.file))
              .digest('hex'),
          }
        : {};
    for (const plugin of plugins) {
      if (registerNamed(registry, plugin, where, registeredBy, before.length > 0)) loaded.push({ plugin, source: specifier, ...provider });
    }
  }
  return { registry, loaded };
}

/**
 * Registers `plugin`; false when this very plugin object is registered already (say a factory that hands back one
 * object whatever its options). A clash with another plugin of the same name names the entries of both.
 */
function registerNamed(registry: Registry, plugin: Plugin, where: string, registeredBy: Map<string, string>, sameModule: boolean): boolean {
  if (registry.has(plugin.kind, plugin.name) && registry.get(plugin.kind, plugin.name) === plugin) return false;
  const id = pluginId(plugin);
  try {
    registry.register(plugin);
  } catch (error) {
    const earlier = registeredBy.get(id);
    if (!(error instanceof HyperprotoError) || earlier === undefined) throw error;
    throw new HyperprotoError(error.code, `${where}: ${error.message}, by ${earlier}`, {
      cause: error,
      hint: sameModule
        ? 'The same module is named twice with different options: keep one entry (the same options in both load it once).'
        : error.hint,
    });
  }
  registeredBy.set(id, where);
  return true;
}

function configDisabledByEnvironment(): boolean {
  const value = process.env.HYPERPROTO_NO_CONFIG;
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/** The directory's own config file. Two of them would leave the user guessing which one runs, so that is refused. */
function findConfig(cwd: string): string | undefined {
  const found = CONFIG_NAMES.map((n) => join(cwd, n)).filter((p) => existsSync(p));
  if (found.length > 1) {
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `${cwd} has more than one config file (${found.map((p) => basename(p)).join(', ')}): hyperproto reads only one`,
      { hint: 'Keep one of them, holding all the plugins you use, or name the one to read with --config <file>.' },
    );
  }
  return found[0];
}

let coreShared = false;

/** Once per thread (experiment workers load plugins too): plugins' imports of core get this CLI's copy. */
function shareCoreWithPlugins(): void {
  if (coreShared) return;
  register(new URL('./core-resolution-hooks.js', import.meta.url), { data: { coreUrl } });
  coreShared = true;
}

/**
 * A config file (named by `flag`, or the current directory's own when `flag` is undefined), or experiment's grid for
 * its "plugins". A path that is missing, a directory or not readable is E_IO (exit 3) naming it and what to pass;
 * what the file holds is checked after.
 */
async function readConfig(path: string, flag: string | undefined): Promise<{ plugins: PluginEntry[] }> {
  await refuseUnreadableConfig(path, flag);
  let raw: unknown;
  try {
    raw = path.endsWith('.json') ? JSON.parse(await readFile(path, 'utf8')) : (await import(pathToFileURL(path).href)).default;
  } catch (error) {
    if (path.endsWith('.js')) moduleSyntaxInCommonJs(path, error);
    // Opened a moment ago: a JSON file that fails to read now (removed since) is still a file that cannot be read.
    const io = path.endsWith('.json') && !(error instanceof SyntaxError);
    throw new HyperprotoError(io ? ErrorCode.Io : ErrorCode.InvalidOptions, `cannot read config ${path}: ${(error as Error).message}`, {
      cause: error,
      hint: io
        ? configFileHint(flag)
        : path.endsWith('.json')
          ? 'The file must be JSON: { "plugins": ["pkg", ["./path.js", { "option": 1 }]] }'
          : undefined,
    });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new HyperprotoError(ErrorCode.InvalidOptions, `${path}: expected an object such as { "plugins": ["pkg"] }`);
  const plugins = (raw as { plugins?: unknown }).plugins ?? [];
  if (!Array.isArray(plugins))
    throw new HyperprotoError(ErrorCode.InvalidOptions, `${path} plugins: expected an array of "pkg" or ["pkg", options]`);
  plugins.forEach((entry, i) => {
    const ok = typeof entry === 'string' || (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string');
    if (!ok)
      throw new HyperprotoError(
        ErrorCode.InvalidOptions,
        `${path} plugins.${i}: expected "pkg" or ["pkg", options], got ${JSON.stringify(entry)}`,
      );
  });
  return { plugins: plugins as PluginEntry[] };
}

/** E_IO unless `path` is a regular file this process can read: opened (and closed) before it is parsed or imported. */
async function refuseUnreadableConfig(path: string, flag: string | undefined): Promise<void> {
  let reason: string | undefined;
  try {
    // O_NONBLOCK: opening a named pipe returns at once instead of waiting for a writer.
    const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    try {
      const info = await handle.stat();
      if (!info.isFile()) reason = info.isDirectory() ? 'it is a directory' : 'it is not a regular file';
    } finally {
      await handle.close();
    }
  } catch (error) {
    reason = fileErrorReason(error);
  }
  if (reason === undefined) return;
  throw new HyperprotoError(ErrorCode.Io, `cannot read config ${path}: ${reason}`, { hint: configFileHint(flag) });
}

function configFileHint(flag: string | undefined): string {
  if (flag === '--grid') return 'Give --grid a readable grid file (JSON).';
  if (flag) return `Give ${flag} a readable config file (hyperproto.config.json, .mjs or .js), or pass --no-config to read none.`;
  return 'hyperproto reads its config from the current directory: make it a readable file, or pass --no-config to read none.';
}

/**
 * Node runs a .js file as CommonJS unless the nearest package.json says "type": "module": an ES module config
 * (export default ...) there fails to import with a bare syntax error (Node 20 before 20.19, or "type": "commonjs";
 * later releases load it and warn). Throws that failure with the two ways to fix it; returns for any other failure.
 */
function moduleSyntaxInCommonJs(path: string, error: unknown): void {
  if (!(error instanceof SyntaxError) || !/\b(export|import)\b|top level bodies of modules/.test(error.message)) return;
  const scope = packageScope(dirname(path));
  if (scope.type === 'module') return;
  const where = scope.packageJson ? `${scope.packageJson} has no "type": "module"` : 'no package.json above it says "type": "module"';
  throw new HyperprotoError(
    ErrorCode.InvalidOptions,
    `${path} is an ES module, but Node loads this .js file as CommonJS (${where}): ${firstLine(error)}`,
    {
      cause: error,
      hint: `Rename it to ${basename(path, '.js')}.mjs, or add "type": "module" to ${scope.packageJson ?? "your project's package.json"}.`,
    },
  );
}

/** The package.json nearest above `dir` and its "type", which decides how Node loads a .js file there. */
function packageScope(dir: string): { packageJson?: string; type?: unknown } {
  for (let at = resolve(dir); ; at = dirname(at)) {
    const file = join(at, 'package.json');
    if (existsSync(file)) {
      try {
        return { packageJson: file, type: (JSON.parse(readFileSync(file, 'utf8')) as { type?: unknown }).type };
      } catch {
        return { packageJson: file }; // Node reports an unreadable package.json itself when importing
      }
    }
    if (dirname(at) === at) return {};
  }
}

async function importPlugins(specifier: string, url: string, pluginOptions: unknown, where: string): Promise<Plugin[]> {
  let module: { default?: unknown };
  try {
    module = await import(url);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const notFound = code === 'ERR_MODULE_NOT_FOUND';
    // Node cannot import TypeScript sources or a bare directory: the path is wrong, not the plugin.
    const notLoadable = code === 'ERR_UNKNOWN_FILE_EXTENSION' || code === 'ERR_UNSUPPORTED_DIR_IMPORT';
    throw new HyperprotoError(
      notFound || notLoadable ? ErrorCode.InvalidPlugin : ErrorCode.PluginFailed,
      `${where}: ${notFound || notLoadable ? 'cannot load' : 'failed while loading'} "${specifier}": ${firstLine(error)}`,
      {
        cause: error,
        hint: notFound
          ? 'Install what the plugin imports next to it (npm install in the plugin package).'
          : notLoadable
            ? 'Give the compiled JavaScript module (e.g. dist/index.js, after tsc), or the plugin package by name or directory with a package.json whose "exports" or "main" names it.'
            : `This is an error in the plugin "${specifier}", not in hyperproto: fix it or report it to its author.`,
      },
    );
  }
  let exported = module.default;
  // A factory takes the options given as ["pkg", options].
  if (typeof exported === 'function') {
    try {
      exported = await (exported as (options: unknown) => unknown)(pluginOptions);
    } catch (error) {
      throw new HyperprotoError(ErrorCode.PluginFailed, `${where}: the plugin factory of "${specifier}" threw: ${firstLine(error)}`, {
        cause: error,
        hint: `This is an error in the plugin "${specifier}" (or in the options given to it), not in hyperproto.`,
      });
    }
  } else if (pluginOptions !== undefined) {
    // Only a factory can take them: used anyway, they would be dropped without a word.
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `${where}: options given to "${specifier}", which takes none: its default export is not a function that takes options`,
      {
        hint: `Name it without options ("${specifier}" rather than ["${specifier}", options]), or make its default export a factory function that takes the options and returns the plugin.`,
      },
    );
  }
  const plugins = Array.isArray(exported) ? exported : [exported];
  plugins.forEach((plugin, i) => assertPluginShape(plugin, plugins.length > 1 ? `${specifier} (export ${i})` : specifier));
  return plugins as Plugin[];
}

const firstLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0];

/**
 * A path (./x, /x) relative to `base`, or a package name resolved from `base` the way Node would; with the
 * package.json of the package it names (a single module file has none: the one above it may be anyone's).
 */
function resolveSpecifier(specifier: string, base: string, where: string): { url: string; packageJson?: PackageJson; file?: string } {
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
    const path = resolve(base, specifier);
    if (!existsSync(path)) {
      throw new HyperprotoError(ErrorCode.InvalidPlugin, `${where}: no file or directory at ${path}`, {
        hint: 'Give the path of a plugin module or package directory, relative to where you run the command.',
      });
    }
    // A package directory: load its entry point as Node would for an installed package.
    if (!existsSync(join(path, 'package.json'))) return { url: pathToFileURL(path).href, file: path };
    const packageJson = checkCorePeer(path, where);
    return { url: pathToFileURL(join(path, esmEntry(packageJson))).href, packageJson };
  }
  const packageName = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
  const packageDir = installedPackageDir(packageName, base);
  if (!packageDir) {
    throw new HyperprotoError(
      ErrorCode.InvalidPlugin,
      `${where}: package "${packageName}" is not installed (looked in node_modules from ${base} upwards)`,
      {
        hint: `Install it in your project (npm install ${packageName}) or give a path starting with ./`,
      },
    );
  }
  const packageJson = checkCorePeer(packageDir, where);
  // A subpath ("pkg/extra") goes through the package's own exports map.
  if (specifier !== packageName) return { url: pathToFileURL(createRequire(join(base, 'noop.js')).resolve(specifier)).href, packageJson };
  return { url: pathToFileURL(join(packageDir, esmEntry(packageJson))).href, packageJson };
}

/** node_modules/<name> from `from` upwards, as Node looks an installed package up. */
export function installedPackageDir(name: string, from: string): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * A plugin package declares the core it was written against as a peer dependency; one made for another major
 * version would fail in obscure ways, so it is refused here with both versions named. Only the user's own plugin
 * is theirs to edit, so only its hint says to change its package.json, at its real path (`npm install ./dir` links
 * it into node_modules); a package whose real path is inside node_modules is a third party's, to be replaced.
 */
function checkCorePeer(packageDir: string, where: string): PackageJson {
  const pkg = readPackageJson(packageDir, where);
  const range = pkg.peerDependencies?.[CORE] ?? pkg.dependencies?.[CORE];
  const name = pkg.name ?? packageDir;
  const realDir = realpathSync(packageDir);
  const own = !realDir.split(sep).includes('node_modules');
  const peer = `"peerDependencies": { "${CORE}": "^${coreVersion}" }`;
  const packageJsonFile = join(realDir, 'package.json');
  const replace = `Install a version of "${name}" made for ${CORE} ${coreVersion} (or ask its authors for one)`;
  if (range === undefined) {
    throw new HyperprotoError(ErrorCode.InvalidPlugin, `${where}: plugin package "${name}" does not declare ${CORE} as a peer dependency`, {
      hint: own ? `Add ${peer} to ${packageJsonFile}.` : `${replace}.`,
    });
  }
  if (semver.validRange(range) === null) {
    // Inside hyperproto's own workspace a workspace reference names the very core this CLI runs.
    if (range.startsWith('workspace:') && importsThisCore(realDir)) return pkg;
    throw new HyperprotoError(
      ErrorCode.InvalidPlugin,
      `${where}: plugin package "${name}" declares ${CORE} "${range}", which is not a version range: it says where a copy came from, not which versions the plugin works with (npm writes that when hyperproto's packages are installed in the plugin's own folder)`,
      {
        hint: own
          ? `Restore ${peer} in ${packageJsonFile}, and install hyperproto's packages in your project, not in the plugin's folder (hyperproto's README, "Install in your own project").`
          : `${replace}.`,
      },
    );
  }
  if (!semver.satisfies(coreVersion, range, { includePrerelease: true })) {
    throw new HyperprotoError(
      ErrorCode.InvalidPlugin,
      `${where}: plugin package "${name}" needs ${CORE} ${range}, but this hyperproto runs ${CORE} ${coreVersion}`,
      {
        hint: own
          ? `Use a hyperproto CLI whose core matches ${range}, or make the plugin work with ${CORE} ${coreVersion} and set ${peer} in ${packageJsonFile}.`
          : `${replace}, or a hyperproto CLI whose core matches ${range}.`,
      },
    );
  }
  return pkg;
}

/** Whether Node, importing core from `dir`, finds the copy this CLI runs. */
function importsThisCore(dir: string): boolean {
  const found = installedPackageDir(CORE, dir);
  return found !== undefined && realpathSync(found) === realpathSync(coreDir);
}

interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  exports?: unknown;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function readPackageJson(packageDir: string, where: string): PackageJson {
  const file = join(packageDir, 'package.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
  } catch (error) {
    throw new HyperprotoError(ErrorCode.InvalidPlugin, `${where}: cannot read ${file}: ${firstLine(error)}`, { cause: error });
  }
}

function esmEntry(pkg: PackageJson): string {
  const root =
    typeof pkg.exports === 'object' && pkg.exports !== null && '.' in pkg.exports
      ? (pkg.exports as Record<string, unknown>)['.']
      : pkg.exports;
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
