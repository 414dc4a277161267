// `experiment --queue` and `worker` against a real Redis (Debian's redis-server on a free 127.0.0.1 port), each
// command started as users start it: workers killed mid-run, a coordinator killed and resumed, Redis restarted with
// its data gone, workers without a plugin, runs that fail, and addresses that do not work.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandGrid, loadPreset } from '@hyperproto/experiments';
import { freePort, redisMissing, startRedisServer, type RedisServer } from '@hyperproto/queue-bullmq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, runCli } from './test-support/run-cli.js';
import { tinyGrid } from './test-support/tiny-runs.js';

const missing = redisMissing();
if (missing) console.log(`skipping the job queue tests: ${missing}`);

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-queue-'));
const cli = (args: string[]) => runCli(args, scratch);
const children = new Set<ChildProcess>();
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** 3 classes, small sizes: 2 models x `seeds` runs of about a second each. */
const tiny = (name: string, seeds: number) =>
  tinyGrid(
    name,
    seeds,
    [
      { id: 'softmax', head: 'softmax' },
      { id: 'random-4', head: 'hpn', prototypes: { strategy: 'random', dims: 4 } },
    ],
    { batchSize: 16, maxEpochs: 4, patience: 2 },
  );
/** The tiny grid with runs of a second or two each, long enough for something to happen between two records. */
function slowTiny(name: string, seeds: number) {
  const grid = tiny(name, seeds);
  return {
    ...grid,
    datasets: grid.datasets.map((d) => ({ ...d, options: { ...d.options, trainPerClass: 400 } })),
    trainer: { ...grid.trainer, maxEpochs: 10, patience: 10 },
  };
}

const write = (name: string, value: unknown) =>
  writeFileSync(join(scratch, name), typeof value === 'string' ? value : JSON.stringify(value));
const results = (dir: string) =>
  existsSync(join(scratch, dir, 'results.jsonl')) ? readFileSync(join(scratch, dir, 'results.jsonl'), 'utf8') : '';
const keys = (dir: string) =>
  results(dir)
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line).key as string);

interface Started {
  readonly child: ChildProcess;
  readonly output: () => { stdout: string; stderr: string };
  readonly exit: Promise<number | null>;
}

/** Starts the CLI in the background (CI=true: no progress bars) in `cwd`, collecting its output. */
function start(args: string[], cwd = scratch, env: Record<string, string> = {}): Started {
  const child = spawn('node', [CLI_BIN, ...args], { cwd, env: { ...process.env, CI: 'true', ...env } });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, output: () => ({ stdout, stderr }), exit };
}

/** A worker whose killed runs another worker takes after a few seconds. */
const worker = (url: string, ...args: string[]) => start(['worker', '--queue', url, '--lock-seconds', '2', ...args]);

