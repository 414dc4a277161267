// A queue grid refuses results computed on files other than the coordinator's: the worker checks its copy before a
// run, and the coordinator checks each returned record. Real files, and a real Redis for the coordinator.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRegistry, defineDataset, ErrorCode, parseExperimentSpec, z, type DatasetInput } from '@hyperproto/core';
import {
  checkUnchangedInputs,
  parseGrid,
  type RunFailure,
  type RunOrder,
  type RunRecord,
  type SchedulerContext,
} from '@hyperproto/experiments';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { KEY_PREFIX, queueNameOf, readClaim, type JobData, type JobResult } from './grid-claim.js';
import { inputsFailure, WorkerInputs } from './input-check.js';
import { parseQueueAddress } from './queue-address.js';
import { queueScheduler } from './queue-coordinator.js';
import { connectionOptions } from './queue-connection.js';
import { redisMissing, startRedisServer, type RedisServer } from './testing.js';

const missing = redisMissing();
if (missing) console.log(`skipping the coordinator's file checks: ${missing}`);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hyperproto-queue-inputs-'));
  return () => rmSync(dir, { recursive: true, force: true });
});

const write = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const fingerprint = (path: string): DatasetInput => {
  const bytes = readFileSync(path);
  return { option: 'file', path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
};
const short = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** A dataset read from one file, whose `inputs` hook counts its reads. */
function fileDataset() {
  const reads: string[] = [];
  const counted = defineDataset({
    name: 'counted',
    summary: 'a class count read from a file, for tests',
    options: z.strictObject({ file: z.string() }),
    inputs: async ({ file }) => {
      reads.push(file);
      return [fingerprint(file)];
    },
    generate: () => {
      throw new Error('not run here');
    },
  });
  return { registry: createRegistry([counted]), reads };
}

const order = (file: string, seed = 0): RunOrder => ({
  key: `counted/softmax/s${seed}`,
  dataset: 'counted',
  model: 'softmax',
  seed,
  spec: parseExperimentSpec({ seed, dataset: { name: 'counted', options: { file } }, head: { name: 'softmax' } }),
});

describe('inputsFailure', () => {
  it('passes the same content at another path, and names each file that differs with both fingerprints', () => {
    const coordinator = fingerprint(write('coordinator.txt', '4\n'));
    const copy = fingerprint(write('copy.txt', '4\n'));
    expect(inputsFailure('counted', [coordinator], [copy], 'b/7', 'worker')).toBeUndefined();

    const stale = fingerprint(write('stale.txt', '16\n'));
    expect(inputsFailure('counted', [coordinator], [stale], 'b/7', 'worker')).toEqual({
      code: ErrorCode.InvalidInput,
      message: `this worker's files of dataset "counted" differ from the coordinator's, so its results would be of other data: file: ${stale.path} is 3 bytes, sha256 ${short('16\n')} on this worker, 2 bytes, sha256 ${short('4\n')} on the coordinator at ${coordinator.path} (size, content)`,
      hint: `Copy the coordinator's file to ${stale.path} on this machine (b/7); the worker reads it again at its next job. Then run the failed runs again with experiment --resume.`,
    });
    const sameSize = { ...coordinator, sha256: 'f'.repeat(64) };
    expect(inputsFailure('counted', [coordinator], [sameSize], 'b/7', 'coordinator')).toEqual({
      code: ErrorCode.InvalidInput,
      message: `the record of worker b/7 was computed on other files of dataset "counted" than the coordinator's, so it was not stored: file: ${coordinator.path} is 2 bytes, sha256 ffffffffffff on worker b/7, 2 bytes, sha256 ${short('4\n')} on the coordinator (content)`,
      hint: `Copy the coordinator's file to ${coordinator.path} on that worker's machine, then run the failed runs again with experiment --resume.`,
    });
  });

  it('names a file that only one side reads', () => {
    const data = fingerprint(write('data.txt', '4\n'));
    const labels = { ...fingerprint(write('labels.txt', 'a\n')), option: 'labels' };
    expect(inputsFailure('counted', [data, labels], [data], 'b/7', 'worker')?.message).toContain(
      `labels: ${labels.path} (2 bytes, sha256 ${short('a\n')}) on the coordinator, no file under this option on this worker`,
    );
    expect(inputsFailure('counted', [data], [data, labels], 'b/7', 'worker')?.message).toContain(
      `labels: ${labels.path} (2 bytes, sha256 ${short('a\n')}) on this worker, no file under this option on the coordinator`,
    );
  });
});

describe("a worker's check of its own files", () => {
  it('hashes each dataset once, fails a run on a copy that differs, and reads a fixed or replaced copy again', async () => {
    const file = write('classes.txt', '4\n');
    const coordinators = [fingerprint(write('coordinator.txt', '4\n'))];
    const { registry, reads } = fileDataset();
    const files = new WorkerInputs(registry, 'b/7');
    // The same content at another path runs; the file is read once for every run of the dataset.
    expect(await Promise.all([files.problem(order(file, 0), coordinators), files.problem(order(file, 1), coordinators)])).toEqual([
      undefined,
      undefined,
    ]);
    expect(await files.problem(order(file, 2), coordinators)).toBeUndefined();
    expect(reads).toEqual([file]);

    // Another worker, whose copy is stale: each of its runs fails, and a fixed copy is read at the next one.
    writeFileSync(file, '16\n');
    const stale = new WorkerInputs(registry, 'c/8');
    const failure = await stale.problem(order(file), coordinators);
    expect(failure).toMatchObject({ code: ErrorCode.InvalidInput, message: expect.stringContaining(`file: ${file} is 3 bytes`) });
    writeFileSync(file, '4\n');
    expect(await stale.problem(order(file), coordinators)).toBeUndefined();
    expect(reads).toEqual([file, file, file]);

    // A coordinator that sent no fingerprints (an older one) gets its runs unchecked.
    expect(await new WorkerInputs(registry, 'd/9').problem(order(file), undefined)).toBeUndefined();
    expect(reads).toHaveLength(3);

    // New data on every machine for the next grid: the first worker reads its copy again rather than failing the run.
    writeFileSync(file, '16\n');
    expect(await files.problem(order(file), [fingerprint(write('coordinator.txt', '16\n'))])).toBeUndefined();
    expect(reads).toHaveLength(4);
  });

  it("fails a run whose file it cannot read with the dataset's own error, and reads it again at the next run", async () => {
    const { registry } = fileDataset();
    const files = new WorkerInputs(registry, 'b/7');
    const gone = join(dir, 'gone.txt');
    const failure = await files.problem(order(gone), [fingerprint(write('coordinator.txt', '4\n'))]);
    expect(failure).toMatchObject({ code: ErrorCode.PluginFailed, message: expect.stringContaining('gone.txt') });
    writeFileSync(gone, '4\n');
    expect(await files.problem(order(gone), [fingerprint(join(dir, 'coordinator.txt'))])).toBeUndefined();
  });
});

describe('checkUnchangedInputs', () => {
  it('resolves to the fingerprints it read, by dataset id, for the scheduler to send', async () => {
    const file = write('classes.txt', '4\n');
    const { registry, reads } = fileDataset();
    const grid = parseGrid({
      name: 'files',
      seeds: 1,
      datasets: [
        { id: 'counted', name: 'counted', options: { file } },
        { id: 'unselected', name: 'counted', options: { file: join(dir, 'absent.txt') } },
      ],
      models: [{ id: 'softmax', head: 'softmax' }],
    });
    const read = await checkUnchangedInputs({ registry, grid, records: [], datasets: new Set(['counted']), target: 'runs', log: () => {} });
    expect(read).toEqual({ counted: [fingerprint(file)] });
    expect(reads).toHaveLength(1);
  });
});

describe.skipIf(missing)("the coordinator's check of returned records", () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('sends its fingerprints to the workers and stores only records of the same content, failing the others', async () => {
    const file = write('classes.txt', '4\n');
    const { registry } = fileDataset();
    const grid = parseGrid({
      name: 'files',
      seeds: 2,
      datasets: [{ id: 'counted', name: 'counted', options: { file } }],
      models: [{ id: 'softmax', head: 'softmax' }],
    });
    const expected = fingerprint(file);
    const context = {
      grid,
      inputs: { counted: [expected] },
      gridSource: 'files.json',
      runs: [],
      pending: 2,
      registryModule: 'unused',
      registryOptions: {},
      module: {},
      registry,
      provenance: { versions: { node: process.version, hyperproto: {}, tfjs: null, other: {} }, git: null, plugins: [] },
      git: null,
      log: () => {},
      runLog: () => {},
    } as unknown as SchedulerContext;
    // A worker that checks nothing (as one before these checks did): s0 read a copy at another path, s1 other data.
    const returned: Record<string, DatasetInput> = {
      'counted/softmax/s0': fingerprint(write('copy.txt', '4\n')),
      'counted/softmax/s1': fingerprint(write('stale.txt', '16\n')),
    };
    const claims: unknown[] = [];
    const worker = new Worker<JobData, JobResult>(
      queueNameOf(grid),
      async (job) => {
        claims.push((await readClaim(redis))?.inputs);
        const record = { key: job.data.order.key, dataset: 'counted', data: { inputs: [returned[job.data.order.key]] } };
        return { type: 'done', record: record as unknown as RunRecord, worker: 'old/1' };
      },
      { connection: connectionOptions(parseQueueAddress(server.url)), prefix: KEY_PREFIX },
    );
    const finished: string[] = [];
    const failed: [string, RunFailure][] = [];
    const scheduler = await queueScheduler({ url: server.url, pollMs: 50 })(context);
    try {
      await scheduler.execute([order(file, 0), order(file, 1)], {
        started: () => {},
        progress: () => {},
        released: () => {},
        finished: async (o) => void finished.push(o.key),
        failed: async (o, failure) => void failed.push([o.key, failure]),
      });
    } finally {
      await scheduler.close();
      await worker.close();
    }
    expect(claims).toEqual([{ counted: [expected] }, { counted: [expected] }]);
    expect(finished).toEqual(['counted/softmax/s0']);
    expect(failed).toEqual([
      [
        'counted/softmax/s1',
        {
          code: ErrorCode.InvalidInput,
          message: `the record of worker old/1 was computed on other files of dataset "counted" than the coordinator's, so it was not stored: file: ${returned['counted/softmax/s1']!.path} is 3 bytes, sha256 ${short('16\n')} on worker old/1, 2 bytes, sha256 ${short('4\n')} on the coordinator at ${file} (size, content)`,
          hint: expect.stringContaining("Copy the coordinator's file to"),
        },
      ],
    ]);
  });
});
