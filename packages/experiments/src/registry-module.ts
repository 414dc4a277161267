import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ErrorCode, HyperprotoError, type Registry } from '@hyperproto/core';
import type { RunVersions } from './run-record.js';

/**
 * What an application hands the runner so that every worker thread can build the same registry: a module (URL or
 * absolute path) exporting `buildRegistry(options)`. The options must survive structured cloning (plain JSON).
 * Keeping this a module path keeps the experiments package free of any application or plugin package.
 */
export interface RegistryModule {
  buildRegistry(options: unknown): Registry | Promise<Registry>;
  /** Package name -> version of what the application loads (plugins, TensorFlow.js), recorded with every run. */
  versions?(): Record<string, string> | Promise<Record<string, string>>;
}

export async function importRegistryModule(specifier: string): Promise<RegistryModule> {
  let module: Partial<RegistryModule>;
  try {
    module = (await import(specifier)) as Partial<RegistryModule>;
  } catch (error) {
    throw new HyperprotoError(ErrorCode.Internal, `cannot load the registry module ${specifier}: ${(error as Error).message}`, { cause: error });
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