async function until(what: string, condition: () => boolean, seconds = 180): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waited ${seconds} s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The promise's value, or a failure naming what did not happen within `seconds` (never a silent wait). */
function within<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${seconds} s for ${what}`)), seconds * 1000);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function stop(...started: Started[]): Promise<(number | null)[]> {
  for (const s of started) s.child.kill('SIGTERM');
  return within(Promise.all(started.map((s) => s.exit)), 60, 'the workers to stop after SIGTERM');
}

describe.skipIf(missing)('experiment --queue with hyperproto worker', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await redis?.stop();
  });
  const db = (n: number) => redis.url.replace(/\/0$/, `/${n}`);

  it('runs seed-quick (10 and 100 classes) on three workers, one SIGKILLed mid-run: those keys, each recorded once', async () => {
    const url = db(1);
    const workers = [worker(url), worker(url), worker(url)];
    // The 1,000-class runs would take two thirds of the time and prove nothing more here.
    const coordinator = start([
      'experiment',
      '--preset',
      'seed-quick',
      '--only',
      'c10',
      '--only',
      'c100',
      '--out',
      'quick',
      '--queue',
      url,
      '--save-models',
      'none',
      '--json',
    ]);
    const victim = workers[0]!;
    await until('the first worker to start a run', () => /: started\n/.test(victim.output().stderr));
    const started = [...victim.output().stderr.matchAll(/^(\S+): started$/gm)].map((m) => m[1]!);
    const done = [...victim.output().stderr.matchAll(/^(\S+): done in/gm)].map((m) => m[1]!);
    victim.child.kill('SIGKILL');
    await victim.exit;
    const killed = started.filter((key) => !done.includes(key));
    expect(killed.length).toBeGreaterThan(0);

    expect(await coordinator.exit, coordinator.output().stderr).toBe(0);
    const summary = JSON.parse(coordinator.output().stdout);
    expect(summary).toMatchObject({ total: 20, gridTotal: 30, ran: 20, skipped: 0, failed: [], queue: url });
    const grid = expandGrid(await loadPreset('seed-quick'))
      .map((run) => run.key)
      .filter((key) => !key.startsWith('c1000/'));
    const stored = keys('quick');
    expect(stored).toHaveLength(grid.length);
    expect([...stored].sort()).toEqual([...grid].sort());
    // The killed worker's run was taken by another after its lock expired.
    const others = workers
      .slice(1)
      .map((w) => w.output().stderr)
      .join('\n');
    for (const key of killed) expect(others).toContain(`${key}: started`);
    expect(await stop(workers[1]!, workers[2]!)).toEqual([0, 0]);
    // Half a minute on 2 cores; more when the machine is shared.
  }, 600_000);

  it('loses nothing in results.jsonl when Redis restarts mid-grid without its data, and records every run once', async () => {
    const url = db(2);
    // Runs of a second or two each, so that the restart falls between the first and the last.
    write('restart.json', slowTiny('restart', 5));
    const one = worker(url);
    const coordinator = start(['experiment', '--grid', 'restart.json', '--out', 'restart', '--queue', url, '--save-models', 'none']);
    await until('two records', () => keys('restart').length >= 2);
    const before = results('restart');
    await redis.restart();
    expect(keys('restart').length).toBeLessThan(10);
    expect(await coordinator.exit, coordinator.output().stderr).toBe(0);
    expect(coordinator.output().stderr).toMatch(/lost the connection to the job queue at redis:\/\/127\.0\.0\.1:\d+\/2; retrying/);
    const after = results('restart');
    expect(after.startsWith(before)).toBe(true);
    expect([...keys('restart')].sort()).toEqual(['random-4', 'softmax'].flatMap((m) => [0, 1, 2, 3, 4].map((s) => `c3/${m}/s${s}`)).sort());
    expect(await stop(one)).toEqual([0]);
    // The worker says the outage once, and that it is over.
    expect(one.output().stderr.match(/lost the connection to the job queue at redis:\/\/127\.0\.0\.1:\d+\/2; retrying/g)).toHaveLength(1);
    expect(one.output().stderr).toMatch(/lost the connection [\s\S]*\nthe job queue at redis:\/\/127\.0\.0\.1:\d+\/2 answers again\n/);
    // A job Redis lost is said by its run (did not take its record), not as a trouble of the queue retried.
    expect(one.output().stderr).not.toMatch(/Missing key for job/);
  });

  it('a coordinator killed mid-grid and restarted with --resume collects what the workers returned meanwhile', async () => {
    const url = db(3);
    // Ten runs of a second or two each, so that the coordinator dies before the workers are through even when it
    // hears of several records at once (six runs were all recorded by the first look on a busy machine).
    write('resume.json', slowTiny('resume', 5));
    const workers = [worker(url), worker(url)];
    const first = start(['experiment', '--grid', 'resume.json', '--out', 'resume', '--queue', url, '--save-models', 'none', '--json']);
    await until('a record', () => keys('resume').length >= 1);
    first.child.kill('SIGKILL');
    await first.exit;
    const before = results('resume');
    const kept = keys('resume').length;
    expect(kept).toBeLessThan(10);
    // The workers keep going without a coordinator: their records wait in Redis.
    await until(
      'the workers to finish the grid',
      () => workers.map((w) => w.output().stderr.match(/: done in/g)?.length ?? 0).reduce((a, b) => a + b) >= 10,
    );

    const resumed = await cli([
      'experiment',
      '--grid',
      'resume.json',
      '--out',
      'resume',
      '--queue',
      url,
      '--resume',
      '--save-models',
      'none',
      '--json',
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ total: 10, skipped: kept, ran: 10 - kept, failed: [] });
    expect(results('resume').startsWith(before)).toBe(true);
    expect([...keys('resume')].sort()).toEqual(['random-4', 'softmax'].flatMap((m) => [0, 1, 2, 3, 4].map((s) => `c3/${m}/s${s}`)).sort());
    expect(await stop(...workers)).toEqual([0, 0]);
  });

  it('a worker without a plugin refuses the grid, naming it; a run that fails is recorded as a failure once', async () => {
    const url = db(4);
    write(
      'failing-data.mjs',
      `import { gaussianDataset } from '${import.meta.resolve('@hyperproto/data-gaussian')}';
export default { ...gaussianDataset, name: 'failing-gaussian',
  generate: async (ctx, options) => { if (ctx.seed === 1) throw new Error('seed 1 has no data'); return gaussianDataset.generate(ctx, options); } };
