// Writes that fail for real (a file-size limit, `ulimit -f`, in a child shell; file permissions, in a child of
// another user when the tests run as root): the store and the runner refuse with E_IO naming the file, leave no
// partial line, keep the first error and release the lock.
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { parseGrid } from './grid-schema.js';
import { LOCK_FILE } from './results-lock.js';
import { FAILURES_FILE, GRID_FILE, parseResults, RESULTS_FILE, ResultsStore, SESSIONS_FILE } from './results-store.js';
import { fakeGrid } from './test-support/fake-grid.js';
import { softmaxRecord } from './test-support/fake-record.js';
import { permissionsHold, prepareChildScratch } from './test-support/built-package-child.js';

let scratch: string;
let storeScript: string;
let gridScript: string;
let resumeScript: string;

beforeAll(async () => {
  const child = await prepareChildScratch('hyperproto-store-failures-');
  scratch = child.dir;
  const built = child.builtPackage;
  // Opens a store and appends the given records, then a session line; prints what each append threw.
  storeScript = join(scratch, 'store.mjs');
  writeFileSync(
    storeScript,
    `import { readFileSync } from 'node:fs';
import { parseGrid, ResultsStore } from ${JSON.stringify(built)};
const [dir, input] = process.argv.slice(2);
const { grid, records, session } = JSON.parse(readFileSync(input, 'utf8'));
const store = await ResultsStore.open(dir, { grid: parseGrid(grid), resume: true });
const errors = [];
const attempt = (append) => {
  try {
    append();
    errors.push(null);
  } catch (error) {
    errors.push({ code: error.code, message: error.message });
  }
};
try {
  for (const record of records) attempt(() => store.append(record));
  attempt(() => store.appendSession(session));
} finally {
  store.close();
}
process.stdout.write(JSON.stringify(errors));
`,
  );
  // One session of a grid: prints its error (if any) and what it logged.
  gridScript = join(scratch, 'grid.mjs');
  writeFileSync(
    gridScript,
    `import { parseGrid, runGrid } from ${JSON.stringify(built)};
const [out, options] = process.argv.slice(2);
const { grid, ...rest } = JSON.parse(options);
const logs = [];
let error;
try {
  await runGrid({ grid: parseGrid(grid), out, registryModule: ${JSON.stringify(child.registryModule)}, inline: true, workers: 1, resume: true, onLog: (m) => logs.push(m), ...rest });
} catch (caught) {
  error = { code: caught.code, message: caught.message };
}
process.stdout.write(JSON.stringify({ error, logs }));
`,
  );
  // Resumes a directory (its grid from a file) and notes one failure; prints what it threw, or ok.
  resumeScript = join(scratch, 'resume.mjs');
  writeFileSync(
    resumeScript,
    `import { readFileSync } from 'node:fs';
import { parseGrid, ResultsStore } from ${JSON.stringify(built)};
const [dir, gridFile] = process.argv.slice(2);
try {
  const store = await ResultsStore.open(dir, { grid: parseGrid(JSON.parse(readFileSync(gridFile, 'utf8'))), resume: true });
  try {
    store.appendFailure({ key: 'c4/softmax/s1', error: { code: 'E_TRAINING_FAILED', message: 'diverged' }, at: 'now' });
  } finally {
    store.close();
  }
  process.stdout.write(JSON.stringify({ ok: true }));
} catch (error) {
  process.stdout.write(JSON.stringify({ code: error.code, message: error.message }));
}
`,
  );
  // The child may run as another user (see permissionsHold): it must reach its scripts.
  chmodSync(scratch, 0o755);
});

afterAll(() => scratch && rmSync(scratch, { recursive: true, force: true }));

/**
 * Runs `node args` under a file-size limit of `blocks` (POSIX sh counts 512-byte blocks) and parses what it prints.
 * A write past the limit fails with EFBIG (Node ignores SIGXFSZ); the bytes up to the limit are written.
 */
