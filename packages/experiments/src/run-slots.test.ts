// ThreadSlot stopping a run: a real worker thread (the built run-worker.js) running a dataset plugin that spins in a
// synchronous loop, as a native call or a long step holds a thread. The thread is never ended from outside. And the
// memory ThreadSlot samples while such runs hold their threads, as a grid run through a pool of them records it.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ErrorCode, parseExperimentSpec } from '@hyperproto/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGrid } from './grid-runner.js';
import { parseGrid } from './grid-schema.js';
import { LocalPool } from './local-pool.js';
import { MEMORY_SAMPLE_MS, processMemory } from './resident-memory.js';
import { parseResults, RESULTS_FILE } from './results-store.js';
import type { RunOrder } from './run-execution.js';
import { ABORT_GRACE_MS, RunFailedError, ThreadSlot } from './run-slots.js';

const require = createRequire(import.meta.url);
const here = fileURLToPath(new URL('.', import.meta.url));
// The thread runs plain Node: the built worker script and a transpiled fake registry.
const workerScript = pathToFileURL(join(here, '../dist/run-worker.js'));

let scratch: string;
let registryModule: string;

beforeAll(async () => {
  for (const file of ['run-worker', 'run-slots', 'worker-messages', 'run-execution']) {
    const built = join(here, '../dist', `${file}.js`);
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(here, `${file}.ts`)).mtimeMs)
      throw new Error(`dist/${file}.js is missing or older than its source: run \`pnpm --filter @hyperproto/experiments build\` first`);
  }
  scratch = mkdtempSync(join(tmpdir(), 'hyperproto-slots-'));
  const core = JSON.stringify(pathToFileURL(require.resolve('@hyperproto/core')).href);
  const ts = (await import('typescript')).default;
  const fake = ts
    .transpileModule(readFileSync(join(here, 'test-support/fake-registry.ts'), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    })
    .outputText.replace(/from '@hyperproto\/core'/g, `from ${core}`);
  writeFileSync(join(scratch, 'fake-registry.mjs'), fake);
  // `busy`: spins for spinMs without giving the event loop a turn, reporting progress every reportEveryMs (when
  // given) and stopping there once the signal is aborted; writes `marker`.started as the spin starts and `marker`
  // when it is over, then makes blobs. With holdBytes it then holds that many bytes, written (see hold).
  writeFileSync(
    join(scratch, 'registry.mjs'),
    `import { appendFileSync, statSync, writeFileSync } from 'node:fs';
import { defineDataset, ErrorCode, HyperprotoError, z } from ${core};
import { buildRegistry as fakeRegistry, versions } from './fake-registry.mjs';
export { versions };
const spin = (ms) => {
  const started = performance.now();
  while (performance.now() - started < ms) {}
};
// Holds the bytes, written, until as many runs as holders hold theirs (counted in marker.holding) and holdMs longer;
// then gives them back (a resizable buffer shrunk to nothing: no garbage collection to wait for) and spins holdMs more.
function hold(bytes, holders, holdMs, marker) {
  const held = new ArrayBuffer(bytes, { maxByteLength: bytes });
  new Uint8Array(held).fill(1);
  appendFileSync(marker + '.holding', 'x');
  const waiting = performance.now();
  while (statSync(marker + '.holding').size < holders && performance.now() - waiting < 30000) {}
  spin(holdMs);
  held.resize(0);
  spin(holdMs);
}
export function buildRegistry() {
  const registry = fakeRegistry();
  const blobs = registry.get('dataset', 'blobs');
  const busy = defineDataset({
    name: 'busy',
    summary: 'a long synchronous step',
    options: z.strictObject({
      classes: z.number().int(),
      spinMs: z.number(),
      reportEveryMs: z.number().optional(),
      holdBytes: z.number().int().optional(),
      holders: z.number().int().optional(),
      holdMs: z.number().optional(),
      marker: z.string(),
    }),
    async generate(ctx, { classes, spinMs, reportEveryMs, holdBytes, holders, holdMs, marker }) {
      writeFileSync(marker + '.started', '');
      const started = performance.now();
      let reported = started;
      while (performance.now() - started < spinMs) {
        if (reportEveryMs === undefined || performance.now() - reported < reportEveryMs) continue;
        reported = performance.now();
        ctx.progress?.(reported - started, spinMs);
        if (ctx.signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, 'interrupted');
      }
      if (holdBytes) hold(holdBytes, holders ?? 1, holdMs ?? 0, marker);
      writeFileSync(marker, 'the spin ran to its end');
      await new Promise((resolve) => setImmediate(resolve));
      if (ctx.signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, 'interrupted');
      return blobs.generate(ctx, { classes, perClass: 4 });
    },
  });
  return registry.register(busy);
}
`,
  );
  registryModule = pathToFileURL(join(scratch, 'registry.mjs')).href;
});
afterAll(() => scratch && rmSync(scratch, { recursive: true, force: true }));

function busyOrder(key: string, options: { spinMs: number; reportEveryMs?: number }): { order: RunOrder; marker: string } {
  const marker = join(scratch, `${key.replaceAll('/', '-')}.done`);
  const spec = parseExperimentSpec({
    seed: 0,
    dataset: { name: 'busy', options: { classes: 4, marker, ...options } },
    head: { name: 'softmax' },
  });
  return { order: { key, dataset: 'busy', model: 'softmax', seed: 0, spec }, marker };
}

