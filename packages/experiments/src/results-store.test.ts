import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { parseGrid } from './grid-schema.js';
import { LOCK_FILE } from './results-lock.js';
import { GRID_FILE, parseResults, readResultsDirectory, ResultsStore, RESULTS_FILE } from './results-store.js';
import { fakeGrid } from './test-support/fake-grid.js';
import { softmaxRecord } from './test-support/fake-record.js';
import { asyncRefusal } from './test-support/refusal.js';

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
