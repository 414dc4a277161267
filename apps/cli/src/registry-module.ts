// The module `hyperproto experiment` hands to @hyperproto/experiments: every worker thread imports it to build the
// same registry as the command (built-in plugins plus the config's, the grid file's and --plugin's), and to save the
// models it keeps.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ExperimentOutcome } from '@hyperproto/core';
import type { BuiltRegistry } from '@hyperproto/experiments';
import { cliPackage, cliRoot } from './cli-package.js';
import { buildRegistry as buildCliRegistry, installedPackageDir } from './plugin-loading.js';
import { pluginOrigins } from './plugin-origins.js';
import { writeRunFiles } from './run-files.js';

export interface RegistryModuleOptions {
  cwd?: string;
  /** A config file; none loads the directory's own (--no-config reaches the threads as HYPERPROTO_NO_CONFIG). */
  config?: string;
  /** The grid file, whose "plugins" load after the config's. */
  grid?: string;
  plugins?: string[];
}

/** The registry, with the package (name and version) of each plugin for the records. */
export async function buildRegistry(options: RegistryModuleOptions = {}): Promise<BuiltRegistry> {
  const { registry, loaded } = await buildCliRegistry(options);
  return { registry, plugins: await pluginOrigins(loaded) };
}

/** A kept model's directory: the same files `hyperproto train` writes, so `export`, `predict` and `serve` take it. */
export async function writeRunDirectory(dir: string, outcome: ExperimentOutcome, target: string): Promise<void> {
  await writeRunFiles(dir, outcome, target);
}

/** The package's version; none when it has no string version (records hold only strings, and refuse anything else). */
function readVersion(packageJson: string): string | undefined {
  try {
    const version: unknown = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

/** Versions recorded with every run: this CLI, each @hyperproto package it depends on, TensorFlow.js and onnxruntime. */
export function versions(): Record<string, string> {
  const out: Record<string, string> = {};
  const own = cliPackage;
  if (typeof own.version === 'string') out[own.name] = own.version;
  for (const name of Object.keys(own.dependencies ?? {}).filter((n) => n.startsWith('@hyperproto/'))) {
    const dir = installedPackageDir(name, cliRoot);
    const version = dir && readVersion(join(dir, 'package.json'));
    if (version) out[name] = version;
  }
  // The numeric libraries under the engines: what actually computed the numbers.
  for (const [owner, library] of [
    ['@hyperproto/tfjs-backend', '@tensorflow/tfjs'],
    ['@hyperproto/engine-onnxruntime', 'onnxruntime-node'],
  ] as const) {
    const dir = installedPackageDir(owner, cliRoot);
    if (!dir) continue;
    try {
      const version = readVersion(createRequire(join(dir, 'package.json')).resolve(`${library}/package.json`));
      if (version) out[library] = version;
    } catch {
      // not installed, or its package.json is not exported: nothing to record
    }
  }
  return out;
}
