// A path that is a directory, or cannot be read, is exit 3 (E_IO) naming it and what to give, whichever flag names
// it; what a readable file holds is judged after (exit 2). Also the other limits of what a command is asked to use:
// HYPERPROTO_THREADS, and where `report` writes.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';
import { seededSoftmaxModel } from './test-support/softmax-model.js';
import { tinyTrainFlags } from './test-support/tiny-runs.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-unreadable-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function dir(name: string): string {
  const path = join(scratch, name);
  mkdirSync(path, { recursive: true });
  return path;
}

describe('--config', () => {
  const hint = 'hint: Give --config a readable config file (hyperproto.config.json, .mjs or .js), or pass --no-config to read none.';

  it('a directory named as the config file is exit 3, naming it and what to pass', async () => {
    const cwd = dir('config-dir');
    for (const name of ['plugins.json', 'plugins.mjs', 'plugins']) {
      mkdirSync(join(cwd, name));
      const run = await runCli(['plugins', '--config', name], cwd);
      expect([run.code, run.stderr]).toEqual([3, `error E_IO: cannot read config ${join(cwd, name)}: it is a directory\n${hint}\n`]);
    }
  });

  it('a missing config file is exit 3 whatever its type, without the hint that it must be JSON', async () => {
    const cwd = dir('config-missing');
    for (const name of ['nowhere.json', 'nowhere.mjs']) {
      const run = await runCli(['plugins', '--config', name], cwd);
      expect([run.code, run.stderr]).toEqual([
        3,
        `error E_IO: cannot read config ${join(cwd, name)}: no such file or directory\n${hint}\n`,
      ]);
    }
  });

  it("the current directory's hyperproto.config.json as a directory is exit 3; a config that is not JSON stays exit 2", async () => {
    const cwd = dir('config-own');
    mkdirSync(join(cwd, 'hyperproto.config.json'));
    const run = await runCli(['plugins'], cwd);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`error E_IO: cannot read config ${join(cwd, 'hyperproto.config.json')}: it is a directory`);
    expect(run.stderr).toContain('--no-config');

    writeFileSync(join(cwd, 'bad.json'), '{ "plugins": [');
    const bad = await runCli(['plugins', '--config', 'bad.json'], cwd);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('hint: The file must be JSON');
  });
});

describe('data and input files', () => {
  it('train --data DIR is exit 3 like --labels DIR, naming the path and what to give', async () => {
    const cwd = dir('train-data');
    writeFileSync(join(cwd, 'x.csv'), 'a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,12\n');
    writeFileSync(join(cwd, 'y.txt'), 'p\nq\np\nq\np\nq\n');
    const data = await runCli(['train', '--data', cwd, '--labels', 'y.txt', '--out', 'run'], cwd);
    expect([data.code, data.stderr]).toEqual([
      3,
      `error E_IO: dataset:files: cannot read ${cwd}: it is a directory, not a regular file; give the path of a .npy, .csv, .jsonl or text file\n`,
    ]);
    const labels = await runCli(['train', '--data', 'x.csv', '--labels', cwd, '--out', 'run'], cwd);
    expect(labels.code).toBe(3);
    expect(labels.stderr).toContain(`cannot read ${cwd}: it is a directory`);
  });

  it('predict --input DIR is exit 3 like a directory given as the model', async () => {
    const cwd = dir('predict-input');
    writeFileSync(join(cwd, 'm.onnx'), seededSoftmaxModel({ width: 2, classes: 3 }));
    const input = await runCli(['predict', 'm.onnx', '--input', cwd], cwd);
    expect([input.code, input.stderr]).toEqual([
      3,
      `error E_IO: cannot read --input ${cwd}: it is a directory, not a regular file; give a .npy, .csv, .jsonl file\n`,
    ]);
    const model = await runCli(['predict', cwd, '--input', 'x.npy'], cwd);
    expect(model.code).toBe(3);
  });
});

describe('HYPERPROTO_THREADS', () => {
  it('more than 4 threads per core is refused before any work (exit 2), naming the variable, the value and the range', async () => {
    const cwd = dir('threads');
    const run = await runCli(['train', ...tinyTrainFlags({ maxEpochs: 1 }), '--out', 'run'], cwd, { HYPERPROTO_THREADS: '100000' });
    const most = 4 * availableParallelism();
    expect([run.code, run.stderr]).toEqual([
      2,
      `error E_INVALID_OPTIONS: HYPERPROTO_THREADS must be a whole number of threads from 1 to ${most} (4 x the ${availableParallelism()} cores), got "100000"\nhint: Unset HYPERPROTO_THREADS to use every core.\n`,
    ]);
  });
});

describe('where report writes', () => {
  const study = fileURLToPath(new URL('../../../docs/results/seed-calibration', import.meta.url));

  it("refuses to write the results page over a user's file (exit 3), and a report into a missing directory's child", async () => {
    const cwd = dir('report');
    cpSync(study, join(cwd, 'study'), { recursive: true });
    writeFileSync(join(cwd, 'scores.csv'), 'a,b\n1,2\n');
    const page = await runCli(['report', 'study', '--summary', '--out', 'scores.csv'], cwd);
    expect(page.code).toBe(3);
    expect(page.stderr).toContain(`error E_IO: ${join(cwd, 'scores.csv')} exists and is not a results page`);
    expect(readFileSync(join(cwd, 'scores.csv'), 'utf8')).toBe('a,b\n1,2\n');

    const report = await runCli(['report', 'study', '--out', join(cwd, 'nowhere', 'x')], cwd);
    expect([report.code, report.stderr]).toEqual([
      3,
      `error E_IO: cannot write the report into ${join(cwd, 'nowhere', 'x')}: the directory ${join(cwd, 'nowhere')} does not exist\nhint: Create that directory first, or choose another --out.\n`,
    ]);
  });

  it("refuses to write the report over a user's report.md in --out (exit 3) unless --force, and replaces its own", async () => {
    const cwd = dir('report-out');
    cpSync(study, join(cwd, 'study'), { recursive: true });
    mkdirSync(join(cwd, 'site'));
    writeFileSync(join(cwd, 'site', 'report.md'), '# My notes\n');
    const refused = await runCli(['report', 'study', '--out', 'site'], cwd);
    expect([refused.code, refused.stderr]).toEqual([
      3,
      `error E_IO: ${join(cwd, 'site', 'report.md')} exists and is not a report that \`hyperproto report DIR\` wrote: it is left as it is, and nothing was written\nhint: Choose another --out, or pass --force to replace it (the report writes report.md, report.html and plots/*.svg there).\n`,
    ]);
    expect(readdirSync(join(cwd, 'site'))).toEqual(['report.md']);
    expect(readFileSync(join(cwd, 'site', 'report.md'), 'utf8')).toBe('# My notes\n');

    const forced = await runCli(['report', 'study', '--out', 'site', '--force'], cwd);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(join(cwd, 'site', 'report.md'), 'utf8')).toMatch(/^# Experiment report: seed-calibration\n/);
    // Now the report's own: replaced without --force.
    writeFileSync(join(cwd, 'site', 'report.md'), `${readFileSync(join(cwd, 'site', 'report.md'), 'utf8')}stale line\n`);
    const again = await runCli(['report', 'study', '--out', 'site'], cwd);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(cwd, 'site', 'report.md'), 'utf8')).not.toContain('stale line');
  });
});
