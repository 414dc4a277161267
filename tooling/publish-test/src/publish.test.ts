import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRegistry, type LocalRegistry } from './local-registry.js';

/**
 * A user's first hour, for real: every package is versioned with changesets and published to a local Verdaccio,
 * then, in an empty directory outside the repository, the CLI is installed from it with npm, a plugin package is
 * scaffolded, tested, installed and trained with, and the model exported and run.
 */
const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..');
const work = mkdtempSync(join(tmpdir(), 'hyperproto-publish-'));
const scratch = join(work, 'repo');
const consumer = join(work, 'consumer');
let registry: LocalRegistry;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Settings that pnpm and npm pass to their children would point the inner npm at the outer project.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|pnpm_|INIT_CWD$)/i.test(key)));

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(command, args, { cwd, env: { ...cleanEnv, ...env }, maxBuffer: 1 << 26, timeout: 600_000 }, (error, stdout, stderr) =>
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const must = async (command: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<Run> => {
  const result = await run(command, args, cwd, env);
  expect(result.code, `${command} ${args.join(' ')} in ${cwd}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
};

/** The workspace's publishable packages: every packages/* and apps/* package that is not private. */
function publishable(): { dir: string; name: string }[] {
  return ['packages', 'apps'].flatMap((group) =>
    readdirSync(join(repoRoot, group))
      .map((name) => join(repoRoot, group, name))
      .filter((dir) => existsSync(join(dir, 'package.json')))
      .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
      .filter(({ pkg }) => !pkg.private)
      .map(({ dir, pkg }) => ({ dir, name: pkg.name as string })),
  );
}

beforeAll(async () => {
  const missing = publishable().filter(({ dir }) => !existsSync(join(dir, 'dist')));
  if (missing.length > 0) throw new Error(`not built: ${missing.map((p) => p.name).join(', ')}: run \`pnpm build\` first`);
  // The scratch copy gets the version bumps; the repository is never touched.
  cpSync(repoRoot, scratch, {
    recursive: true,
    filter: (path) => !/(^|\/)(node_modules|\.git|\.turbo|runs|test-output[^/]*|docs)$/.test(relative(repoRoot, path)),
  });
  registry = await startLocalRegistry(join(work, 'registry'));
  writeFileSync(join(scratch, '.npmrc'), `registry=${registry.url}\n${registry.authLine}\n`);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('published packages, installed as a user would', () => {
  it('versions and publishes every package with changesets and pnpm', async () => {
    await must(process.execPath, [join(repoRoot, 'node_modules/@changesets/cli/bin.js'), 'version'], scratch);
    const versions = new Set(
      publishable().map(({ dir }) => JSON.parse(readFileSync(join(scratch, relative(repoRoot, dir), 'package.json'), 'utf8')).version),
    );
    expect(versions.size, 'the packages are released together under one version').toBe(1);
    // pnpm publish turns workspace: ranges into versions from the installed workspace.
    await must('pnpm', ['install', '--offline', '--frozen-lockfile', '--ignore-scripts'], scratch);
    await must('pnpm', ['publish', '-r', '--no-git-checks', '--registry', registry.url], scratch);
    for (const { name } of publishable()) {
      const found = await fetch(`${registry.url}${name.replace('/', '%2f')}`);
      expect(found.status, `${name} on the registry`).toBe(200);
    }
  }, 600_000);

  it('installs @hyperproto/cli with npm into an empty directory, within the Node.js version it claims', async () => {
    cpSync(join(repoRoot, 'tooling/publish-test/consumer'), consumer, { recursive: true });
    writeFileSync(join(consumer, '.npmrc'), `@hyperproto:registry=${registry.url}\n`);
    // Offline and CPU-only machines skip onnxruntime-node's CUDA download, as the README says.
    const install = await must('npm', ['install', '@hyperproto/cli', '--no-audit', '--no-fund'], consumer, {
      ONNXRUNTIME_NODE_INSTALL: 'skip',
    });
    expect(install.stdout + install.stderr).not.toMatch(/EBADENGINE/);

    const installed = readdirSync(join(consumer, 'node_modules/@hyperproto'));
    expect(installed).toEqual(expect.arrayContaining(['cli', 'core', 'engine-onnxruntime', 'head-hpn', 'prototypes-random']));
    for (const name of installed) {
      const dir = join(consumer, 'node_modules/@hyperproto', name);
      expect(existsSync(join(dir, 'LICENSE')), `${name} ships a LICENSE`).toBe(true);
      expect(existsSync(join(dir, 'README.md')), `${name} ships a README`).toBe(true);
      expect(readFileSync(join(dir, 'package.json'), 'utf8')).not.toMatch(/workspace:/);
      for (const map of readdirSync(join(dir, 'dist'), { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.map'))) {
        const { sources } = JSON.parse(readFileSync(join(dir, 'dist', map), 'utf8')) as { sources: string[] };
        for (const source of sources)
          expect(existsSync(resolve(dir, 'dist', dirname(map), source)), `${name}/dist/${map} -> ${source}`).toBe(true);
      }
    }
    // One copy of core: plugins take it as a peer dependency.
    expect(
      readdirSync(join(consumer, 'node_modules'), { recursive: true })
        .map(String)
        .filter((p) => p.endsWith(join('@hyperproto', 'core', 'package.json'))),
    ).toHaveLength(1);

    const version = await must('npx', ['hyperproto', '--version'], consumer);
    expect(version.stdout.trim()).toBe(
      JSON.parse(readFileSync(join(consumer, 'node_modules/@hyperproto/cli/package.json'), 'utf8')).version,
    );
    const plugins = JSON.parse((await must('npx', ['hyperproto', 'plugins', '--json'], consumer)).stdout);
    expect(plugins.map((k: { kind: string }) => k.kind)).toEqual(['dataset', 'prototypes', 'head', 'evaluator', 'engine']);
  }, 900_000);

  it('scaffolds a plugin, tests it, installs it, trains with it, exports and predicts', async () => {
    await must('npx', ['hyperproto', 'new', 'plugin', '--kind', 'prototypes', 'my-axes'], consumer);
    const pluginDir = join(consumer, 'my-axes');
    writeFileSync(join(pluginDir, '.npmrc'), `@hyperproto:registry=${registry.url}\n`);
    await must('npm', ['install', '--no-audit', '--no-fund'], pluginDir);
    const tests = await must('npm', ['test'], pluginDir);
    expect(tests.stdout).toMatch(/# fail 0/);

    await must('npm', ['install', './my-axes', '--no-audit', '--no-fund'], consumer, { ONNXRUNTIME_NODE_INSTALL: 'skip' });
    const train = await must(
      'npx',
      [
        'hyperproto',
        'train',
        '--classes',
        '10',
        '--head',
        'hpn',
        '--prototypes',
        'my-axes',
        '--dims',
        '5',
        '--plugin',
        'my-axes',
        '--out',
        'run',
        '--json',
      ],
      consumer,
    );
    const summary = JSON.parse(train.stdout);
    expect(summary.prototypes).toMatchObject({ strategy: 'my-axes', dims: 5 });
    expect(summary.test.macroF1).toBeGreaterThan(0.5);

    const exported = JSON.parse(
      (await must('npx', ['hyperproto', 'export', 'run', '--out', 'model.onnx', '--top-k', '3', '--json'], consumer)).stdout,
    );
    expect(exported).toMatchObject({ classes: 10 });
    let state = 7;
    const value = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    writeFileSync(
      join(consumer, 'rows.csv'),
      Array.from({ length: 4 }, () => Array.from({ length: 300 }, () => value().toFixed(4)).join(',')).join('\n'),
    );
    const predicted = JSON.parse(
      (await must('npx', ['hyperproto', 'predict', 'model.onnx', '--input', 'rows.csv', '--top-k', '3', '--json'], consumer)).stdout,
    );
    expect(predicted.rows).toBe(4);
    for (const p of predicted.predictions) {
      expect(p.label).toBeGreaterThanOrEqual(0);
      expect(p.label).toBeLessThan(10);
      expect(p.topK).toHaveLength(3);
    }

    // The presets ship with @hyperproto/experiments: a shipped grid runs from an install, and its report is written.
    const experiment = JSON.parse(
      (
        await must(
          'npx',
          ['hyperproto', 'experiment', '--preset', 'seed-quick', '--only', 'c10/softmax/s0', '--out', 'quick', '--json'],
          consumer,
        )
      ).stdout,
    );
    expect(experiment.report.markdown).toBe(join(consumer, 'quick', 'report.md'));
    expect(
      readFileSync(join(consumer, 'quick', 'results.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(1);
  }, 900_000);
});