function underLimit(blocks: number | 'unlimited', args: string[]): unknown {
  const child = spawnSync('sh', ['-c', `ulimit -f ${blocks} && exec "$0" "$@"`, process.execPath, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout);
}

const bytesOf = (path: string) => (existsSync(path) ? readFileSync(path) : Buffer.alloc(0));

describe('a write that fails', () => {
  it('is refused as E_IO naming the file, and cut back so that no partial line is left; later records are refused too', async () => {
    const dir = join(scratch, 'store');
    const grid = parseGrid(fakeGrid('limited', 3, { classes: [4], axesDims: [] }));
    const store = await ResultsStore.open(dir, { grid });
    store.append(softmaxRecord(0));
    store.appendSession({ session: 1 });
    store.close();
    const results = bytesOf(join(dir, RESULTS_FILE));
    const sessions = bytesOf(join(dir, SESSIONS_FILE));
    // Both files end below the limit (4096 bytes), and each new line is longer than what is left.
    expect(results.length).toBeLessThan(4096);
    const pad = 'x'.repeat(10_000);
    const input = join(scratch, 'store-input.json');
    writeFileSync(input, JSON.stringify({ grid, records: [softmaxRecord(1, { data: { pad } }), softmaxRecord(2)], session: { pad } }));

    const errors = underLimit(8, [storeScript, dir, input]) as { code: string; message: string }[];
    const efbig = (file: string) => ({
      code: ErrorCode.Io,
      message: `cannot write ${join(dir, file)}: EFBIG: file too large, write`,
    });
    // The second record would fit, but follows a failed append: refused the same way.
    expect(errors).toEqual([efbig(RESULTS_FILE), efbig(RESULTS_FILE), efbig(SESSIONS_FILE)]);
    expect(bytesOf(join(dir, RESULTS_FILE)).equals(results)).toBe(true);
    expect(bytesOf(join(dir, SESSIONS_FILE)).equals(sessions)).toBe(true);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    // The directory resumes as it was: one record, nothing torn.
    const again = await ResultsStore.open(dir, { grid, resume: true });
    expect(again.records.map((r) => r.key)).toEqual(['c4/softmax/s0']);
    expect(again.torn).toBeUndefined();
    again.close();
  }, 60_000);

  it('during a session: its error is the one reported, the session line that fails too is only logged, the lock is released', () => {
    const out = join(scratch, 'grid');
    // Datasets c4 and c8, models softmax and axes-4: the first session finishes c4.
    const grid = fakeGrid('full-disk', 2);
    const first = underLimit('unlimited', [
      gridScript,
      out,
      JSON.stringify({ grid, only: ['c4'], command: `hyperproto ${'x'.repeat(3000)}` }),
    ]);
    expect(first).toEqual({ error: undefined, logs: expect.any(Array) });
    const results = bytesOf(join(out, RESULTS_FILE));
    const sessions = bytesOf(join(out, SESSIONS_FILE));
    expect(parseResults(results, RESULTS_FILE).records).toHaveLength(4);
    // Both are past the limit (1024 bytes): the next record and the next session line fail at once.
    expect(Math.min(results.length, sessions.length)).toBeGreaterThan(2048);

    const second = underLimit(2, [gridScript, out, JSON.stringify({ grid })]) as {
      error: { code: string; message: string };
      logs: string[];
    };
    expect(second.error).toEqual({ code: ErrorCode.Io, message: `cannot write ${join(out, RESULTS_FILE)}: EFBIG: file too large, write` });
    expect(second.logs.filter((line) => line.startsWith('also'))).toEqual([
      `also failed while ending the session: cannot write ${join(out, SESSIONS_FILE)}: EFBIG: file too large, write`,
    ]);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
    expect(bytesOf(join(out, RESULTS_FILE)).equals(results)).toBe(true);
    expect(bytesOf(join(out, SESSIONS_FILE)).equals(sessions)).toBe(true);
    expect(existsSync(join(out, FAILURES_FILE))).toBe(false);
  }, 60_000);
});

describe('files of the results directory this user may not read or write', () => {
  /** A results directory of one record, open to a child of another user, and its grid in a file beside it. */
  async function directory(name: string): Promise<{ dir: string; gridFile: string }> {
    const dir = join(scratch, name);
    const grid = parseGrid(fakeGrid(name, 3, { classes: [4], axesDims: [] }));
    const store = await ResultsStore.open(dir, { grid });
    store.append(softmaxRecord(0));
    store.close();
    chmodSync(dir, 0o777);
    const gridFile = join(scratch, `${name}-grid.json`);
    writeFileSync(gridFile, JSON.stringify(grid));
    return { dir, gridFile };
  }
  const resume = (dir: string, gridFile: string) => {
    const child = spawnSync(process.execPath, [resumeScript, dir, gridFile], { encoding: 'utf8', timeout: 60_000, ...permissionsHold() });
    expect(child.status, child.stderr).toBe(0);
    return JSON.parse(child.stdout) as unknown;
  };

  it('a torn results.jsonl it cannot write: --resume is refused as E_IO, and no copy of the torn line is left', async () => {
    const { dir, gridFile } = await directory('read-only');
    const results = join(dir, RESULTS_FILE);
    appendFileSync(results, '{"key":"c4/soft');
    chmodSync(results, 0o444);
    const bytes = readFileSync(results);
    // Each attempt is refused alike and leaves the directory as it was.
    for (const _ of [1, 2])
      expect(resume(dir, gridFile)).toEqual({ code: ErrorCode.Io, message: `cannot write ${results}: permission denied` });
    expect(readFileSync(results).equals(bytes)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual([GRID_FILE, RESULTS_FILE]);
  }, 60_000);

  it('a failures.jsonl it may append to but not read: the line is appended, after a line end in case the last line lacks one', async () => {
    const { dir, gridFile } = await directory('write-only');
    const failures = join(dir, FAILURES_FILE);
    writeFileSync(failures, '{"key":"c4/softmax/s2"}\n');
    chmodSync(join(dir, RESULTS_FILE), 0o666);
    chmodSync(failures, 0o222);
    expect(resume(dir, gridFile)).toEqual({ ok: true });
    chmodSync(failures, 0o644);
    expect(readFileSync(failures, 'utf8')).toBe(
      '{"key":"c4/softmax/s2"}\n\n{"key":"c4/softmax/s1","error":{"code":"E_TRAINING_FAILED","message":"diverged"},"at":"now"}\n',
    );
  }, 60_000);
});
