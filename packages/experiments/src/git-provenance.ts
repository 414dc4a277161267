import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The commit of the checkout whose code made a record; `dirty` when it had uncommitted changes. */
export interface GitProvenance {
  readonly commit: string;
  readonly dirty: boolean;
}

function git(args: readonly string[], cwd: string): Promise<string | undefined> {
  return new Promise((done) => {
    execFile('git', [...args], { cwd, maxBuffer: 1 << 26, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } }, (error, stdout) =>
      done(error ? undefined : stdout),
    );
  });
}

/** The directory of the package that holds `file` (nearest package.json upwards), or the file's own directory. */
function packageRoot(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return dirname(file);
  }
}

/** A module specifier (file URL, absolute path, or a package name resolvable from here) as a file path. */
export function modulePath(specifier: string): string | undefined {
  try {
    if (specifier.startsWith('file:')) return fileURLToPath(specifier);
    if (isAbsolute(specifier)) return specifier;
    return fileURLToPath(import.meta.resolve(specifier));
  } catch {
    return undefined;
  }
}

/**
 * The commit of the git checkout that holds the package of `codeFile`, and whether that checkout had uncommitted
 * changes (`git status --porcelain`, untracked files included). Null when the package is not a tracked part of a
 * work tree: no git, no repository, or a package installed into another project's (ignored) node_modules, whose
 * enclosing repository says nothing about the code that ran.
 */
export async function gitProvenance(codeFile: string): Promise<GitProvenance | null> {
  const root = packageRoot(codeFile);
  const tracked = existsSync(join(root, 'package.json'))
    ? await git(['ls-files', '--error-unmatch', 'package.json'], root)
    : await git(['ls-files', '--error-unmatch', codeFile], root);
  if (tracked === undefined) return null;
  const commit = (await git(['rev-parse', '--verify', 'HEAD'], root))?.trim();
  if (!commit) return null;
  const status = await git(['status', '--porcelain'], root);
  return { commit, dirty: status === undefined ? true : status.trim().length > 0 };
}
