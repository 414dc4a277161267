// Which package provided each plugin of a registry, for the records of `hyperproto experiment`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginOrigin } from '@hyperproto/experiments';
import { cliRoot } from './cli-package.js';
import { installedPackageDir, type LoadedPlugin } from './plugin-loading.js';

interface PackageInfo {
  readonly package: string | null;
  readonly version: string | null;
}

const UNKNOWN: PackageInfo = { package: null, version: null };

function readPackage(dir: string | undefined): PackageInfo | undefined {
  if (!dir) return undefined;
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
    return { package: typeof pkg.name === 'string' ? pkg.name : null, version: typeof pkg.version === 'string' ? pkg.version : null };
  } catch {
    return undefined;
  }
}

let builtins: Promise<Map<unknown, PackageInfo>> | undefined;

/**
 * Each built-in plugin's own package (@hyperproto/head-hpn, ...), found by identity: the packages that
 * @hyperproto/builtin-plugins depends on are imported (already loaded: the same module instances) and each
 * exported value is mapped to its package.
 */
function builtinPackages(): Promise<Map<unknown, PackageInfo>> {
  builtins ??= (async () => {
    const map = new Map<unknown, PackageInfo>();
    const dir = installedPackageDir('@hyperproto/builtin-plugins', cliRoot);
    const own = dir && (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> });
    if (!dir || !own) return map;
    const require = createRequire(join(dir, 'package.json'));
    for (const name of Object.keys(own.dependencies ?? {})) {
      try {
        const info = readPackage(installedPackageDir(name, dir)) ?? { package: name, version: null };
        const module = (await import(pathToFileURL(require.resolve(name)).href)) as Record<string, unknown>;
        for (const value of Object.values(module)) if (typeof value === 'object' && value !== null && !map.has(value)) map.set(value, info);
      } catch {
        // Not loadable from here: its plugins fall back to the aggregate package below.
      }
    }
    return map;
  })();
  return builtins;
}

/** Where each loaded plugin came from: its own package for built-ins, the package plugin loading found otherwise. */
export async function pluginOrigins(loaded: readonly LoadedPlugin[]): Promise<PluginOrigin[]> {
  const builtin = await builtinPackages();
  const aggregate = readPackage(installedPackageDir('@hyperproto/builtin-plugins', cliRoot)) ?? UNKNOWN;
  return loaded.map(({ plugin, source, package: provider, sha256 }) => {
    const info =
      source === 'builtin'
        ? (builtin.get(plugin) ?? aggregate)
        : provider
          ? { package: provider.name, version: provider.version }
          : UNKNOWN;
    return { kind: plugin.kind, name: plugin.name, package: info.package, version: info.version, source, ...(sha256 ? { sha256 } : {}) };
  });
}