`,
    );
    const grid = tiny('plugged', 2);
    write('plugged.json', {
      ...grid,
      plugins: ['./failing-data.mjs'],
      models: grid.models.slice(0, 1),
      datasets: grid.datasets.map((d) => ({ ...d, name: 'failing-gaussian' })),
    });
    const coordinator = start(['experiment', '--grid', 'plugged.json', '--out', 'plugged', '--queue', url, '--save-models', 'none']);
    await until('the coordinator to claim the queue', () => /runs to do/.test(coordinator.output().stderr));

    const lacking = worker(url);
    expect(await lacking.exit).toBe(2);
    expect(lacking.output().stderr).toMatch(
      /error E_UNKNOWN_PLUGIN: this worker has no dataset plugin "failing-gaussian", which grid "plugged" needs \(the coordinator's comes from .*failing-data\.mjs\)\nhint: .*--plugin/,
    );
    await until('the coordinator to show the refusal', () =>
      /refused grid "plugged": this worker has no dataset plugin/.test(coordinator.output().stderr),
    );
    expect(results('plugged')).toBe('');

    // A copy whose content differs (an edited file) is refused too, naming both files' digests.
    write('failing-data-edited.mjs', `${readFileSync(join(scratch, 'failing-data.mjs'), 'utf8')}// edited\n`);
    const edited = worker(url, '--plugin', './failing-data-edited.mjs');
    expect(await edited.exit).toBe(2);
    const digests = edited
      .output()
      .stderr.match(
        /error E_UNSUPPORTED: this worker runs other code than grid "plugged" was started with: plugin dataset:failing-gaussian is a module file \(sha256 ([0-9a-f]{12})\), loaded by \.\/failing-data-edited\.mjs on this worker but a module file \(sha256 ([0-9a-f]{12})\), loaded by \.\/failing-data\.mjs on the coordinator/,
      );
    expect(digests, edited.output().stderr).not.toBeNull();
    expect(digests![1]).not.toBe(digests![2]);

    const able = worker(url, '--plugin', './failing-data.mjs');
    expect(await coordinator.exit, coordinator.output().stderr).toBe(4);
    expect(coordinator.output().stdout).toMatch(/^plugged: 1 run\(s\) done now, 0 already finished, 1 failed, of 2;/);
    expect(coordinator.output().stderr).toMatch(/error E_TRAINING_FAILED: 1 run\(s\) failed, first c3\/softmax\/s1: .*seed 1 has no data/);
    expect(keys('plugged')).toEqual(['c3/softmax/s0']);
    const failures = readFileSync(join(scratch, 'plugged', 'failures.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(failures.map((line) => JSON.parse(line).key)).toEqual(['c3/softmax/s1']);
    expect(await stop(able)).toEqual([0]);
  });

  it('refuses a database that serves another grid, naming it, before anything is written', async () => {
    const url = db(5);
    write('first.json', tiny('first', 1));
    write('second.json', tiny('second', 2));
    // No workers: its runs stay queued after Ctrl-C, even one pressed as the session starts (the runs are queued
    // first), so the second grid is refused rather than left waiting for workers.
    const first = start(['experiment', '--grid', 'first.json', '--out', 'first', '--queue', url, '--save-models', 'none']);
    await until('the first grid to be queued', () => /runs to do/.test(first.output().stderr));
    first.child.kill('SIGINT');
    expect(await within(first.exit, 60, 'the first coordinator to exit after Ctrl-C'), first.output().stderr).toBe(130);
    expect(first.output().stderr).toMatch(/the unfinished runs stay queued at redis:\/\/127\.0\.0\.1:\d+\/5/);

    const second = start(['experiment', '--grid', 'second.json', '--out', 'second', '--queue', url]);
    expect(await within(second.exit, 150, 'the second coordinator to be refused'), second.output().stderr).toBe(2);
    expect(second.output().stderr).toMatch(
      new RegExp(
        `error E_INVALID_OPTIONS: the job queue at ${url.replace(/\//g, '\\/')} serves grid "first" \\(from .*first\\.json, queue grid-first-[0-9a-f]+\\), not "second": 2 of its jobs`,
      ),
    );
    expect(existsSync(join(scratch, 'second'))).toBe(false);
    // Two commands that start as users start them: a minute each on a machine busy with other work.
  }, 300_000);

  it.each([
    [
      'no Redis at the address',
      (port: number) => `redis://127.0.0.1:${port}/0`,
      3,
      /cannot reach the job queue at redis:\/\/127\.0\.0\.1:\d+\/0: connection refused/,
    ],
    ['a malformed address', () => 'localhost:6379', 2, /--queue localhost:6379: (it is not a URL|the scheme is localhost: not redis:)/],
  ])('experiment and worker refuse %s with a clear message and no record', async (_, address, code, message) => {
    const url = address(await freePort());
    const [experiment, alone] = await Promise.all([
      cli(['experiment', '--grid', 'first.json', '--out', 'nowhere', '--queue', url]),
      cli(['worker', '--queue', url]),
    ]);
    expect(experiment.code).toBe(code);
    expect(experiment.stderr).toMatch(message);
    expect(experiment.stderr).not.toMatch(/internal error| {4}at /);
    expect(existsSync(join(scratch, 'nowhere'))).toBe(false);
    expect(alone.code).toBe(code);
    expect(alone.stderr).toMatch(message);
  });

  it('refuses a wrong password without showing it, and --workers beside --queue', async () => {
    const guarded = await startRedisServer({ password: 'right-horse' });
    try {
      const url = `redis://:wrong-horse@127.0.0.1:${guarded.port}/0`;
      const [run, worked] = await Promise.all([
        cli(['experiment', '--grid', 'first.json', '--out', 'guarded', '--queue', url, '--json']),
        cli(['worker', '--queue', guarded.url.replace('right-horse', 'wrong-horse')]),
      ]);
      expect(run.code).toBe(2);
      expect(JSON.parse(run.stdout).error).toMatchObject({
        code: 'E_INVALID_OPTIONS',
        message: `the job queue at redis://:***@127.0.0.1:${guarded.port}/0 refused the password`,
      });
      expect(run.stdout + run.stderr).not.toContain('wrong-horse');
      expect(worked.code).toBe(2);
    } finally {
      await guarded.stop();
    }
    const both = await cli(['experiment', '--grid', 'first.json', '--out', 'both', '--queue', db(6), '--workers', '2']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give --workers or --queue, not both/);
    // A command without --queue echoes the unknown option: never its password, in prose or JSON.
    const [unknown, unknownJson] = await Promise.all([
      cli(['report', 'x', '--queue=redis://:hunter2@127.0.0.1/0']),
      cli(['report', 'x', '--queue=redis://:hunter2@127.0.0.1/0', '--json']),
    ]);
    expect([unknown.code, unknownJson.code]).toEqual([2, 2]);
    expect(unknown.stderr).toContain("error: unknown option '--queue=redis://:***@127.0.0.1/0'\n");
    expect(JSON.parse(unknownJson.stdout).error.message).toBe("unknown option '--queue=redis://:***@127.0.0.1/0'");
    expect(unknown.stderr + unknownJson.stdout).not.toContain('hunter2');
  });

  it("fails the runs of a worker whose copy of a data file differs from the coordinator's, storing no record; a copy of the same content elsewhere runs", async () => {
    const url = db(7);
    // Three machines, each with its own copy of points.csv where the grid's relative path leads from its directory.
    const [coordinatorDir, staleDir, sameDir] = ['own-files', 'stale-copy', 'same-copy'].map((name) => join(scratch, name));
    // 3 classes of 30 points each, one per corner of a triangle.
    const rows = Array.from(
      { length: 90 },
      (_, i) => `${(i % 3) * 4 + (i % 7) / 10},${(i % 3 === 1 ? 4 : 0) + (i % 5) / 10},${'abc'[i % 3]}`,
    );
    const points = `x,y,label\n${rows.join('\n')}\n`;
    const stale = points.replace('\n0,0,a\n', '\n0.5,0,a\n');
    expect(stale).not.toBe(points);
    for (const [dir, text] of [
      [coordinatorDir, points],
      [staleDir, stale],
      [sameDir, points],
    ] as const) {
      mkdirSync(dir!, { recursive: true });
      writeFileSync(join(dir!, 'points.csv'), text);
    }
    const grid = tiny('own-files', 2);
    writeFileSync(
      join(coordinatorDir!, 'grid.json'),
      JSON.stringify({
        ...grid,
        datasets: [{ id: 'points', name: 'files', options: { data: 'points.csv', labelColumn: 'label' } }],
        models: grid.models.slice(0, 1),
      }),
    );
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const experiment = ['experiment', '--grid', 'grid.json', '--out', 'results', '--queue', url, '--save-models', 'none'];

    const coordinator = start(experiment, coordinatorDir);
    await until('the coordinator to queue the runs', () => /runs to do/.test(coordinator.output().stderr));
    const staleWorker = start(['worker', '--queue', url, '--lock-seconds', '2'], staleDir);
    expect(await within(coordinator.exit, 150, 'the coordinator to collect the failed runs'), coordinator.output().stderr).toBe(4);
    const refusal = `this worker's files of dataset "points" differ from the coordinator's, so its results would be of other data: data: ${join(staleDir!, 'points.csv')} is ${stale.length} bytes, sha256 ${sha(stale).slice(0, 12)} on this worker, ${points.length} bytes, sha256 ${sha(points).slice(0, 12)} on the coordinator at ${join(coordinatorDir!, 'points.csv')} (size, content)`;
    expect(coordinator.output().stderr).toContain(`] points/softmax/s0 failed: ${refusal}`);
    expect(coordinator.output().stderr).toContain(`] points/softmax/s1 failed: ${refusal}`);
    expect(keys('own-files/results')).toEqual([]);
    const failures = readFileSync(join(coordinatorDir!, 'results', 'failures.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(failures.map((failure) => [failure.key, failure.error.code]).sort()).toEqual([
      ['points/softmax/s0', 'E_INVALID_INPUT'],
      ['points/softmax/s1', 'E_INVALID_INPUT'],
    ]);
    const told = staleWorker.output().stderr;
    expect(told).toContain(`points/softmax/s0: failed: ${refusal}`);
    expect(told.match(/^hint: .*$/gm)).toEqual([
      `hint: Copy the coordinator's file to ${join(staleDir!, 'points.csv')} on this machine (${told.match(/worker (\S+\/\d+):/)![1]}); the worker reads it again at its next job. Then run the failed runs again with experiment --resume.`,
    ]);
    expect(told).not.toMatch(/: started$/m);
    expect(await stop(staleWorker)).toEqual([0]);

    // The same content at another path is the same data: its records are stored, saying where that machine read it.
    const sameWorker = start(['worker', '--queue', url, '--lock-seconds', '2'], sameDir);
    const resumed = await runCli([...experiment, '--resume', '--json'], coordinatorDir!);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ total: 2, ran: 2, failed: [] });
    const records = results('own-files/results')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(records.map((record) => record.key).sort()).toEqual(['points/softmax/s0', 'points/softmax/s1']);
    for (const record of records)
      expect(record.data.inputs).toEqual([
        { option: 'data', path: join(sameDir!, 'points.csv'), bytes: points.length, sha256: sha(points) },
      ]);
    expect(await stop(sameWorker)).toEqual([0]);
  }, 300_000);

  it('worker --help shows examples', async () => {
    const run = await cli(['worker', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: hyperproto worker/);
    expect(run.stdout).toMatch(/\$ hyperproto worker --queue redis:\/\//);
    expect(run.stdout.replace(/\s+/g, ' ')).toContain('renewing it, 1 to 3600 seconds:');
  });
});

