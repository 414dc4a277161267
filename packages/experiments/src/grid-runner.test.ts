import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { runGrid, type GridProgress } from './grid-runner.js';
import { parseGrid } from './grid-schema.js';
import { localPool } from './local-pool.js';
import { writeReport } from './report-writer.js';
import { parseResults, RESULTS_FILE, ResultsStore } from './results-store.js';
import type { SchedulerFactory } from './run-scheduler.js';
import { fakeGrid } from './test-support/fake-grid.js';

const registryModule = fileURLToPath(new URL('./test-support/fake-registry.ts', import.meta.url));
// Datasets c4 and c8, models softmax, axes-4 and axes-8.
const grid = parseGrid(fakeGrid('runner', 2, { axesDims: [4, 8] }));

let out: string;
beforeEach(() => {
  out = join(mkdtempSync(join(tmpdir(), 'hyperproto-runner-')), 'results');
});
afterEach(() => {
  rmSync(join(out, '..'), { recursive: true, force: true });
  delete process.env.FAKE_ENGINE_FAIL_SEED;
  delete process.env.FAKE_ENGINE_DELAY_MS;
  delete process.env.FAKE_ENGINE_NAN_LOSS_SEED;
  delete process.env.FAKE_ENGINE_TEST_LOSS_OVERFLOW;
});

const records = () => parseResults(readFileSync(join(out, RESULTS_FILE)), 'results').records;

