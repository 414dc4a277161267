import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import type { GlobalOptions } from '../main.js';
import { Output } from '../output.js';
import { coreVersion } from '../plugin-loading.js';

export const SCAFFOLD_KINDS = ['prototypes', 'head', 'dataset', 'evaluator'] as const;
type ScaffoldKind = (typeof SCAFFOLD_KINDS)[number];

const KIND_TITLES: Record<ScaffoldKind, string> = {
  prototypes: 'prototype strategy',
  head: 'head',
  dataset: 'dataset',
  evaluator: 'evaluator',
};
const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const PLUGIN_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const templates = fileURLToPath(new URL('../../templates/', import.meta.url));

/** How a user runs each kind once the package is installed. */
function usage(kind: ScaffoldKind, plugin: string, pkg: string): string {
  switch (kind) {
    case 'prototypes':
      return `npx hyperproto train --classes 10 --head hpn --prototypes ${plugin} --dims 5 --plugin ${pkg}`;
    case 'head':
      return `npx hyperproto train --classes 10 --head ${plugin} --prototypes orthogonal --dims 10 --plugin ${pkg}`;
    case 'dataset':
      return `npx hyperproto train --dataset ${plugin} --classes 3 --head softmax --plugin ${pkg}`;
    case 'evaluator':
      return `npx hyperproto train --classes 10 --head softmax --evaluator ${plugin} --plugin ${pkg}`;
  }
}

export async function newPluginCommand(name: string, options: GlobalOptions & { kind: string; dir?: string }): Promise<void> {
  const output = new Output(options);
  if (!(SCAFFOLD_KINDS as readonly string[]).includes(options.kind)) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `--kind ${options.kind}: expected one of ${SCAFFOLD_KINDS.join(', ')}`);
  }
  const kind = options.kind as ScaffoldKind;
  if (!PACKAGE_NAME.test(name) || name.length > 214) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `"${name}" is not a valid npm package name`, {
      hint: 'Use lowercase letters, digits and dashes, optionally scoped: my-axes or @me/hyperproto-prototypes-axes',
    });
  }
  // The registry name drops the scope and a conventional hyperproto-<kind>- prefix.
  const unscoped = name.replace(/^@[^/]+\//, '');
  const plugin = unscoped.replace(new RegExp(`^hyperproto-${kind}-`), '');
  if (!PLUGIN_NAME.test(plugin)) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `"${plugin}" (from "${name}") is not a kebab-case plugin name`, {
      hint: 'Plugin names are lowercase words joined by dashes, e.g. my-axes',
    });
  }

  const target = resolve(options.dir ?? unscoped);
  if (existsSync(target) && (await readdir(target).catch(() => ['(not a directory)'])).length > 0) {
    throw new HyperprotoError(ErrorCode.Io, `${target} already exists and is not empty`, {
      hint: 'Choose another --dir, or remove it first.',
    });
  }
  const replacements: Record<string, string> = {
    __PLUGIN_NAME__: plugin,
    __PACKAGE_NAME__: name,
    __KIND__: kind,
    __KIND_TITLE__: KIND_TITLES[kind],
    __DIR_NAME__: relative(process.cwd(), target) || '.',
    __USAGE__: usage(kind, plugin, name),
  };
  const fill = (text: string) => text.replace(/__[A-Z_]+__/g, (key) => replacements[key] ?? key);
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(packageJson(name, kind), null, 2)}\n`,
    'index.js': fill(await readFile(join(templates, kind, 'index.js'), 'utf8')),
    'index.test.js': fill(await readFile(join(templates, kind, 'index.test.js'), 'utf8')),
    'README.md': fill(await readFile(join(templates, 'README.md'), 'utf8')),
  };

  // Written beside the target and renamed into place, so an interrupted command leaves no half package.
  const staging = join(dirname(target), `.${basename(target)}.partial-${process.pid}`);
  try {
    await mkdir(staging, { recursive: true });
    for (const [file, text] of Object.entries(files)) await writeFile(join(staging, file), text);
    await rename(staging, target); // replaces an empty directory, never one that something filled meanwhile
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw new HyperprotoError(ErrorCode.Io, `cannot write ${target}: ${(error as Error).message}`, { cause: error });
  }

  const result = { package: name, plugin: `${kind}:${plugin}`, dir: target, files: Object.keys(files) };
  output.result(result, () =>
    [
      `wrote ${KIND_TITLES[kind]} plugin ${name} (${kind}:${plugin}) to ${target}: ${Object.keys(files).join(', ')}`,
      'next:',
      `  cd ${replacements.__DIR_NAME__} && npm install && npm test`,
      `  npm install ./${replacements.__DIR_NAME__}   # in your project`,
      `  ${usage(kind, plugin, name)}`,
      // Until the packages are published, the plugin's npm install cannot fetch its @hyperproto dev dependencies.
      `while the @hyperproto packages are not on the npm registry (npm install answers E404), leave out npm install in`,
      `${replacements.__DIR_NAME__} and install the tarballs in your project (hyperproto's README, "Install in your own project")`,
    ].join('\n'),
  );
}

/** Versions follow the core this CLI runs: hyperproto's packages are released together under one version. */
function packageJson(name: string, kind: ScaffoldKind) {
  const core = `^${coreVersion}`;
  return {
    name,
    version: '0.1.0',
    description: `A hyperproto ${KIND_TITLES[kind]} plugin`,
    keywords: ['hyperproto', 'hyperproto-plugin', `hyperproto-${kind}`],
    license: 'MIT',
    type: 'module',
    exports: './index.js',
    main: './index.js',
    files: ['index.js'],
    engines: { node: '>=20.10' },
    scripts: { test: 'node --test' },
    peerDependencies: { '@hyperproto/core': core },
    devDependencies: { '@hyperproto/core': core, '@hyperproto/plugin-testing': core },
  };
}
