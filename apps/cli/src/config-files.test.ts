import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { axesStrategyModule } from './test-support/plugin-package.js';
import { runCli } from './test-support/run-cli.js';

// Outside the repository, so that no package.json of the workspace decides how a .js config is loaded.
const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-config-files-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A fresh project directory holding `files`, with the axes strategy as ./axes.mjs for configs to name. */
function project(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'axes.mjs'), axesStrategyModule('axes'));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** The prototype strategies `hyperproto plugins` lists in `dir`, or the failed run. */
async function strategies(dir: string, args: string[] = []) {
  const run = await runCli(['plugins', '--kind', 'prototypes', '--json', ...args], dir);
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout)[0].plugins as { name: string; source: string }[]).map((p) => `${p.name}@${p.source}`);
}

const esmConfig = 'export default { plugins: ["./axes.mjs"] };\n';

describe('config files in the current directory', () => {
  it('loads a single hyperproto.config.mjs, and a .js one where Node runs it as the module it is', async () => {
    expect(await strategies(project('mjs', { 'hyperproto.config.mjs': esmConfig }))).toContain('axes@./axes.mjs');
    const typeModule = project('js-type-module', { 'package.json': '{ "type": "module" }', 'hyperproto.config.js': esmConfig });
    expect(await strategies(typeModule)).toContain('axes@./axes.mjs');
    const commonJs = project('js-commonjs', {
      'package.json': '{ "name": "mine" }',
      'hyperproto.config.js': 'module.exports = { plugins: ["./axes.mjs"] };\n',
    });
    expect(await strategies(commonJs)).toContain('axes@./axes.mjs');
  });

  it('says to rename an ES module hyperproto.config.js that Node cannot load as CommonJS, or to set "type": "module" (exit 2)', async () => {
    // "type": "commonjs" fails on every Node 20 release; without "type", Node 20.19 and later load it and warn.
    const dir = project('js-esm-in-commonjs', {
      'package.json': '{ "name": "mine", "type": "commonjs" }',
      'hyperproto.config.js': esmConfig,
    });
    const refused = await runCli(['plugins'], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `error E_INVALID_OPTIONS: ${join(dir, 'hyperproto.config.js')} is an ES module, but Node loads this .js file as CommonJS (${join(dir, 'package.json')} has no "type": "module"): Unexpected token 'export'`,
    );
    expect(refused.stderr).toContain(`hint: Rename it to hyperproto.config.mjs, or add "type": "module" to ${join(dir, 'package.json')}.`);
  });

  it('refuses two config files, naming both (exit 2); --config picks one and --no-config reads neither', async () => {
    const dir = project('two', {
      'hyperproto.config.json': JSON.stringify({ plugins: ['./nowhere.mjs'] }),
      'hyperproto.config.mjs': esmConfig,
    });
    const refused = await runCli(['plugins'], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `error E_INVALID_OPTIONS: ${dir} has more than one config file (hyperproto.config.json, hyperproto.config.mjs): hyperproto reads only one`,
    );
    expect(refused.stderr).toContain(
      'hint: Keep one of them, holding all the plugins you use, or name the one to read with --config <file>.',
    );

    expect(await strategies(dir, ['--config', 'hyperproto.config.mjs'])).toContain('axes@./axes.mjs');
    expect(await strategies(dir, ['--no-config'])).not.toContain('axes@./axes.mjs');
  });

  it('refuses options given to a plugin whose default export is not a factory, naming the entry (exit 2)', async () => {
    const dir = project('options-to-plain', {
      'hyperproto.config.json': JSON.stringify({ plugins: ['./axes.mjs', ['./axes.mjs', { x: 1 }]] }),
    });
    const refused = await runCli(['plugins'], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `error E_INVALID_OPTIONS: ${join(dir, 'hyperproto.config.json')} plugins.1: options given to "./axes.mjs", which takes none`,
    );
    expect(refused.stderr).toContain(
      'hint: Name it without options ("./axes.mjs" rather than ["./axes.mjs", options]), or make its default export a factory function',
    );
  });
});

describe('hyperproto new plugin', () => {
  it('says what to do while the @hyperproto packages are not on the npm registry', async () => {
    const made = await runCli(['new', 'plugin', '--kind', 'head', 'my-head'], scratch);
    expect(made.code, made.stderr).toBe(0);
    const lines = made.stdout.trimEnd().split('\n');
    expect(lines.slice(1)).toEqual([
      'next:',
      '  cd my-head && npm install && npm test',
      '  npm install ./my-head   # in your project',
      '  npx hyperproto train --classes 10 --head my-head --prototypes orthogonal --dims 10 --plugin my-head',
      'while the @hyperproto packages are not on the npm registry (npm install answers E404), leave out npm install in',
      `my-head and install the tarballs in your project (hyperproto's README, "Install in your own project")`,
    ]);
    // The scaffold's README gives the same advice: tarballs installed in the plugin's folder rewrite its peer range.
    const readme = readFileSync(join(scratch, 'my-head', 'README.md'), 'utf8').replace(/\s+/g, ' ');
    expect(readme).toContain('leave out `npm install` here: install their tarballs (the CLI among them) in your project');
    expect(readme).not.toMatch(/install their tarballs here/);
  });
});
