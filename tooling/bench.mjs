#!/usr/bin/env node
// `pnpm bench [name ...]`: runs the benchmarks named (all when none), each a `bench/<name>.bench.mjs` file in a
// workspace package, after building. Benchmarks print ratios measured in the same run; see each file's header.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const benchmarks = new Map();
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group))) {
    const dir = join(root, group, name, 'bench');
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.bench.mjs'))) {
      benchmarks.set(file.replace('.bench.mjs', ''), { packageDir: join(root, group, name), file: join(dir, file) });
    }
  }
}

const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith('-'));
const passThrough = args.filter((a) => a.startsWith('-'));
const unknown = names.filter((n) => !benchmarks.has(n));
if (args.includes('--help') || unknown.length) {
  if (unknown.length) console.error(`unknown benchmark: ${unknown.join(', ')}`);
  console.error(`usage: pnpm bench [${[...benchmarks.keys()].sort().join('|')}] [--quick]`);
  for (const [name, { file }] of [...benchmarks].sort()) console.error(`  ${name.padEnd(12)} ${relative(root, file)}`);
  process.exit(unknown.length ? 2 : 0);
}

const build = spawnSync('pnpm', ['build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
if (build.status !== 0) process.exit(build.status ?? 1);
let failed = 0;
for (const name of names.length ? names : [...benchmarks.keys()].sort()) {
  const { packageDir, file } = benchmarks.get(name);
  console.log(`\n=== bench ${name} (${relative(root, file)})`);
  const run = spawnSync('node', [file, ...passThrough], { cwd: packageDir, stdio: 'inherit' });
  if (run.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
