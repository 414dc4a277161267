// `--resume` refuses to add runs on data files that changed since the finished runs read them.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { runGrid } from './grid-runner.js';
import { parseGrid } from './grid-schema.js';
import { checkUnchangedInputs, recordedInputs } from './input-changes.js';
import { RESULTS_FILE } from './results-store.js';
import type { RunRecord } from './run-record.js';
import { buildRegistry } from './test-support/file-dataset-registry.js';
import { asyncRefusal } from './test-support/refusal.js';

const registryModule = fileURLToPath(new URL('./test-support/file-dataset-registry.ts', import.meta.url));

let dir: string;
let out: string;
let data: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hyperproto-resume-data-'));
  out = join(dir, 'results');
  data = join(dir, 'classes.txt');
  writeFileSync(data, '4\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const grid = (seeds: number) =>
  parseGrid({
    name: 'study',
    seeds,
    datasets: [{ id: 'counted', name: 'counted', options: { file: data } }],
    models: [{ id: 'softmax', head: 'softmax' }],
  });
const run = (seeds: number, options: { resume?: boolean; log?: string[] } = {}) =>
  runGrid({
    grid: grid(seeds),
    gridSource: 'study.json',
    out,
    registryModule,
    inline: true,
    workers: 1,
    ...(options.resume ? { resume: true } : {}),
    onLog: (message) => options.log?.push(message),
  });
const read = (name: string) => readFileSync(join(out, name), 'utf8');
const records = () =>
  read(RESULTS_FILE)
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as RunRecord);
/** The first 12 hex digits of the SHA-256 of `text`, as the messages show it. */
const sha256Of = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

describe('resume after a data file changed', () => {
  it('refuses before anything is written, naming the dataset, the file, what changed and what to do', async () => {
    await run(1);
    const [before] = recordedInputs(records()[0]!.data)!;
    expect(before).toMatchObject({ option: 'file', path: data, bytes: 2 });
    expect(before!.sha256).toMatch(/^[0-9a-f]{64}$/);
    const results = read(RESULTS_FILE);
    const storedGrid = read('grid.json');

    writeFileSync(data, '16\n');
    const error = await asyncRefusal(run(3, { resume: true }));
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toContain(`${out} holds finished runs that read other data than the dataset files hold now`);
    expect(error.message).toContain(
      `dataset "counted" file: ${data} is 3 bytes, sha256 ${sha256Of('16\n')} now, 2 bytes, sha256 ${before!.sha256.slice(0, 12)} when 1 finished run read it (size, content)`,
    );
    expect(error.hint).toContain('Restore each file as the finished runs read it');
    expect(error.hint).toContain('use a new --out');
    expect(error.hint).toContain('a dataset with a new id');
    // Nothing written: the grid stays the old one, no record added, the lock released.
    expect(read(RESULTS_FILE)).toBe(results);
    expect(read('grid.json')).toBe(storedGrid);

    // A change of content at the same size is refused too.
    writeFileSync(data, '5\n');
    const sameSize = await asyncRefusal(run(3, { resume: true }));
    expect(sameSize.message).toContain(`dataset "counted" file: ${data} is 2 bytes, sha256 ${sha256Of('5\n')} now, 2 bytes`);
    expect(sameSize.message).toMatch(/when 1 finished run read it \(content\)/);

    // Restored, the grid grows and the new runs record the same fingerprint.
    writeFileSync(data, '4\n');
    const outcome = await run(3, { resume: true });
    expect(outcome).toMatchObject({ skipped: 1, ran: 2, failed: [] });
    expect(records().map((record) => recordedInputs(record.data))).toEqual([[before], [before], [before]]);
  });

  it('resumes on an unchanged file without a word about it', async () => {
    await run(1);
    const log: string[] = [];
    const outcome = await run(2, { resume: true, log });
    expect(outcome).toMatchObject({ skipped: 1, ran: 1, failed: [] });
    expect(log.filter((line) => line.includes('fingerprint') || line.includes('counted'))).toEqual([]);
  });

  it('warns, and runs nothing, when no run of the changed dataset is left to do', async () => {
    await run(2);
    const [before] = recordedInputs(records()[0]!.data)!;
    writeFileSync(data, '16\n');
    const log: string[] = [];
    const outcome = await run(2, { resume: true, log });
    expect(outcome).toMatchObject({ skipped: 2, ran: 0, failed: [] });
    expect(log).toContain(
      `warning: ${out} holds finished runs that read other data than the dataset files hold now; their records (and the report written from them) are of the data they read:\n  dataset "counted" file: ${data} is 3 bytes, sha256 ${sha256Of('16\n')} now, 2 bytes, sha256 ${before!.sha256.slice(0, 12)} when 2 finished runs read it (size, content)`,
    );
    expect(log.filter((line) => line.startsWith('hint: ') && line.includes('new --out'))).toHaveLength(1);

    // A file removed once its runs were done is no reason for a word: the records stand.
    rmSync(data);
    const quiet: string[] = [];
    expect(await run(2, { resume: true, log: quiet })).toMatchObject({ skipped: 2, ran: 0 });
    expect(quiet.filter((line) => line.includes('counted'))).toEqual([]);
  });

  it('resumes records written before fingerprints existed, noting once that they cannot be checked', async () => {
    await run(2);
    // As an older version wrote them: no data.inputs.
    const old = records().map((record) => JSON.stringify({ ...record, data: {} }));
    writeFileSync(join(out, RESULTS_FILE), `${old.join('\n')}\n`);
    writeFileSync(data, '5\n');
    const log: string[] = [];
    const outcome = await run(3, { resume: true, log });
    expect(outcome).toMatchObject({ skipped: 2, ran: 1, failed: [] });
    expect(log.filter((line) => line.includes('fingerprints'))).toEqual([
      'note: some finished runs of dataset "counted" (2 of 2) were recorded without fingerprints of their files, so their data cannot be checked against the files now',
    ]);
  });

  it('keeps runs whose file only moved (same content), with a note, and refuses one moved with other content', async () => {
    await run(1);
    const [before] = recordedInputs(records()[0]!.data)!;
    const moved = (path: string, sha256 = before!.sha256) =>
      records().map((record) => ({ ...record, data: { inputs: [{ ...before, path, sha256 }] } }));
    const check = (stored: RunRecord[], log: string[] = []) =>
      checkUnchangedInputs({
        registry: buildRegistry().registry,
        grid: grid(2),
        records: stored,
        datasets: new Set(['counted']),
        target: 'runs/x',
        log: (message) => log.push(message),
      });
    const log: string[] = [];
    await check(moved('/elsewhere/classes.txt'), log);
    expect(log).toEqual([
      `note: dataset "counted" file is now read from ${data}; 1 finished run read /elsewhere/classes.txt, with the same content`,
    ]);

    const error = await asyncRefusal(check(moved('/elsewhere/classes.txt', 'f'.repeat(64))));
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toContain(
      `dataset "counted" file: ${data} is 2 bytes, sha256 ${before!.sha256.slice(0, 12)} now, 2 bytes, sha256 ffffffffffff when 1 finished run read it at /elsewhere/classes.txt (content)`,
    );
  });

  it('stops a new grid whose data file is missing before its first run, writing no record', async () => {
    rmSync(data);
    const error = await asyncRefusal(run(2));
    expect(error.message).toContain(data);
    expect(() => read(RESULTS_FILE)).toThrow();
  });
});
