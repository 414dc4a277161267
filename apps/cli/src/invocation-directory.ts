import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * The directory the user typed the command in. pnpm and npm run a package script from the package's root and
 * pass the user's directory as INIT_CWD, so `pnpm hyperproto ... --plugin ./x` from a subdirectory (or from
 * anywhere with `pnpm --dir`) would otherwise resolve `./x`, the config file and every relative path from the
 * root. Only that case is changed: a script that changes directory itself (`cd sub && hyperproto ...`) keeps its own.
 */
export function invocationDirectory(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const { INIT_CWD: initCwd, npm_package_json: packageJson } = env;
  if (!initCwd || !packageJson) return cwd;
  const launchedFromScriptRoot = resolve(cwd) === resolve(dirname(packageJson));
  return launchedFromScriptRoot && existsSync(initCwd) ? resolve(initCwd) : cwd;
}