describe('runGrid', () => {
  it('runs every cell and seed once, records what the issue asks for, and reports progress with an ETA', async () => {
    const progress: GridProgress[] = [];
    const outcome = await runGrid({ grid, out, registryModule, inline: true, workers: 2, onProgress: (p) => progress.push(p) });
    expect(outcome).toMatchObject({ total: 12, ran: 12, skipped: 0, failed: [], workers: 2 });
    const stored = records();
    expect(stored.map((r) => r.key).sort()).toEqual(
      ['c4', 'c8'].flatMap((d) => ['softmax', 'axes-4', 'axes-8'].flatMap((m) => [0, 1].map((s) => `${d}/${m}/s${s}`))).sort(),
    );
    const hpn = stored.find((r) => r.key === 'c8/axes-8/s1')!;
    expect(hpn).toMatchObject({
      dataset: 'c8',
      model: 'axes-8',
      seed: 1,
      classes: 8,
      head: 'hpn',
      prototypes: { strategy: 'axes', dims: 8 },
    });
    expect(hpn.spec.seed).toBe(1);
    expect(hpn.metrics.macroF1).toBeGreaterThan(0);
    expect(hpn.metrics).toMatchObject({ bayes: { accuracy: 1, macroF1: 1 }, reference: 'truth' });
    expect(hpn.bestEpoch).toBeLessThanOrEqual(hpn.epochs);
    expect(hpn.history).toHaveLength(hpn.epochs);
    expect(hpn.secondsPerEpoch).toBeCloseTo(0.08);
    expect(hpn.engine).toEqual({ name: 'fake', backend: 'fake/cpu' });
    expect(hpn.versions).toMatchObject({ node: process.version, tfjs: 'none' });
    expect(hpn.versions.hyperproto).toHaveProperty('@hyperproto/experiments');
    expect(hpn.versions.hyperproto).toHaveProperty('@hyperproto/fake-plugins', '0.0.0');
    expect(hpn.seconds.total).toBeGreaterThanOrEqual(0);

    const finished = progress.filter((p) => p.event?.type === 'finished');
    expect(finished.map((p) => p.done)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(finished.at(-1)!.etaSeconds).toBe(0);
    expect(finished.slice(0, -1).every((p) => p.etaSeconds !== null && p.etaSeconds >= 0)).toBe(true);
    const sessions = readFileSync(join(out, 'sessions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(sessions).toEqual([expect.objectContaining({ workers: 2, ran: 12, failed: 0, aborted: false })]);
  });

  it('is deterministic: the same grid and seeds give the same numbers', async () => {
    await runGrid({ grid, out, registryModule, inline: true, workers: 1 });
    const first = records().map((r) => [r.key, r.metrics]);
    rmSync(out, { recursive: true });
    await runGrid({ grid, out, registryModule, inline: true, workers: 3 });
    expect(new Map(records().map((r) => [r.key, r.metrics]))).toEqual(new Map(first as [string, unknown][]));
  });

  it('with --resume runs only what is missing and leaves finished records byte-identical', async () => {
    process.env.FAKE_ENGINE_FAIL_SEED = '1';
    const partial = await runGrid({ grid, out, registryModule, inline: true, workers: 2, onLog: () => {} });
    expect(partial.ran).toBe(6);
    expect(partial.failed.map((f) => f.key).sort()).toEqual([
      'c4/axes-4/s1',
      'c4/axes-8/s1',
      'c4/softmax/s1',
      'c8/axes-4/s1',
      'c8/axes-8/s1',
      'c8/softmax/s1',
    ]);
    expect(partial.failed[0]!.failure).toMatchObject({ code: ErrorCode.TrainingFailed });
    expect(readFileSync(join(out, 'failures.jsonl'), 'utf8').trim().split('\n')).toHaveLength(6);
    const before = readFileSync(join(out, RESULTS_FILE), 'utf8');

    delete process.env.FAKE_ENGINE_FAIL_SEED;
    const resumed = await runGrid({ grid, out, registryModule, inline: true, workers: 2, resume: true });
    expect(resumed).toMatchObject({ skipped: 6, ran: 6, failed: [] });
    const after = readFileSync(join(out, RESULTS_FILE), 'utf8');
    expect(after.startsWith(before)).toBe(true);
    expect(new Set(records().map((r) => r.key)).size).toBe(12);

    const nothing = await runGrid({ grid, out, registryModule, inline: true, resume: true });
    expect(nothing).toMatchObject({ skipped: 12, ran: 0 });
    expect(readFileSync(join(out, RESULTS_FILE), 'utf8')).toBe(after);
  });

  it('runs a subset with `only`, and a later session without it completes the same grid', async () => {
    const subset = await runGrid({ grid, out, registryModule, inline: true, only: ['c4', '*/softmax/s0'] });
    expect(subset).toMatchObject({ total: 7, gridTotal: 12, ran: 7, skipped: 0 });
    expect(
      records()
        .map((r) => r.key)
        .filter((k) => k.startsWith('c8')),
    ).toEqual(['c8/softmax/s0']);
    const rest = await runGrid({ grid, out, registryModule, inline: true, resume: true });
    expect(rest).toMatchObject({ total: 12, ran: 5, skipped: 7 });
    await expect(runGrid({ grid, out, registryModule, inline: true, resume: true, only: ['c9/*'] })).rejects.toThrow(
      /--only c9\/\* matches no run of the grid/,
    );
  });

  it('refuses a bad grid before touching the results directory', async () => {
    const bad = parseGrid({ ...grid, models: [{ id: 'axes-1', head: 'hpn', prototypes: { strategy: 'axes', dims: 1 } }] });
    await expect(runGrid({ grid: bad, out, registryModule, inline: true })).rejects.toThrow(
      /models\.0 "axes-1" on datasets\.0 "c4": prototype strategy "axes" cannot make 4 prototypes in 1 dimensions/,
    );
    expect(() => readFileSync(join(out, 'grid.json'))).toThrow();
  });

  it('refuses records whose spec differs from what the grid now makes', async () => {
    await runGrid({ grid, out, registryModule, inline: true });
    const text = readFileSync(join(out, RESULTS_FILE), 'utf8').replace('"patience":10', '"patience":11');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(out, RESULTS_FILE), text);
    await expect(runGrid({ grid, out, registryModule, inline: true, resume: true })).rejects.toThrow(
      /was made with a different spec \(trainer\.patience: 11 there, 10 now\)/,
    );
  });

  it('stops on abort, keeps what finished, and says how to continue', async () => {
    process.env.FAKE_ENGINE_DELAY_MS = '20';
    const controller = new AbortController();
    const run = runGrid({
      grid,
      out,
      registryModule,
      inline: true,
      workers: 1,
      signal: controller.signal,
      onProgress: (p) => p.event?.type === 'finished' && p.done === 2 && controller.abort(),
    });
    await expect(run).rejects.toMatchObject({ code: ErrorCode.Aborted, hint: expect.stringMatching(/--resume/) });
    expect(records()).toHaveLength(2);
    const resumed = await runGrid({ grid, out, registryModule, inline: true, resume: true });
    expect(resumed).toMatchObject({ skipped: 2, ran: 10 });
  });
});

describe('a record that --resume and the report would refuse', () => {
  const small = parseGrid(fakeGrid('unfit', 2, { classes: [4], axesDims: [] }));
  const failures = () =>
    readFileSync(join(out, 'failures.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { key: string; error: { code: string; message: string; hint: string } });

  it('is not stored: its run fails, blamed on the engine that made the field, and the directory still resumes', async () => {
    process.env.FAKE_ENGINE_NAN_LOSS_SEED = '1';
    const outcome = await runGrid({ grid: small, out, registryModule, inline: true, workers: 1, onLog: () => {} });
    expect(outcome).toMatchObject({ ran: 1, failed: [{ key: 'c4/softmax/s1' }] });
    expect(failures()).toEqual([
      expect.objectContaining({
        key: 'c4/softmax/s1',
        error: {
          code: ErrorCode.InvalidPlugin,
          message: 'the record of c4/softmax/s1 cannot be stored: "history.0.trainLoss" is not a number, as engine:fake made it',
          hint: expect.stringContaining('update or fix the plugin'),
        },
      }),
    ]);
    expect(records().map((r) => r.key)).toEqual(['c4/softmax/s0']);
    await expect(writeReport(out)).resolves.toMatchObject({ runs: { finished: 1, expected: 2 } });

    delete process.env.FAKE_ENGINE_NAN_LOSS_SEED;
    await expect(runGrid({ grid: small, out, registryModule, inline: true, resume: true })).resolves.toMatchObject({ ran: 1, skipped: 1 });
  });

  it('from a queue worker is refused the same way, blamed on the registry module when it is its versions', async () => {
    // A scheduler that hands back what its workers send, as the queue's coordinator does: here versions of numbers.
    const local = localPool({ inline: true, workers: 1 });
    const tampering: SchedulerFactory = async (context) => {
      const pool = await local(context);
      return {
        description: 'a tampering queue',
        parallel: () => pool.parallel(),
        close: () => pool.close(),
        execute: (orders, events, signal) =>
          pool.execute(
            orders,
            {
              ...events,
              finished: (order, record) =>
                events.finished(
                  order,
                  order.seed === 1 ? { ...record, versions: { ...record.versions, other: { x: 1 as never } } } : record,
                ),
            },
            signal,
          ),
      };
    };
    const outcome = await runGrid({ grid: small, out, registryModule, scheduler: tampering, onLog: () => {} });
    expect(outcome.failed.map((f) => f.failure)).toEqual([
      {
        code: ErrorCode.InvalidPlugin,
        message: `the record of c4/softmax/s1 cannot be stored: "versions.other" is not an object of strings, as the registry module ${registryModule} reports it`,
        hint: expect.stringContaining('versions() must return'),
      },
    ]);
    expect(records().map((r) => r.key)).toEqual(['c4/softmax/s0']);
  });

  it('is not what a traced test loss that overflowed makes: JSON writes it as null, which --resume and the report take', async () => {
    process.env.FAKE_ENGINE_TEST_LOSS_OVERFLOW = '1';
    const traced = parseGrid({ ...small, models: [{ id: 'traced', head: 'softmax', trainer: { traceTest: true } }] });
    await expect(runGrid({ grid: traced, out, registryModule, inline: true })).resolves.toMatchObject({ ran: 2, failed: [] });
    expect(records().flatMap((r) => r.history.map((e) => e.testLoss))).toEqual(Array(7).fill(null));
    const store = await ResultsStore.open(out, { grid: traced, resume: true });
    expect(store.records).toHaveLength(2);
    store.close();
    await expect(writeReport(out)).resolves.toMatchObject({ runs: { finished: 2, expected: 2 } });
  });
});
