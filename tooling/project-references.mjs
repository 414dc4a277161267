#!/usr/bin/env node
// Keeps each workspace package's tsconfig.build.json a composite TypeScript project whose `references` are exactly
// its workspace dependencies (dependencies, peer and optional ones: what its built code imports), so editors and
// `tsc -b` see the package graph that package.json declares. The build info lives inside dist/, so a deleted dist/
// is always rebuilt, and is kept out of the published files.
//
//   node tooling/project-references.mjs           rewrite what is out of date
//   node tooling/project-references.mjs --check   list what is out of date and exit 1 (run by `pnpm lint`)
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
const BUILD_INFO = 'dist/tsconfig.build.tsbuildinfo';
const UNPUBLISHED_BUILD_INFO = '!dist/*.tsbuildinfo';

/** Every workspace package that builds with tsc: its directory, manifest and build config. */
function workspaceProjects() {
  const projects = new Map();
  for (const group of ['packages', 'apps', 'tooling']) {
    const groupDir = join(root, group);
    if (!existsSync(groupDir)) continue;
    for (const entry of readdirSync(groupDir, { withFileTypes: true })) {
      const dir = join(groupDir, entry.name);
      if (!entry.isDirectory() || !existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'tsconfig.build.json'))) continue;
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      projects.set(manifest.name, { dir, manifest });
    }
  }
  return projects;
}

/** JSON with full-line `//` comments (as tsconfig files allow), each kept with the key on the line below it. */
function readCommentedJson(source) {
  const lines = (typeof source === 'string' ? readFileSync(source, 'utf8') : source.text).split('\n');
  const comments = [];
  lines.forEach((line, i) => {
    if (!/^\s*\/\//.test(line)) return;
    const key = lines
      .slice(i + 1)
      .find((next) => !/^\s*\/\//.test(next))
      ?.match(/^\s*"([^"]+)"/)?.[1];
    comments.push({ text: line.trim(), key });
  });
  return { value: JSON.parse(lines.filter((line) => !/^\s*\/\//.test(line)).join('\n')), comments };
}

function writeCommentedJson(value, comments) {
  const lines = JSON.stringify(value, null, 2).split('\n');
  for (const { text, key } of comments) {
    const at = lines.findIndex((line) => line.startsWith(`  "${key}":`));
    if (at >= 0) lines.splice(at, 0, `  ${text}`);
  }
  return `${lines.join('\n')}\n`;
}

const projects = workspaceProjects();
const stale = [];
for (const [name, { dir, manifest }] of projects) {
  const imported = new Set(
    [manifest.dependencies, manifest.peerDependencies, manifest.optionalDependencies].flatMap((deps) => Object.keys(deps ?? {})),
  );
  const references = [...imported]
    .filter((dep) => dep !== name && projects.has(dep))
    .sort()
    .map((dep) => ({ path: relative(dir, join(projects.get(dep).dir, 'tsconfig.build.json')) }));

  const configPath = join(dir, 'tsconfig.build.json');
  const { value: config, comments } = readCommentedJson(configPath);
  const wanted = {
    ...config,
    compilerOptions: { ...config.compilerOptions, composite: true, tsBuildInfoFile: BUILD_INFO },
    references,
  };
  if (references.length === 0) delete wanted.references;
  const configText = writeCommentedJson(wanted, comments);

  const manifestPath = join(dir, 'package.json');
  const files = manifest.files;
  const wantedManifest =
    Array.isArray(files) && files.includes('dist') && !files.includes(UNPUBLISHED_BUILD_INFO)
      ? { ...manifest, files: [...files, UNPUBLISHED_BUILD_INFO] }
      : manifest;
  const manifestText = `${JSON.stringify(wantedManifest, null, 2)}\n`;

  for (const [path, text] of [
    [configPath, configText],
    [manifestPath, manifestText],
  ]) {
    // Compared as data: Biome formats these files afterwards.
    if (JSON.stringify(readCommentedJson(path).value) === JSON.stringify(readCommentedJson({ text }).value)) continue;
    stale.push(relative(root, path));
    if (!check) writeFileSync(path, text);
  }
}

if (stale.length === 0) console.log(`project references: ${projects.size} packages up to date`);
else if (check) {
  console.error(`project references out of date in:\n  ${stale.join('\n  ')}\nRun \`node tooling/project-references.mjs\` to update them.`);
  process.exit(1);
} else console.log(`project references: updated\n  ${stale.join('\n  ')}`);