describe.skipIf(missing)('the job queue when something is wrong', () => {
  /** One run of 2 to 3 s: long enough for something to happen while it runs. */
  const oneRun = (name: string) => {
    const grid = tiny(name, 1);
    return {
      ...grid,
      models: grid.models.slice(0, 1),
      datasets: grid.datasets.map((d) => ({ ...d, options: { ...d.options, trainPerClass: 1500 } })),
      trainer: { ...grid.trainer, maxEpochs: 30, patience: 30 },
    };
  };
  const servers: RedisServer[] = [];
  const server = async (options?: Parameters<typeof startRedisServer>[0]) => {
    const started = await startRedisServer(options);
    servers.push(started);
    return started;
  };
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    for (const s of servers) await s.stop();
  });
  const redisCli = (port: number, password: string | undefined, ...args: string[]) =>
    new Promise<string>((done, fail) =>
      execFile('redis-cli', ['-p', String(port), ...args], { env: { ...process.env, REDISCLI_AUTH: password ?? '' } }, (error, stdout) =>
        error ? fail(error) : done(stdout.trim()),
      ),
    );

  it('stores the command line without the queue password; a worker running two at once, stopped mid-run, returns each once', async () => {
    const guarded = await server({ password: 'hunter2-secret' });
    write('secret.json', { ...oneRun('secret'), seeds: 2 });
    const first = start(['worker', '--queue', guarded.url, '--lock-seconds', '2', '--concurrency', '2', '--threads', '1']);
    // The URL as one argument, as scripts often pass it.
    const coordinator = start([
      'experiment',
      '--grid',
      'secret.json',
      '--out',
      'secret',
      `--queue=${guarded.url}`,
      '--save-models',
      'none',
    ]);
    await until('the worker to start both runs', () => first.output().stderr.match(/: started\n/g)?.length === 2);
    expect(await stop(first)).toEqual([0]);
    // Each once: the stop must not take more jobs only to hand them back, over and over.
    expect(
      first
        .output()
        .stderr.match(/^c3\/softmax\/s[01]: stopped, back in the queue$/gm)
        ?.sort(),
    ).toEqual(['c3/softmax/s0: stopped, back in the queue', 'c3/softmax/s1: stopped, back in the queue']);
    expect(first.output().stdout).toMatch(/: 0 run\(s\) done, 0 failed, 2 returned to the queue at /);

    const second = start(['worker', '--queue', guarded.url, '--concurrency', '2', '--threads', '1', '--json']);
    expect(await within(coordinator.exit, 120, 'the coordinator to finish'), coordinator.output().stderr).toBe(0);
    expect(await stop(second)).toEqual([0]);
    expect(JSON.parse(second.output().stdout)).toMatchObject({
      ran: 2,
      failed: 0,
      returned: 0,
      notStored: 0,
      queue: expect.stringMatching(/^redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0$/),
    });
    // Moved back by the worker that stopped, not after a stall: no retry to announce.
    expect(coordinator.output().stderr).not.toMatch(/attempt \d of/);

    const sessions = readFileSync(join(scratch, 'secret', 'sessions.jsonl'), 'utf8');
    expect(JSON.parse(sessions.trim()).command).toBe(
      `hyperproto experiment --grid secret.json --out secret --queue=redis://:***@127.0.0.1:${guarded.port}/0 --save-models none`,
    );
    for (const file of ['sessions.jsonl', 'report.md', 'report.html', 'grid.json', 'results.jsonl'])
      expect(readFileSync(join(scratch, 'secret', file), 'utf8')).not.toContain('hunter2');
    expect(coordinator.output().stderr + first.output().stderr + second.output().stderr).not.toContain('hunter2');
  });

  it('refuses an empty --queue, a database Redis lacks, a port that is not Redis, and a second coordinator, naming both grids', async () => {
    const redisHere = await server();
    const http = createHttpServer((_, response) => response.end('<html>not redis</html>')).listen(0, '127.0.0.1');
    await new Promise((resolve) => http.once('listening', resolve));
    const httpPort = (http.address() as { port: number }).port;
    try {
      write('lone.json', tiny('lone', 1));
      // The empty --queue is what is wrong, not --workers beside it.
      const empty = await cli(['experiment', '--grid', 'lone.json', '--out', 'lone-empty', '--queue', '', '--workers', '2']);
      expect(empty.code).toBe(2);
      expect(empty.stderr).toMatch(/^error E_INVALID_OPTIONS: --queue is empty\nhint: .*a variable meant to hold it .* may be unset/m);
      expect(existsSync(join(scratch, 'lone-empty'))).toBe(false);

      const missingDb = `redis://127.0.0.1:${redisHere.port}/99`;
      const notRedis = `redis://127.0.0.1:${httpPort}/0`;
      const [db99, worker99, web, webWorker] = await Promise.all([
        cli(['experiment', '--grid', 'lone.json', '--out', 'lone-99', '--queue', missingDb]),
        cli(['worker', '--queue', missingDb]),
        cli(['experiment', '--grid', 'lone.json', '--out', 'lone-web', '--queue', notRedis]),
        cli(['worker', '--queue', notRedis]),
      ]);
      for (const run of [db99, worker99]) {
        expect(run.code).toBe(2);
        expect(run.stderr).toContain(
          `error E_INVALID_OPTIONS: the job queue at ${missingDb}: that Redis has no database 99 (it has 16: 0 to 15)\nhint: Give a database from 0 to 15`,
        );
      }
      for (const run of [web, webWorker]) {
        expect(run.code).toBe(3);
        // Its answer, or the reset that may overtake it.
        expect(run.stderr).toMatch(
          new RegExp(
            `error E_IO: the job queue at ${notRedis.replace(/[./]/g, '\\$&')} (does not answer as a Redis server|accepted the connection but closed it without speaking Redis \\(another service, )`,
          ),
        );
      }
      expect(existsSync(join(scratch, 'lone-99'))).toBe(false);
      expect(existsSync(join(scratch, 'lone-web'))).toBe(false);

      // No workers: the first coordinator waits, holding the database.
      write('other.json', tiny('other', 1));
      const url = redisHere.url;
      const holder = start(['experiment', '--grid', 'lone.json', '--out', 'lone', '--queue', url, '--save-models', 'none']);
      await until('the first coordinator to queue its runs', () => /runs to do/.test(holder.output().stderr));
      const second = await cli(['experiment', '--grid', 'other.json', '--out', 'other', '--queue', url]);
      expect(second.code).toBe(2);
      expect(second.stderr).toMatch(
        new RegExp(
          `^error E_INVALID_OPTIONS: the job queue at ${url.replace(/\//g, '\\/')} is in use by another coordinator \\(pid ${holder.child.pid} on \\S+, grid "lone", since [^)]+\\), so grid "other" cannot run there now\\n`,
          'm',
        ),
      );
      expect(existsSync(join(scratch, 'other'))).toBe(false);
      holder.child.kill('SIGINT');
      expect(await within(holder.exit, 60, 'the first coordinator to stop')).toBe(130);
    } finally {
      http.close();
    }
  });

  it('a worker stopped while Redis is down gives up on it within seconds and exits 0; the coordinator says what is left', async () => {
    const doomed = await server();
    // A Redis that may evict jobs: each side warns once, in its own words.
    await redisCli(doomed.port, undefined, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    write('outage.json', oneRun('outage'));
    const coordinator = start(['experiment', '--grid', 'outage.json', '--out', 'outage', '--queue', doomed.url, '--save-models', 'none']);
    const one = worker(doomed.url);
    await until('the worker to start the run', () => /c3\/softmax\/s0: started\n/.test(one.output().stderr));
    await doomed.stop();
    await until('the worker to lose the queue', () => /lost the connection to the job queue/.test(one.output().stderr));
    const stopping = performance.now();
    one.child.kill('SIGTERM');
    expect(await within(one.exit, 30, 'the worker to stop without Redis')).toBe(0);
    expect((performance.now() - stopping) / 1000).toBeLessThan(15);
    const told = one.output().stderr;
    expect(told).toMatch(
      /the job queue at redis:\/\/127\.0\.0\.1:\d+\/0 did not answer within 5 s: this worker stops without it, and the 1 run\(s\) it holds go back to the queue when their locks expire\n/,
    );
    expect(told).toContain('c3/softmax/s0: stopped, back in the queue when its lock expires (in at most 2 s)\n');
    expect(told.match(/lost the connection/g)).toHaveLength(1);
    expect(one.output().stdout).toMatch(/: 0 run\(s\) done, 0 failed, 1 returned to the queue at /);

    await until('the coordinator to lose the queue', () => /lost the connection/.test(coordinator.output().stderr));
    coordinator.child.kill('SIGINT');
    expect(await within(coordinator.exit, 30, 'the coordinator to stop without Redis')).toBe(130);
    expect(coordinator.output().stderr).toMatch(
      /did not answer when it stopped: the runs it kept stay queued for the workers, and --resume collects their records and queues again whatever it lost/,
    );
    expect(coordinator.output().stderr).not.toMatch(/where workers keep running them/);
    for (const side of [told, coordinator.output().stderr]) {
      expect(
        side.match(/warning: the job queue at redis:\/\/127\.0\.0\.1:\d+\/0 has maxmemory-policy allkeys-lru: Redis may evict jobs/g),
      ).toHaveLength(1);
      expect(side).not.toMatch(/IMPORTANT!/);
    }
  });

  it('a worker stopped while Redis hangs (connected, silent) says once that it stops without it, and counts the run once', async () => {
    const hung = await server();
    write('hang.json', oneRun('hang'));
    const coordinator = start(['experiment', '--grid', 'hang.json', '--out', 'hang', '--queue', hung.url, '--save-models', 'none']);
    const one = worker(hung.url);
    await until('the worker to start the run', () => /c3\/softmax\/s0: started\n/.test(one.output().stderr));
    hung.pause();
    try {
      one.child.kill('SIGTERM');
      expect(await within(one.exit, 30, 'the worker to stop without Redis')).toBe(0);
    } finally {
      hung.resume();
    }
    const told = one.output().stderr;
    expect(told.slice(told.indexOf('SIGTERM'))).toMatch(
      /^SIGTERM: .*\nthe job queue at redis:\/\/127\.0\.0\.1:\d+\/0 did not answer within 5 s: this worker stops without it, and the 1 run\(s\) it holds go back to the queue when their locks expire\nc3\/softmax\/s0: stopped, back in the queue when its lock expires \(in at most 2 s\)\n$/,
    );
    expect(one.output().stdout).toMatch(/: 0 run\(s\) done, 0 failed, 1 returned to the queue at /);
    coordinator.child.kill('SIGINT');
    expect(await within(coordinator.exit, 30, 'the coordinator to stop')).toBe(130);
  });

  it('a record the queue could not take while Redis was full is not counted as done: the run is retried, and each side says the outage once', async () => {
    const full = await server();
    write('full.json', oneRun('full'));
    const coordinator = start(['experiment', '--grid', 'full.json', '--out', 'full', '--queue', full.url, '--save-models', 'none']);
    const one = start(['worker', '--queue', full.url, '--lock-seconds', '1']);
    await until('the worker to start the run', () => /c3\/softmax\/s0: started\n/.test(one.output().stderr));
    // Every write is refused from now on: the job's lock expires (1 s) before the run (2 to 3 s) ends.
    await redisCli(full.port, undefined, 'CONFIG', 'SET', 'maxmemory', '1');
    await until('the worker to find its record refused', () => /did not take its record/.test(one.output().stderr), 60);
    await redisCli(full.port, undefined, 'CONFIG', 'SET', 'maxmemory', '0');
    expect(await within(coordinator.exit, 120, 'the coordinator to collect the retried run'), coordinator.output().stderr).toBe(0);
    expect(keys('full')).toEqual(['c3/softmax/s0']);
    expect(await stop(one)).toEqual([0]);

    const told = one.output().stderr;
    expect(told).toContain(
      "c3/softmax/s0: finished, but the queue did not take its record (this worker lost the job's lock while the queue did not answer or was full, or Redis lost the job), so it is not done: the run goes back to the queue and runs again\n",
    );
    // Said done once only: when the queue took the record of the second attempt.
    expect(told.match(/c3\/softmax\/s0: done in /g)).toHaveLength(1);
    expect(told.indexOf('c3/softmax/s0: done in ')).toBeGreaterThan(told.indexOf('did not take its record'));
    expect(told).toContain(
      'c3/softmax/s0: started (attempt 2 of 3, because the worker running it before stopped answering (killed, out of memory, or cut off from the queue))\n',
    );
    for (const side of [told, coordinator.output().stderr]) {
      expect(side.match(/is out of memory \(Redis reached its maxmemory\) and takes no writes/g), side).toHaveLength(1);
      expect(side).toMatch(/raise maxmemory on that server/);
      expect(side).toMatch(/the job queue at redis:\/\/127\.0\.0\.1:\d+\/0 takes writes again\n/);
      expect(side).not.toMatch(/OOM command not allowed|Missing lock/);
    }
    expect(coordinator.output().stderr).toContain('c3/softmax/s0: attempt 2 of 3, because the worker running it before stopped answering');
    expect(one.output().stdout).toMatch(
      /: 1 run\(s\) done, 0 failed, 0 returned to the queue at \S+, 1 finished but not handed in \(they run again\)\n$/,
    );
  }, 180_000);

  it('a job Redis lost while its run went on is said once by that run, not as a trouble of the queue, and runs again', async () => {
    const losing = await server();
    write('lost.json', oneRun('lost'));
    const coordinator = start(['experiment', '--grid', 'lost.json', '--out', 'lost', '--queue', losing.url, '--save-models', 'none']);
    const one = worker(losing.url);
    await until('the worker to start the run', () => /c3\/softmax\/s0: started\n/.test(one.output().stderr));
    // The job's own hash, as a Redis restarted without its data (or a FLUSHDB) would lose it; its lock stays.
    const jobKeys = (await redisCli(losing.port, undefined, 'KEYS', '*:c3/softmax/s0')).split('\n');
    expect(jobKeys).toHaveLength(1);
    expect(await redisCli(losing.port, undefined, 'DEL', jobKeys[0]!)).toBe('1');
    expect(await within(coordinator.exit, 120, 'the coordinator to collect the queued-again run'), coordinator.output().stderr).toBe(0);
    expect(keys('lost')).toEqual(['c3/softmax/s0']);
    expect(await stop(one)).toEqual([0]);
    const told = one.output().stderr;
    expect(told).toContain('c3/softmax/s0: finished, but the queue did not take its record');
    expect(told).toContain(
      "c3/softmax/s0: the queue lost this job's data (evicted or deleted in Redis); its coordinator queues the run again\n",
    );
    expect(told).not.toMatch(/Missing key|retrying/);
    expect(told.match(/c3\/softmax\/s0: done in /g)).toHaveLength(1);
    expect(coordinator.output().stderr).toContain(
      "c3/softmax/s0: the queue lost this job's data (evicted or deleted in Redis); queued again\n",
    );
  }, 180_000);

  it('says that a run is taken up again after its worker died, which attempt it is, and why it fails after the last', async () => {
    const killing = await server();
    write('killing.json', oneRun('killing'));
    const coordinator = start([
      'experiment',
      '--grid',
      'killing.json',
      '--out',
      'killing',
      '--queue',
      killing.url,
      '--save-models',
      'none',
    ]);
    const told: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const doomed = start(['worker', '--queue', killing.url, '--lock-seconds', '1']);
      await until(`attempt ${attempt} to start`, () => /c3\/softmax\/s0: started/.test(doomed.output().stderr));
      doomed.child.kill('SIGKILL');
      await doomed.exit;
      told.push(doomed.output().stderr);
    }
    expect(told[0]).toContain('c3/softmax/s0: started\n');
    for (const [i, stderr] of told.slice(1).entries())
      expect(stderr).toContain(
        `c3/softmax/s0: started (attempt ${i + 2} of 3, because the worker running it before stopped answering (killed, out of memory, or cut off from the queue))\n`,
      );
    // The last worker finds the run stalled once more and fails it.
    const last = worker(killing.url);
    expect(await within(coordinator.exit, 60, 'the coordinator to record the failure'), coordinator.output().stderr).toBe(4);
    const failure =
      'the workers running it stopped answering 3 times (killed, out of memory, or cut off from the queue), so it is not taken up again; look at what ends the worker on the run (e.g. its memory), then --resume runs it again';
    expect(coordinator.output().stderr).toContain(`] c3/softmax/s0 failed: ${failure}\n`);
    expect(coordinator.output().stderr).toContain('c3/softmax/s0: attempt 3 of 3, because the worker running it before stopped answering');
    expect(coordinator.output().stderr).not.toMatch(/allowable limit/);
    expect(JSON.parse(readFileSync(join(scratch, 'killing', 'failures.jsonl'), 'utf8')).error.message).toBe(failure);
    expect(await stop(last)).toEqual([0]);
  });
});

