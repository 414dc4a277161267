import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The rule for README code: a ```js or ```ts block that imports an `@hyperproto/...` package is a complete example
 * and must type-check as written, unless its first line is `// fragment: <why>` (code that only makes sense inside
 * something else, e.g. a plugin's method). A block whose first line is `// file: NAME.js` is saved under that name,
 * so that another block of the same README can import it (`./NAME.js`).
 */
export interface ReadmeBlock {
  /** The README's path from the repository root. */
  readme: string;
  /** The README line of the block's first line of code (counted from 1). */
  line: number;
  language: 'js' | 'ts';
  code: string;
  /** From `// file: NAME`. */
  file?: string;
  /** From `// fragment: <why>`: not checked. */
  fragment?: string;
}

const FENCE_OPEN = /^```(js|javascript|mjs|ts|typescript)\s*$/;
const FILE_MARKER = /^\/\/ file: ([\w.-]+\.(?:m?js|ts))\s*$/;
const FRAGMENT_MARKER = /^\/\/ fragment:(.*)$/;
const HYPERPROTO_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]@hyperproto\//;

/** Every ```js / ```ts block of a README, with where it starts and its markers. */
export function readmeBlocks(markdown: string, readme: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i] ?? '');
    if (!open) continue;
    const end = lines.findIndex((text, k) => k > i && /^```\s*$/.test(text));
    if (end < 0) throw new Error(`${readme}:${i + 1}: a code block that is never closed`);
    const code = lines.slice(i + 1, end);
    const first = code[0] ?? '';
    const file = FILE_MARKER.exec(first)?.[1];
    const fragment = FRAGMENT_MARKER.exec(first)?.[1]?.trim();
    blocks.push({
      readme,
      line: i + 2,
      language: open[1]?.startsWith('t') ? 'ts' : 'js',
      code: code.join('\n'),
      ...(file !== undefined ? { file } : {}),
      ...(fragment !== undefined ? { fragment } : {}),
    });
    i = end;
  }
  return blocks;
}

/** Whether the rule above makes the block a complete example that must type-check. */
export function isCompleteExample(block: ReadmeBlock): boolean {
  return block.fragment === undefined && HYPERPROTO_IMPORT.test(block.code);
}

/** The READMEs whose examples are checked: the repository's and every workspace package's. */
export function workspaceReadmes(repoRoot: string): string[] {
  const nested = ['packages', 'apps', 'examples', 'tooling'].flatMap((group) =>
    existsSync(join(repoRoot, group))
      ? readdirSync(join(repoRoot, group))
          .map((name) => `${group}/${name}/README.md`)
          .filter((path) => existsSync(join(repoRoot, path)))
      : [],
  );
  return ['README.md', ...nested.sort()];
}

/** Each workspace package by name (`@hyperproto/core`) with its directory. */
export function workspacePackages(repoRoot: string): Map<string, string> {
  const packages = new Map<string, string>();
  for (const group of ['packages', 'apps']) {
    for (const name of readdirSync(join(repoRoot, group))) {
      const manifest = join(repoRoot, group, name, 'package.json');
      if (!existsSync(manifest)) continue;
      packages.set((JSON.parse(readFileSync(manifest, 'utf8')) as { name: string }).name, dirname(manifest));
    }
  }
  return packages;
}

/**
 * The compiler options the README promises the examples pass: what a user's project sets (strict,
 * noUncheckedIndexedAccess, ES modules with `nodenext`, skipLibCheck for TensorFlow.js's declarations); JavaScript
 * examples are checked as with `// @ts-check`.
 */
export const EXAMPLE_COMPILER_OPTIONS = {
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  // DOM for the browser runtime's examples (document, fetch), node for the rest.
  lib: ['ES2023', 'DOM'],
  types: ['node'],
  strict: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: true,
  allowJs: true,
  checkJs: true,
  noEmit: true,
} as const;

/** Where each written example came from, to name README lines in the compiler's messages. */
type Origins = Map<string, ReadmeBlock>;

/**
 * Writes the examples into `dir` as a project of their own, one folder per README, with `node_modules` linking
 * every workspace package (its built types: the packages must be built) and vitest and @types/node from the
 * repository root, as a user's install would have them.
 */
export function writeExamplesProject(dir: string, examples: readonly ReadmeBlock[], repoRoot: string): Origins {
  const packages = workspacePackages(repoRoot);
  const origins: Origins = new Map();
  for (const block of examples) {
    const folder = block.readme.replace(/\/?README\.md$/, '').replace(/\//g, '-') || 'root';
    const name = block.file ?? `line-${block.line}.${block.language}`;
    const path = `${folder}/${name}`;
    const earlier = origins.get(path);
    if (earlier) throw new Error(`${block.readme}:${block.line}: a second block named ${name} (the first is at line ${earlier.line})`);
    for (const [, imported] of block.code.matchAll(/['"](@hyperproto\/[\w-]+)/g)) {
      const home = packages.get(imported ?? '');
      if (home === undefined) throw new Error(`${block.readme}:${block.line} imports ${imported}, which is no workspace package`);
      if (!existsSync(join(home, 'dist'))) throw new Error(`${imported} is not built (no ${join(home, 'dist')}): run \`pnpm build\` first`);
    }
    mkdirSync(join(dir, folder), { recursive: true });
    writeFileSync(join(dir, path), `${block.code}\n`);
    origins.set(path, block);
  }
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'readme-examples', private: true, type: 'module' })}\n`);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    `${JSON.stringify({ compilerOptions: EXAMPLE_COMPILER_OPTIONS, include: ['**/*.js', '**/*.ts'] }, null, 2)}\n`,
  );
  mkdirSync(join(dir, 'node_modules/@hyperproto'), { recursive: true });
  mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
  for (const [name, home] of packages) symlinkSync(home, join(dir, 'node_modules', name), 'dir');
  for (const name of ['vitest', '@types/node']) symlinkSync(join(repoRoot, 'node_modules', name), join(dir, 'node_modules', name), 'dir');
  return origins;
}

/**
 * Runs tsc once over the project and returns its errors, each named by README and line
 * (`packages/mlp/README.md:27:13 error TS2532: ...`); empty when every example type-checks.
 */
export async function typeCheckExamples(dir: string, origins: Origins): Promise<string[]> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const output = await new Promise<string>((done, fail) =>
    execFile(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], { cwd: dir, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      // tsc exits 2 when it reports errors; anything else without output is a failure to run.
      if (error && !stdout) fail(new Error(`tsc did not run: ${stderr || error.message}`));
      else done(stdout);
    }),
  );
  const errors: string[] = [];
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    const at = /^(.+?)\((\d+),(\d+)\): (.*)$/.exec(line);
    const block = at ? origins.get(at[1] ?? '') : undefined;
    if (at && block) errors.push(`${block.readme}:${block.line + Number(at[2]) - 1}:${at[3]} ${at[4]}`);
    else if (errors.length > 0 && /^\s/.test(line)) errors[errors.length - 1] += `\n${line}`;
    else errors.push(line);
  }
  return errors;
}
