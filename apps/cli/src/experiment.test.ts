import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_BIN, runCli } from './test-support/run-cli.js';
import { tinyGrid } from './test-support/tiny-runs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cliDir = resolve(fileURLToPath(import.meta.url), '../..');
const scratch = join(cliDir, 'test-output-experiment');

const cli = (args: string[]) => runCli(args, scratch);

/** A tiny grid: 3 well-separated classes, a small network, a few epochs; 2 models x 3 seeds = 6 runs. */
const tiny = tinyGrid(
  'tiny',
  3,
  [
    { id: 'softmax', head: 'softmax' },
    { id: 'random-4', head: 'hpn', prototypes: { strategy: 'random', dims: 4 } },
  ],
  { batchSize: 16, maxEpochs: 4, patience: 2 },
);

const write = (name: string, value: unknown) => writeFileSync(join(scratch, name), JSON.stringify(value));
const lines = (dir: string) =>
  readFileSync(join(scratch, dir, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean);

beforeAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  write('tiny.json', tiny);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('hyperproto experiment and report', () => {
  it.each([['experiment'], ['report']])('%s --help prints usage', async (command) => {
    const run = await cli([command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Usage: hyperproto ${command}`));
  });

  it('survives SIGKILL mid-way: --resume ends with one record per cell and seed, earlier records untouched', async () => {
    const child = spawn('node', [CLI_BIN, 'experiment', '--grid', 'tiny.json', '--out', 'killed', '--workers', '1', '--json'], {
      cwd: scratch,
      stdio: 'ignore',
    });
    const results = join(scratch, 'killed', 'results.jsonl');
    const deadline = Date.now() + 60_000;
    while (!(existsSync(results) && readFileSync(results, 'utf8').includes('\n'))) {
      if (Date.now() > deadline) throw new Error('no record appeared within a minute');
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const before = readFileSync(results, 'utf8');
    const kept = before.split('\n').filter(Boolean);
    expect(kept.length).toBeGreaterThanOrEqual(1);
    expect(kept.length).toBeLessThan(6);
    // The killed runner's lock is left behind; its process is gone, so the next runner takes it over.
    expect(JSON.parse(readFileSync(join(scratch, 'killed', 'experiment.lock'), 'utf8')).pid).toBe(child.pid);

    const resumed = await cli(['experiment', '--grid', 'tiny.json', '--out', 'killed', '--resume', '--json']);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const summary = JSON.parse(resumed.stdout);
    expect(summary).toMatchObject({ total: 6, skipped: kept.length, ran: 6 - kept.length, failed: [] });
    expect(summary.report.markdown).toMatch(/killed\/report\.md$/);

    const after = readFileSync(results, 'utf8');
    expect(after.startsWith(before)).toBe(true);
    const keys = lines('killed').map((l) => JSON.parse(l).key);
    expect(keys.sort()).toEqual(['c3/random-4/s0', 'c3/random-4/s1', 'c3/random-4/s2', 'c3/softmax/s0', 'c3/softmax/s1', 'c3/softmax/s2']);
    expect(existsSync(join(scratch, 'killed', 'experiment.lock'))).toBe(false);

    const record = JSON.parse(lines('killed')[0]!);
    expect(record.engine.backend).toMatch(/\w+\/\w+/);
    expect(record.versions.tfjs).toMatch(/^\d+\.\d+/);
    expect(record.versions.hyperproto['@hyperproto/cli']).toBeDefined();
  });

  it('gives each worker thread its share of the cores for its native sessions', async () => {
    // A dataset plugin that reports the thread budget its worker sees; records keep the dataset's facts.
    writeFileSync(
      join(scratch, 'threads-data.mjs'),
      `import { gaussianDataset } from '@hyperproto/data-gaussian';
export default { ...gaussianDataset, name: 'threads-gaussian',
  generate: async (ctx, options) => { const data = await gaussianDataset.generate(ctx, options);
    return { ...data, info: { ...data.info, threads: ctx.threads ?? null } }; } };
`,
    );
    const grid = {
      ...tiny,
      seeds: 2,
      plugins: ['./threads-data.mjs'],
      datasets: tiny.datasets.map((d) => ({ ...d, name: 'threads-gaussian' })),
    };
    write('threads.json', grid);
    const run = await cli(['experiment', '--grid', 'threads.json', '--out', 'threads', '--workers', '2', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const expected = Math.max(1, Math.floor(availableParallelism() / 2));
    expect(lines('threads').map((l) => JSON.parse(l).data.threads)).toEqual([expected, expected, expected, expected]);
  });

  it('writes the report from a results directory', async () => {
    const run = await cli(['report', 'killed', '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.runs).toMatchObject({ finished: 6, expected: 6 });
    const md = readFileSync(report.markdown, 'utf8');
    const softmax = report.cells.find((c: { model: string }) => c.model === 'softmax');
    expect(md).toContain(`${softmax.macroF1.mean.toFixed(1)} ± ${softmax.macroF1.sd.toFixed(1)}`);
    expect(readFileSync(report.html, 'utf8')).toMatch(/<svg /);
  });

  it('refuses a results directory of a different grid before running anything, naming the difference', async () => {
    write('tiny-changed.json', { ...tiny, trainer: { ...tiny.trainer, maxEpochs: 5 } });
    const before = readFileSync(join(scratch, 'killed', 'results.jsonl'), 'utf8');
    const run = await cli(['experiment', '--grid', 'tiny-changed.json', '--out', 'killed', '--resume']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /holds results of a different grid: 6 finished runs are not in .*tiny-changed\.json as they were:\n\s+c3\/softmax\/s0: trainer\.maxEpochs: 4 in .*grid\.json, 5 in .*tiny-changed\.json/,
    );
    expect(run.stderr).toMatch(/Keep those runs as they are in .*grid\.json/);
    expect(readFileSync(join(scratch, 'killed', 'results.jsonl'), 'utf8')).toBe(before);
  });

  it('grows a study under --resume: a new model runs, finished runs are skipped, the report shows the new cells', async () => {
    const before = readFileSync(join(scratch, 'killed', 'results.jsonl'), 'utf8');
    const withModel = { ...tiny, models: [...tiny.models, { id: 'random-6', head: 'hpn', prototypes: { strategy: 'random', dims: 6 } }] };
    write('tiny-grown.json', withModel);
    const grown = await cli(['experiment', '--grid', 'tiny-grown.json', '--out', 'killed', '--resume', '--json']);
    expect(grown.code, grown.stderr).toBe(0);
    const summary = JSON.parse(grown.stdout);
    expect(summary).toMatchObject({ total: 9, skipped: 6, ran: 3, failed: [] });
    expect(summary.gridChange).toMatchObject({
      added: ['c3/random-6/s0', 'c3/random-6/s1', 'c3/random-6/s2'],
      models: ['random-6'],
      description: 'the grid grew: 3 new runs (model random-6)',
    });
    expect(readFileSync(join(scratch, 'killed', 'results.jsonl'), 'utf8').startsWith(before)).toBe(true);

    // One more seed, with --only limited to finished runs: the grid grows (said on stderr), nothing runs yet.
    write('tiny-more-seeds.json', { ...withModel, seeds: 4 });
    const seeded = await cli(['experiment', '--grid', 'tiny-more-seeds.json', '--out', 'killed', '--resume', '--only', 'c3/softmax/s0']);
    expect(seeded.code, seeded.stderr).toBe(0);
    expect(seeded.stderr).toMatch(/the grid grew: 3 new runs \(seed 3\); grid\.json now holds .*tiny-more-seeds\.json/);
    const report = JSON.parse((await cli(['report', 'killed', '--json'])).stdout);
    expect(report.runs).toMatchObject({ finished: 9, expected: 12 });
    expect(readFileSync(report.markdown, 'utf8')).toMatch(
      /3 run\(s\) have no result: c3\/softmax\/s3, c3\/random-4\/s3, c3\/random-6\/s3\./,
    );
  });

  it.each([
    ['an unknown plugin', { models: [{ id: 'odd', head: 'hpm' }] }, /models\.0 "odd": unknown head "hpm"\. Did you mean "hpn"\?/],
    [
      'a plugin module that does not exist',
      { plugins: ['./no-such-plugin.js'] },
      /plugins\.0: no file or directory at .*no-such-plugin\.js/,
    ],
    [
      'an impossible prototype size',
      {
        datasets: [{ id: 'huge', options: { classes: 30000, sigma: 1 } }],
        models: [{ id: 'opt', head: 'hpn', prototypes: { strategy: 'optimized', dims: 10 } }],
      },
      /models\.0 "opt" on datasets\.0 "huge": prototype strategy "optimized" cannot make 30000 prototypes in 10 dimensions/,
    ],
    ['a negative seed count', { seeds: -1 }, /seeds: the number of seeds must be at least 1, got -1/],
  ])('refuses %s before any run starts, naming the entry', async (_, patch, message) => {
    const name = `bad-${Object.keys(patch).join('-')}.json`;
    write(name, { ...tiny, ...patch });
    const run = await cli(['experiment', '--grid', name, '--out', `out-${name}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(existsSync(join(scratch, `out-${name}`, 'results.jsonl'))).toBe(false);
  });

  it('refuses a run without a grid, and an unknown preset', async () => {
    expect((await cli(['experiment'])).stderr).toMatch(/--preset NAME or --grid FILE/);
    const run = await cli(['experiment', '--preset', 'sed']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown preset "sed"\. Known: collapse, many-classes, seed, seed-quick/);
  });
});
