import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, coreVersion, runCli } from './test-support/run-cli.js';
import { axesStrategyModule, writePluginPackage } from './test-support/plugin-package.js';
import { tinyTrainFlags } from './test-support/tiny-runs.js';

const cliDir = resolve(fileURLToPath(import.meta.url), '../..');
const repoRoot = resolve(cliDir, '../..');
// Inside the package so that the scaffolded plugins resolve @hyperproto/core and the conformance checks from here.
const scratch = join(cliDir, 'test-output-plugins');
const outside = mkdtempSync(join(tmpdir(), 'hyperproto-outside-'));
const SMALL = tinyTrainFlags({ perClass: [30, 10, 10], maxEpochs: 3 });

function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { cwd, env: { ...process.env, CI: 'true', ...env }, maxBuffer: 1 << 24 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const axesModule = axesStrategyModule('axes');

beforeAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('hyperproto new plugin', () => {
  it.each([
    ['prototypes', ['train', ...SMALL, '--head', 'hpn', '--prototypes', 'my-prototypes', '--dims', '2']],
    ['head', ['train', ...SMALL, '--head', 'my-head', '--prototypes', 'orthogonal', '--dims', '3']],
    [
      'dataset',
      [
        'train',
        '--dataset',
        'my-dataset',
        '--classes',
        '3',
        '--train-per-class',
        '30',
        '--head',
        'softmax',
        '--hidden-units',
        '16',
        '--max-epochs',
        '3',
      ],
    ],
    ['evaluator', ['train', ...SMALL, '--head', 'softmax', '--evaluator', 'my-evaluator']],
  ])('writes a %s plugin that passes its conformance test and trains from the CLI', async (kind, use) => {
    const made = await runCli(['new', 'plugin', '--kind', kind, `my-${kind}`, '--json'], scratch);
    expect(made.code, made.stderr).toBe(0);
    const result = JSON.parse(made.stdout);
    expect(result).toMatchObject({
      package: `my-${kind}`,
      plugin: `${kind}:my-${kind}`,
      files: ['package.json', 'index.js', 'index.test.js', 'README.md'],
    });
    const pkg = JSON.parse(readFileSync(join(result.dir, 'package.json'), 'utf8'));
    expect(pkg.peerDependencies).toEqual({ '@hyperproto/core': `^${coreVersion}` });

    const tests = await run(process.execPath, ['--test'], result.dir);
    expect(tests.code, tests.stdout + tests.stderr).toBe(0);
    expect(Number(/# pass (\d+)/.exec(tests.stdout)?.[1])).toBeGreaterThan(0);
    expect(tests.stdout).toMatch(/# fail 0/);

    const trained = await runCli([...use, '--plugin', `./my-${kind}`, '--out', `run-${kind}`, '--json'], scratch);
    expect(trained.code, trained.stderr).toBe(0);
    expect(JSON.parse(trained.stdout).test.accuracy).toBeGreaterThan(0);
    if (kind === 'evaluator') {
      const metrics = JSON.parse(readFileSync(join(scratch, 'run-evaluator/metrics.json'), 'utf8'));
      expect(metrics.evaluators['my-evaluator']).toEqual({ worstClass: expect.any(Number), worstClassRecall: expect.any(Number) });
    }
  });

  it('refuses an unknown kind, a bad package name and a directory that is not empty', async () => {
    expect((await runCli(['new', 'plugin', '--kind', 'engine', 'x'], scratch)).code).toBe(2);
    const badName = await runCli(['new', 'plugin', '--kind', 'head', 'My_Head'], scratch);
    expect([badName.code, badName.stderr]).toEqual([2, expect.stringMatching(/"My_Head" is not a valid npm package name/)]);
    mkdirSync(join(scratch, 'taken'));
    writeFileSync(join(scratch, 'taken', 'keep.txt'), 'mine');
    const taken = await runCli(['new', 'plugin', '--kind', 'head', 'x', '--dir', 'taken'], scratch);
    expect([taken.code, taken.stderr]).toEqual([3, expect.stringMatching(/taken already exists and is not empty/)]);
    expect(readFileSync(join(scratch, 'taken', 'keep.txt'), 'utf8')).toBe('mine');
  });
});

describe('plugin packages that cannot be used', () => {
  it('refuses a package without a peer dependency on core, or made for another core, naming it (exit 2)', async () => {
    writePluginPackage(join(scratch, 'no-peer'), { name: 'no-peer' }, axesModule);
    const noPeer = await runCli(['plugins', '--plugin', './no-peer'], scratch);
    expect(noPeer.code).toBe(2);
    expect(noPeer.stderr).toMatch(/plugin package "no-peer" does not declare @hyperproto\/core as a peer dependency/);
    expect(noPeer.stderr).toMatch(/hint: Add "peerDependencies"/);

    writePluginPackage(join(scratch, 'old-peer'), { name: 'old-peer', peerDependencies: { '@hyperproto/core': '^99.0.0' } }, axesModule);
    const oldPeer = await runCli(['plugins', '--plugin', './old-peer'], scratch);
    expect(oldPeer.code).toBe(2);
    expect(oldPeer.stderr).toContain(
      `plugin package "old-peer" needs @hyperproto/core ^99.0.0, but this hyperproto runs @hyperproto/core ${coreVersion}`,
    );
  });

  it.each([
    'file:../../tarballs/hyperproto-core-0.1.0.tgz',
    'link:../core',
    '../core',
    'https://example.com/hyperproto-core-0.1.0.tgz',
    'workspace:^',
  ])('refuses a peer range %s that is not a version range as a mis-install, saying how to fix it (exit 2)', async (range) => {
    // Outside the repository: no workspace around it provides this CLI's core.
    const dir = join(outside, `peer-${range.replace(/[^a-z0-9]+/gi, '-')}`);
    writePluginPackage(dir, { name: 'my-axes2', peerDependencies: { '@hyperproto/core': range } }, axesModule);
    const refused = await runCli(['plugins', '--plugin', dir], outside);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain(
      `E_INVALID_PLUGIN: --plugin ${dir}: plugin package "my-axes2" declares @hyperproto/core "${range}", which is not a version range`,
    );
    expect(refused.stderr).toContain(
      `hint: Restore "peerDependencies": { "@hyperproto/core": "^${coreVersion}" } in ${join(realpathSync(dir), 'package.json')}, and install hyperproto's packages in your project, not in the plugin's folder`,
    );
  });

  it("loads a workspace:^ peer where the workspace provides this CLI's core", async () => {
    writePluginPackage(
      join(scratch, 'in-workspace'),
      { name: 'in-workspace', peerDependencies: { '@hyperproto/core': 'workspace:^' } },
      axesModule,
    );
    const listed = await runCli(['plugins', '--kind', 'prototypes', '--plugin', './in-workspace', '--json'], scratch);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)[0].plugins.map((p: { name: string }) => p.name)).toContain('axes');
  });

  it("says to edit only the user's own plugin, at its real path; a package inside node_modules is to be replaced", async () => {
    const project = join(scratch, 'peer-hints');
    const oldPeer = { peerDependencies: { '@hyperproto/core': '^99.0.0' } };
    writePluginPackage(join(project, 'node_modules', 'old-plug'), { name: 'old-plug', ...oldPeer }, axesModule);
    writePluginPackage(join(project, 'node_modules', 'no-peer-plug'), { name: 'no-peer-plug' }, axesModule);
    // As `npm install ./my-plug` installs a local plugin: a link in node_modules to the user's folder.
    writePluginPackage(join(project, 'my-plug'), { name: 'my-plug', ...oldPeer }, axesModule);
    symlinkSync('../my-plug', join(project, 'node_modules', 'my-plug'));

    for (const name of ['old-plug', 'no-peer-plug']) {
      const refused = await runCli(['plugins', '--plugin', name], project);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain(
        `hint: Install a version of "${name}" made for @hyperproto/core ${coreVersion} (or ask its authors for one)`,
      );
      expect(refused.stderr).not.toMatch(/package\.json/);
    }

    const own = await runCli(['plugins', '--plugin', 'my-plug'], project);
    expect(own.code, own.stderr).toBe(2);
    expect(own.stderr).toContain(
      `plugin package "my-plug" needs @hyperproto/core ^99.0.0, but this hyperproto runs @hyperproto/core ${coreVersion}`,
    );
    expect(own.stderr).toContain(
      `set "peerDependencies": { "@hyperproto/core": "^${coreVersion}" } in ${join(realpathSync(project), 'my-plug', 'package.json')}.`,
    );
    expect(own.stderr).not.toContain('node_modules');
  });

  it("reports a missing path, a config that is not JSON, and a throwing factory as the plugin's failure", async () => {
    const missing = await runCli(['plugins', '--plugin', './nowhere.js'], scratch);
    expect([missing.code, missing.stderr]).toEqual([
      2,
      expect.stringMatching(/--plugin \.\/nowhere\.js: no file or directory at .*nowhere\.js/),
    ]);

    mkdirSync(join(scratch, 'bad-config'));
    writeFileSync(join(scratch, 'bad-config', 'hyperproto.config.json'), '{ "plugins": [');
    const config = await runCli(['plugins'], join(scratch, 'bad-config'));
    expect([config.code, config.stderr]).toEqual([2, expect.stringMatching(/cannot read config .*bad-config\/hyperproto\.config\.json/)]);

    writeFileSync(join(scratch, 'throws.mjs'), 'export default () => { throw new Error("no licence key"); };');
    const thrown = await runCli(['plugins', '--plugin', './throws.mjs'], scratch);
    expect(thrown.code).toBe(4);
    expect(thrown.stderr).toMatch(/the plugin factory of "\.\/throws\.mjs" threw: no licence key/);
    expect(thrown.stderr).not.toMatch(/internal error|a bug in hyperproto/);
  });

  it('asks for the compiled module when given a TypeScript source or a directory without a package.json (exit 2)', async () => {
    mkdirSync(join(scratch, 'ts-plugin', 'dist'), { recursive: true });
    writeFileSync(join(scratch, 'ts-plugin', 'index.ts'), 'export default {};\n');
    for (const path of ['./ts-plugin/index.ts', './ts-plugin/dist']) {
      const refused = await runCli(['plugins', '--plugin', path], scratch);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(/E_INVALID_PLUGIN: .*cannot load/);
      expect(refused.stderr).toMatch(/Give the compiled JavaScript module/);
      expect(refused.stderr).not.toMatch(/error in the plugin/);
    }
  });
});

describe('paths resolve from where the user stands', () => {
  it.each([
    ['outside the repository', outside],
    ['in a directory inside the repository', scratch],
  ])('`pnpm hyperproto ... --plugin ./relative` works %s', async (_where, dir) => {
    // A plain module that imports core without any node_modules beside it: the CLI lends it its own copy.
    writeFileSync(join(dir, 'axes.mjs'), axesModule);
    const listed = await run(
      'pnpm',
      ['--silent', '--dir', repoRoot, 'hyperproto', 'plugins', '--kind', 'prototypes', '--plugin', './axes.mjs', '--json'],
      dir,
    );
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)[0].plugins.map((p: { name: string }) => p.name)).toContain('axes');

    const made = await run(
      'pnpm',
      [
        '--silent',
        '--dir',
        repoRoot,
        'hyperproto',
        'prototypes',
        '--strategy',
        'axes',
        '--classes',
        '4',
        '--dims',
        '2',
        '--out',
        'axes.npy',
        '--plugin',
        './axes.mjs',
        '--json',
      ],
      dir,
    );
    expect(made.code, made.stderr).toBe(0);
    expect(readFileSync(join(dir, 'axes.npy')).length).toBeGreaterThan(4 * 2 * 4);
  });

  it("--version prints the CLI package's own version", async () => {
    const version = await run(process.execPath, [CLI_BIN, '--version'], outside);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(cliDir, 'package.json'), 'utf8')).version);
  });
});