/** Resolves once the thread is inside the step (or the run is over, which the test then finds wrong). */
async function spinning(marker: string, run: Promise<unknown>): Promise<void> {
  let over = false;
  run.then(
    () => (over = true),
    () => (over = true),
  );
  while (!over && !existsSync(`${marker}.started`)) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function startSlot(log: string[]): Promise<ThreadSlot> {
  return ThreadSlot.start({ registryModule, registryOptions: {}, git: null }, (message) => log.push(message), 1, workerScript);
}

/** The run's failure, or a failure of the test when the run finished instead. */
async function failureOf(run: Promise<unknown>): Promise<RunFailedError> {
  try {
    await run;
  } catch (error) {
    if (error instanceof RunFailedError) return error;
    throw error;
  }
  throw new Error('the run finished although it was stopped');
}

describe('ThreadSlot stops a run between steps and never ends its thread from outside', () => {
  it('a synchronous loop that reports progress hears the stop in shared memory, without an event loop turn', async () => {
    const log: string[] = [];
    const slot = await startSlot(log);
    try {
      // 20 s of spinning: the abort message alone would be read only after it.
      const { order, marker } = busyOrder('busy/progress/s0', { spinMs: 20_000, reportEveryMs: 20 });
      let reported!: () => void;
      const progressed = new Promise<void>((resolve) => {
        reported = resolve;
      });
      const run = slot.run(order, () => reported());
      // A run that fails before it reports anything fails the test below, not by a timeout here.
      await Promise.race([progressed, run.catch(() => {})]);
      slot.abort();
      const stopped = await failureOf(run);
      expect(stopped.failure.code).toBe(ErrorCode.Aborted);
      expect(stopped.lost).toBe(false);
      expect(existsSync(marker)).toBe(false);
    } finally {
      await slot.close();
    }
  });

  it('a step that cannot hear the stop runs to its end: the slot says it waits, then the run stops', async () => {
    const log: string[] = [];
    const slot = await startSlot(log);
    try {
      const { order, marker } = busyOrder('busy/silent/s0', { spinMs: ABORT_GRACE_MS + 1500 });
      const run = slot.run(order, () => {});
      await spinning(marker, run);
      slot.abort();
      const stopped = await failureOf(run);
      expect(stopped.failure.code).toBe(ErrorCode.Aborted);
      expect(readFileSync(marker, 'utf8')).toBe('the spin ran to its end');
      expect(log).toContainEqual(expect.stringMatching(/^busy\/silent\/s0: waiting for the step in progress to return/));
    } finally {
      await slot.close();
    }
  });

  it('close during a step ends the thread from inside once the step has returned', async () => {
    const slot = await startSlot([]);
    const { order, marker } = busyOrder('busy/closed/s0', { spinMs: 1500 });
    const run = slot.run(order, () => {});
    await spinning(marker, run);
    await slot.close();
    // Ended from outside (Worker.terminate), the spin would have been cut short and the marker never written.
    expect(readFileSync(marker, 'utf8')).toBe('the spin ran to its end');
    const closed = await failureOf(run);
    expect(closed.failure.code).toBe(ErrorCode.Aborted);
    await expect(slot.run(order, () => {})).rejects.toMatchObject({ failure: { code: ErrorCode.Internal } });
  });
});

describe('the memory of each run, sampled by the thread that started it', () => {
  it('a grid run through a pool of worker threads records the resident set its runs held, and stops sampling with the pool', async () => {
    const out = join(scratch, 'memory-results');
    const marker = join(scratch, 'memory.done');
    const held = 128 * 2 ** 20;
    const workers = 2;
    // Both runs start at once, before either has allocated anything; each holds 128 MiB, and once both hold theirs,
    // 500 ms more, in loops that never give their thread's event loop a turn; then each lets go of them and spins
    // 500 ms more: only samples taken while the runs work see them, none at a run's start or end.
    const grid = parseGrid({
      name: 'memory',
      seeds: [0, 1],
      datasets: [{ id: 'busy', name: 'busy', options: { classes: 4, spinMs: 0, holdBytes: held, holders: workers, holdMs: 500, marker } }],
      models: [{ id: 'softmax', head: 'softmax' }],
    });
    const outcome = await runGrid({
      grid,
      out,
      registryModule,
      scheduler: async () => new LocalPool(await Promise.all(Array.from({ length: workers }, () => startSlot([]))), null),
    });
    expect(outcome).toMatchObject({ ran: 2, failed: [] });
    expect(readFileSync(`${marker}.holding`, 'utf8')).toBe('xx');
    expect(processMemory.sampling).toBe(false);

    // Read back as the results store reads them: the field passes its check.
    const { records } = parseResults(readFileSync(join(out, RESULTS_FILE)), 'results');
    expect(records.map((r) => r.key).sort()).toEqual(['busy/softmax/s0', 'busy/softmax/s1']);
    for (const { memory } of records) {
      expect(memory).toBeDefined();
      expect(memory!.sampleMilliseconds).toBe(MEMORY_SAMPLE_MS);
      expect(memory!.startResidentBytes).toBeGreaterThan(0);
      // Both runs' 128 MiB were resident at once, on top of what the process held as they started: each peak is the
      // process's, shared with the run beside it.
      expect(memory!.peakResidentBytes - memory!.startResidentBytes).toBeGreaterThan(2 * 120 * 2 ** 20);
      expect(memory!.concurrentRuns).toBe(workers);
    }
  });
});