describe.skipIf(missing)('the job queue given by HYPERPROTO_QUEUE_URL, and a user name given without a password', () => {
  const VARIABLE = 'HYPERPROTO_QUEUE_URL';
  const servers: RedisServer[] = [];
  const server = async (options?: Parameters<typeof startRedisServer>[0]) => {
    const started = await startRedisServer(options);
    servers.push(started);
    return started;
  };
  // Only what each test sets: never a variable of the shell that runs the tests.
  const saved = process.env[VARIABLE];
  beforeAll(() => {
    delete process.env[VARIABLE];
  });
  afterAll(async () => {
    if (saved !== undefined) process.env[VARIABLE] = saved;
    for (const child of children) child.kill('SIGKILL');
    for (const s of servers) await s.stop();
  });
  const oneRun = (name: string) => {
    const grid = tiny(name, 1);
    return { ...grid, models: grid.models.slice(0, 1) };
  };

  it('runs a grid with the URL in the variable only: no password in any process argument, message or file', async () => {
    const guarded = await server({ password: 'env-only-secret' });
    write('from-env.json', oneRun('from-env'));
    const env = { [VARIABLE]: guarded.url };
    const one = start(['worker', '--lock-seconds', '2'], scratch, env);
    const coordinator = start(['experiment', '--grid', 'from-env.json', '--out', 'from-env', '--save-models', 'none'], scratch, env);
    await until('the worker to serve the grid', () => /taking jobs of grid "from-env"/.test(one.output().stderr), 60);
    // What `ps` and `pgrep -af` show: the arguments of both processes.
    for (const side of [one, coordinator]) {
      const args = readFileSync(`/proc/${side.child.pid}/cmdline`, 'utf8');
      expect(args).not.toContain('env-only-secret');
      expect(args).not.toContain('redis://');
    }
    expect(await within(coordinator.exit, 120, 'the coordinator to finish'), coordinator.output().stderr).toBe(0);
    expect(keys('from-env')).toEqual(['c3/softmax/s0']);
    expect(await stop(one)).toEqual([0]);
    expect(coordinator.output().stderr).toMatch(/on the workers of the job queue at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0/);
    const said = coordinator.output().stderr + coordinator.output().stdout + one.output().stderr + one.output().stdout;
    expect(said).not.toContain('env-only-secret');
    for (const file of ['sessions.jsonl', 'report.md', 'report.html', 'results.jsonl'])
      expect(readFileSync(join(scratch, 'from-env', file), 'utf8')).not.toContain('env-only-secret');
  }, 180_000);

  it('takes --queue over the variable, and refuses an empty or malformed variable as it refuses --queue, naming the variable', async () => {
    const nowhere = `redis://127.0.0.1:${await freePort()}/0`;
    const grid = ['experiment', '--grid', 'first.json', '--out', 'env-refused'];
    write('first.json', tiny('first', 1));
    const [overExperiment, overWorker, emptyExperiment, emptyWorker, badExperiment, badWorker, emptyJson] = await Promise.all([
      // --queue wins: the variable's malformed value is never read.
      runCli([...grid, '--queue', nowhere], scratch, { [VARIABLE]: 'localhost:6379' }),
      runCli(['worker', '--queue', nowhere], scratch, { [VARIABLE]: 'localhost:6379' }),
      runCli(grid, scratch, { [VARIABLE]: '' }),
      runCli(['worker'], scratch, { [VARIABLE]: '' }),
      runCli(grid, scratch, { [VARIABLE]: 'localhost:6379' }),
      runCli(['worker'], scratch, { [VARIABLE]: 'localhost:6379' }),
      runCli(['worker', '--json'], scratch, { [VARIABLE]: ' ' }),
    ]);
    for (const run of [overExperiment, overWorker]) {
      expect(run.code, run.stderr).toBe(3);
      expect(run.stderr).toMatch(/cannot reach the job queue at redis:\/\/127\.0\.0\.1:\d+\/0: connection refused/);
    }
    for (const run of [emptyExperiment, emptyWorker]) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(
        /^error E_INVALID_OPTIONS: HYPERPROTO_QUEUE_URL is empty\nhint: Set HYPERPROTO_QUEUE_URL to the value --queue would take, or unset it/m,
      );
    }
    expect(JSON.parse(emptyJson.stdout).error).toMatchObject({ code: 'E_INVALID_OPTIONS', message: 'HYPERPROTO_QUEUE_URL is empty' });
    for (const run of [badExperiment, badWorker]) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(
        /^error E_INVALID_OPTIONS: HYPERPROTO_QUEUE_URL localhost:6379: (it is not a URL|the scheme is localhost: not redis:)\nhint: Give the queue as redis:\/\//m,
      );
    }
    for (const run of [emptyExperiment, emptyWorker, badExperiment, badWorker]) expect(run.stderr).not.toMatch(/^error .*--queue/m);
    expect(existsSync(join(scratch, 'env-refused'))).toBe(false);
  });

  it('says where to give the queue when a worker has none, and refuses --workers beside the variable', async () => {
    write('first.json', tiny('first', 1));
    const [none, noneJson, both] = await Promise.all([
      cli(['worker']),
      cli(['worker', '--json']),
      runCli(['experiment', '--grid', 'first.json', '--out', 'env-both', '--workers', '2'], scratch, {
        [VARIABLE]: 'redis://127.0.0.1:6379/0',
      }),
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error E_INVALID_OPTIONS: no job queue: give --queue <redis-url> or set HYPERPROTO_QUEUE_URL\n/m);
    expect(JSON.parse(noneJson.stdout).error.message).toBe('no job queue: give --queue <redis-url> or set HYPERPROTO_QUEUE_URL');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(
      /^error E_INVALID_OPTIONS: give --workers or a job queue \(HYPERPROTO_QUEUE_URL is set\), not both\nhint: .*unset HYPERPROTO_QUEUE_URL/m,
    );
    expect(existsSync(join(scratch, 'env-both'))).toBe(false);
  });

  it('experiment --help and worker --help name the variable, with an example', async () => {
    const [experiment, worker] = await Promise.all([cli(['experiment', '--help']), cli(['worker', '--help'])]);
    for (const run of [experiment, worker]) {
      expect(run.code).toBe(0);
      expect(run.stdout.replace(/\s+/g, ' ')).toContain('(env: HYPERPROTO_QUEUE_URL)');
      expect(run.stdout).toMatch(/^ {2}\$ HYPERPROTO_QUEUE_URL=.* hyperproto (experiment|worker) /m);
    }
  });

  it('never shows a user name given without a password (the colon forgotten) when Redis refuses it', async () => {
    const guarded = await server({ password: 'right-horse' });
    // The password where the user name goes: `redis://right-horse@...` is user "right-horse" with no password.
    const url = `redis://right-horse@127.0.0.1:${guarded.port}/0`;
    write('first.json', tiny('first', 1));
    const [run, alone, fromEnv] = await Promise.all([
      cli(['experiment', '--grid', 'first.json', '--out', 'colon-forgotten', '--queue', url]),
      cli(['worker', '--queue', url, '--json']),
      runCli(['worker'], scratch, { [VARIABLE]: url }),
    ]);
    for (const told of [run.stderr, JSON.parse(alone.stdout).error.message, fromEnv.stderr])
      expect(told).toContain(`the job queue at redis://***@127.0.0.1:${guarded.port}/0 refused the user name, given without a password`);
    for (const each of [run, alone, fromEnv]) {
      expect(each.code).toBe(2);
      expect(each.stdout + each.stderr).not.toContain('right-horse');
    }
    expect(existsSync(join(scratch, 'colon-forgotten'))).toBe(false);
  });
});
