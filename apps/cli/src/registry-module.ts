// The module `hyperproto experiment` hands to @hyperproto/experiments: every worker thread imports it to build the
// same registry as the command (built-in plugins plus the config's and --plugin's).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from '@hyperproto/core';
import { buildRegistry as buildCliRegistry } from './plugin-loading.js';

export interface RegistryModuleOptions {
  cwd?: string;
  config?: string;
  plugins?: string[];
}

export async function buildRegistry(options: RegistryModuleOptions = {}): Promise<Registry> {
  return (await buildCliRegistry(options)).registry;
}

const cliRoot = fileURLToPath(new URL('..', import.meta.url));

function readVersion(packageJson: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The directory of an installed dependency, looked up from `from` upwards as Node would. */
function packageDir(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Versions recorded with every run: this CLI, each @hyperproto package it depends on, TensorFlow.js and onnxruntime. */
export function versions(): Record<string, string> {
  const out: Record<string, string> = {};
  const own = JSON.parse(readFileSync(join(cliRoot, 'package.json'), 'utf8')) as { name: string; version: string; dependencies?: Record<string, string> };
  out[own.name] = own.version;
  for (const name of Object.keys(own.dependencies ?? {}).filter((n) => n.startsWith('@hyperproto/'))) {
    const dir = packageDir(name, cliRoot);
    const version = dir && readVersion(join(dir, 'package.json'));
    if (version) out[name] = version;
  }
  // The numeric libraries under the engines: what actually computed the numbers.
  for (const [owner, library] of [
    ['@hyperproto/tfjs-backend', '@tensorflow/tfjs'],
    ['@hyperproto/engine-onnxruntime', 'onnxruntime-node'],
  ] as const) {
    const dir = packageDir(owner, cliRoot);
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
