// What the tests that run the store and the runner in a plain Node child share: the built package (turbo builds
// before it tests; a stale dist is refused, not tested) and the fake registry transpiled next to their scripts.
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const src = fileURLToPath(new URL('..', import.meta.url));

export interface ChildScratch {
  /** A fresh directory for the child's scripts and outputs. */
  readonly dir: string;
  /** file: URL of the built package's entry point, for the child's imports. */
  readonly builtPackage: string;
  /** Path of the fake registry module (test-support/fake-registry.ts as plain JavaScript), for runGrid. */
  readonly registryModule: string;
}

export async function prepareChildScratch(prefix: string): Promise<ChildScratch> {
  for (const file of ['results-store', 'results-lock', 'run-record', 'grid-runner']) {
    const built = join(src, '../dist', `${file}.js`);
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(src, `${file}.ts`)).mtimeMs)
      throw new Error(`dist/${file}.js is missing or older than its source: run \`pnpm --filter @hyperproto/experiments build\` first`);
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ts = (await import('typescript')).default;
  const source = readFileSync(join(src, 'test-support/fake-registry.ts'), 'utf8');
  const registry = ts
    .transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
    .outputText.replace(/from '@hyperproto\/core'/g, `from ${JSON.stringify(pathToFileURL(require.resolve('@hyperproto/core')).href)}`);
  const registryModule = join(dir, 'registry.mjs');
  writeFileSync(registryModule, registry);
  return { dir, builtPackage: pathToFileURL(join(src, '../dist/index.js')).href, registryModule };
}

/**
 * Spawn options under which a child meets file permissions: root reads and writes any file, so as root the child
 * runs as nobody (uid and gid 65534); otherwise as this user. What it reaches must be open to it (chmod).
 */
export function permissionsHold(): { uid?: number; gid?: number } {
  return process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
}
