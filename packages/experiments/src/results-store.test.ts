import { spawnSync } from 'node:child_process';
import { constants as bufferConstants } from 'node:buffer';
import {
  appendFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { parseGrid } from './grid-schema.js';
import { LOCK_FILE } from './results-lock.js';
import {
  FAILURES_FILE,
  GRID_FILE,
  MAX_LINE_BYTES,
  parseResults,
  readResultsDirectory,
  ResultsStore,
  RESULTS_FILE,
  SESSIONS_FILE,
} from './results-store.js';
import { fakeGrid } from './test-support/fake-grid.js';
import { softmaxRecord } from './test-support/fake-record.js';
import { asyncRefusal, refusal } from './test-support/refusal.js';

const grid = parseGrid(fakeGrid('stored', 2, { classes: [4], axesDims: [] }));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hyperproto-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A new results directory holding the records of these seeds, as the store writes them. */
async function writeRecords(...seeds: number[]): Promise<void> {
  const store = await ResultsStore.open(dir, { grid });
  for (const seed of seeds) store.append(softmaxRecord(seed));
  store.close();
}

describe('ResultsStore', () => {
  it('appends whole lines and gives them back on --resume', async () => {
    await writeRecords(0, 1);
    const text = readFileSync(join(dir, RESULTS_FILE), 'utf8');
    expect(text.split('\n')).toHaveLength(3);
    expect(text.endsWith('\n')).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'grid.json'), 'utf8')).name).toBe('stored');

    const again = await ResultsStore.open(dir, { grid, resume: true });
    expect(again.records.map((r) => r.key)).toEqual(['c4/softmax/s0', 'c4/softmax/s1']);
    expect(again.torn).toBeUndefined();
    again.close();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses a directory with results unless --resume is given', async () => {
    (await ResultsStore.open(dir, { grid })).close();
    const error = await asyncRefusal(ResultsStore.open(dir, { grid }));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toMatch(/already holds results of grid "stored"/);
    expect(error.hint).toMatch(/--resume/);
  });

  it('refuses results of a different grid, naming the difference', async () => {
    (await ResultsStore.open(dir, { grid })).close();
    const other = parseGrid({ ...grid, seeds: 3, datasets: [{ id: 'c4', name: 'blobs', options: { classes: 5 } }] });
    const error = await asyncRefusal(ResultsStore.open(dir, { grid: other, gridSource: 'other.json' }));
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(/holds results of a different grid/);
    expect(error.message).toMatch(/datasets\.0\.options\.classes: 4 in .*grid\.json, 5 in other\.json/);
    expect(error.message).toMatch(/seeds\.2: \(absent\) in .*grid\.json, 2 in other\.json/);
  });

  it('on --resume refuses a grid that changes a finished run, naming the run and the difference', async () => {
    await writeRecords(0);
    const other = parseGrid({ ...grid, seeds: 3, datasets: [{ id: 'c4', name: 'blobs', options: { classes: 5 } }] });
    const error = await asyncRefusal(ResultsStore.open(dir, { grid: other, resume: true, gridSource: 'other.json' }));
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(
      /holds results of a different grid: 1 finished run is not in other\.json as it was:\n {2}c4\/softmax\/s0: dataset\.options\.classes: 4 in .*grid\.json, 5 in other\.json$/,
    );
    expect(error.hint).toMatch(/Keep those runs as they are in .*grid\.json .*or use a new --out/);
  });

  it('accepts a grid that differs only in labels or published numbers, and stores the new one', async () => {
    (await ResultsStore.open(dir, { grid })).close();
    const relabelled = parseGrid({ ...grid, description: 'now described' });
    (await ResultsStore.open(dir, { grid: relabelled, resume: true })).close();
    expect(JSON.parse(readFileSync(join(dir, 'grid.json'), 'utf8')).description).toBe('now described');
  });

  it('leaves no directory it made when the grid is refused, and one that existed before as it was', async () => {
    const refuse = async () => {
      throw new Error('refused data');
    };
    const nested = join(dir, 'runs', 'new');
    expect((await asyncRefusal(ResultsStore.open(nested, { grid, checkRecords: refuse }))).message).toBe('refused data');
    expect(readdirSync(dir)).toEqual([]);

    const existing = join(dir, 'mine');
    mkdirSync(existing);
    await asyncRefusal(ResultsStore.open(existing, { grid, checkRecords: refuse }));
    expect(readdirSync(dir)).toEqual(['mine']);
    expect(readdirSync(existing)).toEqual([]);
  });

  it('refuses a non-empty directory that holds no experiment', async () => {
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const error = await asyncRefusal(ResultsStore.open(dir, { grid }));
    expect(error.message).toMatch(/holds no experiment/);
  });

  it('detects a torn last line, keeps its bytes aside, and cuts it off so that run is redone', async () => {
    await writeRecords(0);
    const whole = readFileSync(join(dir, RESULTS_FILE), 'utf8');
    const torn = JSON.stringify(softmaxRecord(1)).slice(0, 80);
    appendFileSync(join(dir, RESULTS_FILE), torn);

    const logs: string[] = [];
    const again = await ResultsStore.open(dir, { grid, resume: true, log: (m) => logs.push(m) });
    expect(again.records.map((r) => r.key)).toEqual(['c4/softmax/s0']);
    expect(again.torn).toMatchObject({ line: 2, key: 'c4/softmax/s1', bytes: Buffer.byteLength(torn) });
    expect(logs.join('\n')).toMatch(/line 2 was cut short .*run c4\/softmax\/s1 will be redone/);
    // The good line is untouched and appends continue on a clean line.
    expect(readFileSync(join(dir, RESULTS_FILE), 'utf8')).toBe(whole);
    again.append(softmaxRecord(1));
    again.close();
    expect(parseResults(readFileSync(join(dir, RESULTS_FILE)), 'results').records).toHaveLength(2);
    const aside = readdirSync(dir).find((f) => f.startsWith(`${RESULTS_FILE}.torn-`))!;
    expect(readFileSync(join(dir, aside), 'utf8')).toBe(torn);
  });

  it('treats a complete but garbled last line (e.g. zeros after a power loss) as torn', () => {
    const good = `${JSON.stringify(softmaxRecord(0))}\n`;
    const parsed = parseResults(Buffer.concat([Buffer.from(good), Buffer.alloc(12), Buffer.from('\n')]), 'results');
    expect(parsed.records).toHaveLength(1);
    expect(parsed.torn?.reason).toMatch(/not valid JSON/);
  });

  it('refuses a bad line before the last one instead of dropping it', () => {
    const good = JSON.stringify(softmaxRecord(0));
    expect(() => parseResults(Buffer.from(`{"oops":\n${good}\n`), 'results.jsonl')).toThrow(/results\.jsonl line 1 is not a run record/);
  });

  it('refuses a second runner on the same directory while the first holds it', async () => {
    const first = await ResultsStore.open(dir, { grid });
    const error = await asyncRefusal(ResultsStore.open(dir, { grid, resume: true }));
    expect(error.message).toMatch(new RegExp(`in use by another hyperproto experiment \\(pid ${process.pid}`));
    expect(error.hint).toMatch(/experiment\.lock/);
    first.close();
    (await ResultsStore.open(dir, { grid, resume: true })).close();
  });

  it('takes over the lock of a process that no longer exists', async () => {
    (await ResultsStore.open(dir, { grid })).close();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const lock = { pid: Number(dead.stdout), host: hostname(), started: 'earlier' };
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify(lock));
    const logs: string[] = [];
    const store = await ResultsStore.open(dir, { grid, resume: true, log: (m) => logs.push(m) });
    expect(logs.join('\n')).toMatch(new RegExp(`took over a stale lock of pid ${lock.pid}`));
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    store.close();
  });

  it('keeps the first record of a run written twice, names the duplicates, and removes them on --resume', async () => {
    await writeRecords(0, 1);
    const first = readFileSync(join(dir, RESULTS_FILE), 'utf8');
    const later = `${JSON.stringify({ ...softmaxRecord(0), finishedAt: '2027-01-01T00:00:00.000Z' })}\n`;
    const same = `${JSON.stringify(softmaxRecord(1))}\n`;
    appendFileSync(join(dir, RESULTS_FILE), later + same);

    // The report reads without changing anything, and counts each run once.
    const read = await readResultsDirectory(dir);
    expect(read.records.map((r) => r.finishedAt)).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z']);
    expect(read.duplicates).toMatchObject([
      { key: 'c4/softmax/s0', line: 3, firstLine: 1, identical: false },
      { key: 'c4/softmax/s1', line: 4, firstLine: 2, identical: true },
    ]);
    expect(readFileSync(join(dir, RESULTS_FILE), 'utf8')).toBe(first + later + same);

    const logs: string[] = [];
    const again = await ResultsStore.open(dir, { grid, resume: true, log: (m) => logs.push(m) });
    expect(again.records.map((r) => r.key)).toEqual(['c4/softmax/s0', 'c4/softmax/s1']);
    expect(again.records[0]!.finishedAt).toBe('2026-01-01T00:00:00.000Z');
    expect(again.duplicates.map((d) => d.key)).toEqual(['c4/softmax/s0', 'c4/softmax/s1']);
    expect(logs.join('\n')).toMatch(
      /holds 2 duplicate record\(s\).*c4\/softmax\/s0 at line 3 \(first at line 1, different\); c4\/softmax\/s1 at line 4 \(first at line 2, identical\); kept the first of each/,
    );
    // Rewritten whole: the first records byte for byte, the later lines kept aside, appends continue.
    expect(readFileSync(join(dir, RESULTS_FILE), 'utf8')).toBe(first);
    const aside = readdirSync(dir).find((f) => f.startsWith(`${RESULTS_FILE}.duplicates-`))!;
    expect(readFileSync(join(dir, aside), 'utf8')).toBe(later + same);
    expect(readdirSync(dir).filter((f) => f.endsWith('.draft') || f.endsWith('.tmp'))).toEqual([]);
    again.close();
    const third = await ResultsStore.open(dir, { grid, resume: true });
    expect(third.duplicates).toEqual([]);
    third.close();
  });

  it('removes duplicates and a torn last line together, losing no whole record', async () => {
    const lines = [softmaxRecord(0), softmaxRecord(0), softmaxRecord(1)].map((r) => `${JSON.stringify(r)}\n`);
    (await ResultsStore.open(dir, { grid })).close();
    writeFileSync(join(dir, RESULTS_FILE), `${lines.join('')}{"format":1,"key":"c4/softmax/s`);
    const store = await ResultsStore.open(dir, { grid, resume: true });
    expect(store.records.map((r) => r.key)).toEqual(['c4/softmax/s0', 'c4/softmax/s1']);
    expect(store.torn?.line).toBe(4);
    store.close();
    expect(readFileSync(join(dir, RESULTS_FILE), 'utf8')).toBe(lines[0]! + lines[2]!);
  });

  it('recovers a directory where a kill left only the grid.json draft: adopts a complete one, with --resume only', async () => {
    const draft = `${GRID_FILE}.999999999.draft`;
    writeFileSync(join(dir, draft), `${JSON.stringify(grid, null, 2)}\n`);
    writeFileSync(join(dir, `${LOCK_FILE}.999999999.draft`), '{"pid":999999999');
    const error = await asyncRefusal(ResultsStore.open(dir, { grid }));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toMatch(/holds only an unfinished grid\.json/);
    expect(error.hint).toMatch(/--resume/);

    const logs: string[] = [];
    const store = await ResultsStore.open(dir, { grid, resume: true, log: (m) => logs.push(m) });
    store.append(softmaxRecord(0));
    store.close();
    expect(logs.join('\n')).toMatch(/adopted grid\.json\.999999999\.draft as grid\.json: it is complete/);
    expect(logs.join('\n')).toMatch(/removed experiment\.lock\.999999999\.draft/);
    expect(readdirSync(dir).sort()).toEqual([GRID_FILE, RESULTS_FILE]);
    expect(JSON.parse(readFileSync(join(dir, GRID_FILE), 'utf8')).name).toBe('stored');
  });

  it('removes a cut-short grid.json draft and starts the grid afresh, saying so', async () => {
    writeFileSync(join(dir, `${GRID_FILE}.999999999.draft`), JSON.stringify(grid, null, 2).slice(0, 40));
    const logs: string[] = [];
    const store = await ResultsStore.open(dir, { grid, resume: true, log: (m) => logs.push(m) });
    store.close();
    expect(logs.join('\n')).toMatch(/removed grid\.json\.999999999\.draft, left by a session that was stopped: it is not a complete grid/);
    expect(readdirSync(dir).sort()).toEqual([GRID_FILE, RESULTS_FILE]);
  });

  it('removes drafts that a kill left beside a whole grid.json and results.jsonl', async () => {
    await writeRecords(0);
    const before = readFileSync(join(dir, RESULTS_FILE), 'utf8');
    writeFileSync(join(dir, `${GRID_FILE}.999999999.draft`), '{"name": "other"');
    writeFileSync(join(dir, `${RESULTS_FILE}.999999999.draft`), '');
    const logs: string[] = [];
    const again = await ResultsStore.open(dir, { grid, resume: true, log: (m) => logs.push(m) });
    expect(again.records).toHaveLength(1);
    again.close();
    expect(logs.join('\n')).toMatch(/removed results\.jsonl\.999999999\.draft.*intact/);
    expect(logs.join('\n')).toMatch(/removed grid\.json\.999999999\.draft.*grid\.json is in place/);
    expect(readFileSync(join(dir, RESULTS_FILE), 'utf8')).toBe(before);
    expect(readdirSync(dir).sort()).toEqual([GRID_FILE, RESULTS_FILE]);
  });
});

