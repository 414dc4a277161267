import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ErrorCode, HyperprotoError, type ExperimentOutcome, type Registry } from '@hyperproto/core';
import type { PluginOrigin } from './plugin-origins.js';
import type { RunVersions } from './run-record.js';

/** A registry with the origin of each of its plugins, which records name. */
export interface BuiltRegistry {
  readonly registry: Registry;
  readonly plugins: readonly PluginOrigin[];
}

/**
 * Writes a finished run's directory into `dir` (created, empty): the model and whatever else the application keeps
 * of a run. `target` is where the directory will end up once the runner moves it into place.
 */
export type RunWriter = (dir: string, outcome: ExperimentOutcome, target: string) => Promise<void>;

/**
 * What an application hands the runner so that every worker thread can build the same registry: a module (URL or
 * absolute path) exporting `buildRegistry(options)`. The options must survive structured cloning (plain JSON).
 * Keeping this a module path keeps the experiments package free of any application or plugin package.
 */
export interface RegistryModule {
  /** The registry, or the registry with the origin of each plugin (without them records name no packages). */
  buildRegistry(options: unknown): Registry | BuiltRegistry | Promise<Registry | BuiltRegistry>;
  /** Package name -> version of what the application loads (plugins, TensorFlow.js), recorded with every run. */
  versions?(): Record<string, string> | Promise<Record<string, string>>;
  /**
   * Saves a run's model (called in the thread that trained it, where the model lives); needed for `saveModels`.
   * The runner moves the directory into place atomically, or removes it.
   */
  writeRunDirectory?: RunWriter;
}

/** Builds the module's registry, with the plugins' origins when the module reports them. */
export async function loadRegistry(module: RegistryModule, options: unknown): Promise<BuiltRegistry> {
  const built = await module.buildRegistry(options);
  return 'registry' in built ? built : { registry: built, plugins: [] };
}

export async function importRegistryModule(specifier: string): Promise<RegistryModule> {
  let module: Partial<RegistryModule>;
  try {
    module = (await import(specifier)) as Partial<RegistryModule>;
  } catch (error) {
    throw new HyperprotoError(ErrorCode.Internal, `cannot load the registry module ${specifier}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof module.buildRegistry !== 'function') {
    throw new HyperprotoError(ErrorCode.Internal, `the registry module ${specifier} does not export a buildRegistry(options) function`);
  }
  return module as RegistryModule;
}

function ownVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function coreVersion(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('@hyperproto/core');
    // dist/index.js -> package.json
    return (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** Node.js, this package, core, and whatever the registry module reports, split into hyperproto / tfjs / other. */
export async function collectVersions(module: RegistryModule | undefined): Promise<RunVersions> {
  const reported = { ...((await module?.versions?.()) ?? {}) };
  reported['@hyperproto/experiments'] = ownVersion();
  const core = coreVersion();
  if (core) reported['@hyperproto/core'] ??= core;
  const hyperproto: Record<string, string> = {};
  const other: Record<string, string> = {};
  for (const [name, version] of Object.entries(reported).sort(([a], [b]) => a.localeCompare(b))) {
    (name.startsWith('@hyperproto/') ? hyperproto : other)[name] = version;
  }
  return { node: process.version, hyperproto, tfjs: other['@tensorflow/tfjs'] ?? null, other };
}