describe('ResultsStore with files it cannot read or that are not its own', () => {
  /** What a refused open must leave as it was: grid.json and results.jsonl byte for byte (or as links), no lock. */
  function snapshot(): string[] {
    return [GRID_FILE, RESULTS_FILE].map((name) => {
      const path = join(dir, name);
      if (!existsSync(path)) return `${name}: absent`;
      const stats = lstatSync(path);
      if (stats.isSymbolicLink()) return `${name}: a link`;
      if (stats.isDirectory()) return `${name}: a directory`;
      return `${name}: ${stats.size} bytes, ${stats.size < 2 ** 20 ? readFileSync(path, 'utf8') : 'large'}`;
    });
  }
  // A grid with a third seed: opening it with --resume would rewrite grid.json.
  const grown = parseGrid({ ...grid, seeds: 3 });

  it('refuses a results.jsonl that is a directory with E_IO naming it, before writing anything', async () => {
    await writeRecords(0);
    rmSync(join(dir, RESULTS_FILE));
    mkdirSync(join(dir, RESULTS_FILE));
    const before = snapshot();
    const error = await asyncRefusal(ResultsStore.open(dir, { grid: grown, resume: true }));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toBe(`cannot read ${join(dir, RESULTS_FILE)}: it is a directory`);
    expect(error.hint).toMatch(/Make it a regular file this user can read/);
    expect(snapshot()).toEqual(before);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    await expect(readResultsDirectory(dir)).rejects.toThrow(`cannot read ${join(dir, RESULTS_FILE)}: it is a directory`);
  });

  it('refuses a results.jsonl too large to read (over 2 GiB) instead of taking it as empty and running every run again', async () => {
    await writeRecords(0, 1);
    // Sparse: the file says 2 GiB and takes no disk space.
    truncateSync(join(dir, RESULTS_FILE), 2 ** 31 + 1);
    const before = snapshot();
    const error = await asyncRefusal(ResultsStore.open(dir, { grid: grown, resume: true }));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toMatch(/^cannot read .*results\.jsonl: File size \(2147483649\) is greater than 2 GiB$/);
    expect(snapshot()).toEqual(before);
    expect(statSync(join(dir, RESULTS_FILE)).size).toBe(2 ** 31 + 1);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses a grid.json it cannot read (here a link to itself) and leaves it in place, not replaced by the new grid', async () => {
    await writeRecords(0);
    rmSync(join(dir, GRID_FILE));
    symlinkSync(GRID_FILE, join(dir, GRID_FILE));
    const before = snapshot();
    const error = await asyncRefusal(ResultsStore.open(dir, { grid: grown, resume: true }));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toMatch(/^cannot read .*grid\.json: ELOOP: too many symbolic links/);
    expect(snapshot()).toEqual(before);
    expect(lstatSync(join(dir, GRID_FILE)).isSymbolicLink()).toBe(true);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('does not take a grid.json it cannot look at (a link loop) for an absent one: no draft is renamed over it', async () => {
    await writeRecords(0);
    rmSync(join(dir, GRID_FILE));
    symlinkSync(GRID_FILE, join(dir, GRID_FILE));
    const draft = `${GRID_FILE}.999999999.draft`;
    writeFileSync(join(dir, draft), JSON.stringify(grid, null, 2));
    const error = await asyncRefusal(ResultsStore.open(dir, { grid, resume: true }));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toMatch(/^cannot read .*grid\.json: ELOOP: too many symbolic links/);
    expect(lstatSync(join(dir, GRID_FILE)).isSymbolicLink()).toBe(true);
    expect(readdirSync(dir).sort()).toEqual([draft, GRID_FILE, RESULTS_FILE].sort());
  });

  it('starts a session or failure line after a line a crash cut short, so that both are not lost', async () => {
    const store = await ResultsStore.open(dir, { grid });
    store.appendSession({ session: 1 });
    store.appendFailure({ key: 'c4/softmax/s0', error: { code: 'E_TRAINING_FAILED', message: 'diverged' }, at: 'then' });
    store.close();
    appendFileSync(join(dir, SESSIONS_FILE), '{"session":2,"sta');
    appendFileSync(join(dir, FAILURES_FILE), '{"key":"c4/soft');

    const again = await ResultsStore.open(dir, { grid, resume: true });
    again.appendSession({ session: 3 });
    again.appendSession({ session: 4 });
    again.appendFailure({ key: 'c4/softmax/s1', error: { code: 'E_TRAINING_FAILED', message: 'diverged' }, at: 'now' });
    again.close();
    expect(readFileSync(join(dir, SESSIONS_FILE), 'utf8')).toBe('{"session":1}\n{"session":2,"sta\n{"session":3}\n{"session":4}\n');
    expect(readFileSync(join(dir, FAILURES_FILE), 'utf8')).toBe(
      '{"key":"c4/softmax/s0","error":{"code":"E_TRAINING_FAILED","message":"diverged"},"at":"then"}\n' +
        '{"key":"c4/soft\n' +
        '{"key":"c4/softmax/s1","error":{"code":"E_TRAINING_FAILED","message":"diverged"},"at":"now"}\n',
    );
  });

  it('refuses a whole last line that is JSON but not a run record (e.g. another format): only a cut line is torn', async () => {
    await writeRecords(0);
    const other = `${JSON.stringify({ ...softmaxRecord(1), format: 2 })}\n`;
    appendFileSync(join(dir, RESULTS_FILE), other);
    const bytes = readFileSync(join(dir, RESULTS_FILE));
    const parsed = refusal(() => parseResults(bytes, 'results.jsonl'));
    expect(parsed.code).toBe(ErrorCode.InvalidInput);
    expect(parsed.message).toBe('results.jsonl line 2 is not a run record: format 2 is not 1');

    const error = await asyncRefusal(ResultsStore.open(dir, { grid, resume: true }));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toMatch(/results\.jsonl line 2 is not a run record: format 2 is not 1$/);
    expect(error.hint).toMatch(/Restore it, or start a new results directory/);
    expect(readFileSync(join(dir, RESULTS_FILE)).equals(bytes)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual([GRID_FILE, RESULTS_FILE]);
    // The same line cut short, or not JSON at all, is still what a crash leaves.
    const first = bytes.subarray(0, bytes.length - Buffer.byteLength(other));
    expect(parseResults(Buffer.concat([first, Buffer.from(other.slice(0, 40))]), 'r').torn?.reason).toMatch(/no line end/);
    expect(parseResults(Buffer.concat([first, Buffer.from(`${other.slice(0, -10)}\n`)]), 'r').torn?.reason).toMatch(/not valid JSON/);
  });

  it('refuses a line longer than it can decode by its length, naming the line, wherever it is', () => {
    expect(MAX_LINE_BYTES).toBe(bufferConstants.MAX_STRING_LENGTH);
    const good = `${JSON.stringify(softmaxRecord(0))}\n`;
    const limit = Buffer.byteLength(good);
    expect(parseResults(Buffer.from(good + good), 'r', limit).records).toHaveLength(1);
    const long = 'é'.repeat(limit);
    for (const [contents, line] of [
      [`${good}${long}\n${good}`, 2],
      [`${good}${long}\n`, 2],
      [`${long}`, 1],
    ] as const) {
      const error = refusal(() => parseResults(Buffer.from(contents), 'results.jsonl', limit - 1));
      expect(error.code).toBe(ErrorCode.InvalidInput);
      expect(error.message).toBe(
        `results.jsonl line ${line} is ${2 * limit} bytes long, more than any run record (at most ${limit - 1} bytes are read as one)`,
      );
    }
  });
});
