// Generated results.jsonl contents: the store loads the valid records or refuses with E_INVALID_INPUT, never raw.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { parseGrid } from './grid-schema.js';
import { parseResults, RESULTS_FILE, ResultsStore } from './results-store.js';
import { RECORD_FORMAT, recordProblem, type RunRecord } from './run-record.js';
import { fakeGrid } from './test-support/fake-grid.js';
import { softmaxRecord } from './test-support/fake-record.js';

// A few hundred cases by default; HYPERPROTO_FUZZ_RUNS raises it (e.g. for a nightly run).
const numRuns = Number(process.env.HYPERPROTO_FUZZ_RUNS) || 300;

const grid = parseGrid(fakeGrid('fuzzed', 3, { classes: [4], axesDims: [] }));

/** One line of the file (without its line end: text, or raw bytes), and whether it is a whole record. */
type Line = { readonly text: string | Buffer; readonly valid: boolean };

const wholeRecord = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 9 })).map(
  ([seed, minute]): Line => ({
    text: JSON.stringify(softmaxRecord(seed, { finishedAt: `2026-01-01T00:0${minute}:00.000Z` })),
    valid: true,
  }),
);
const noNewline = (text: string) => !text.includes('\n');
const line: fc.Arbitrary<Line> = fc.oneof(
  { arbitrary: wholeRecord, weight: 6 },
  // A write cut short: a proper prefix of a record.
  {
    arbitrary: fc.tuple(wholeRecord, fc.nat()).map(([r, cut]) => ({ text: String(r.text).slice(0, cut % r.text.length), valid: false })),
    weight: 2,
  },
  // Records of another format, or missing a field.
  {
    arbitrary: fc
      .tuple(wholeRecord, fc.constantFrom('format', 'key', 'history', 'metrics', 'seed'), fc.jsonValue())
      .map(([r, field, value]) => {
        const changed = { ...JSON.parse(String(r.text)), [field]: field === 'format' && value === RECORD_FORMAT ? 2 : value };
        return { text: JSON.stringify(changed), valid: recordProblem(changed) === undefined };
      }),
    weight: 2,
  },
  { arbitrary: fc.jsonValue().map((value) => ({ text: JSON.stringify(value) ?? 'null', valid: false })), weight: 1 },
  {
    arbitrary: fc
      .string({ unit: 'binary', maxLength: 60 })
      .filter(noNewline)
      .map((text) => ({ text, valid: false })),
    weight: 1,
  },
  {
    arbitrary: fc.uint8Array({ maxLength: 40 }).map((bytes) => ({ text: Buffer.from(bytes.filter((b) => b !== 0x0a)), valid: false })),
    weight: 1,
  },
);
const file = fc.record({ lines: fc.array(line, { maxLength: 8 }), lineEnd: fc.boolean() });

function contents({ lines, lineEnd }: { lines: readonly Line[]; lineEnd: boolean }): Buffer {
  const buffer = Buffer.concat(
    lines.map((l) => Buffer.concat([typeof l.text === 'string' ? Buffer.from(l.text) : l.text, Buffer.from('\n')])),
  );
  return lineEnd || buffer.length === 0 ? buffer : buffer.subarray(0, buffer.length - 1);
}

/** Whether the line parses as JSON: a cut line (no line end) or garbage in its place does not. */
function isJson(l: Line): boolean {
  try {
    JSON.parse(String(l.text));
    return true;
  } catch {
    return false;
  }
}

/**
 * What the file must give: the first whole record of each run before the first bad line, if only the last is bad
 * and is cut short (no line end) or not JSON.
 */
function expected(f: { lines: readonly Line[]; lineEnd: boolean }) {
  // An empty last line without its line end is no line at all.
  const vanishes = !f.lineEnd && f.lines.length > 0 && f.lines.at(-1)!.text.length === 0;
  const lines = vanishes ? f.lines.slice(0, -1) : f.lines;
  const lineEnd = f.lineEnd || vanishes;
  const bad = lines.findIndex((l, i) => !l.valid || (i === lines.length - 1 && !lineEnd));
  if (bad !== -1 && bad < lines.length - 1) return { refusedAt: bad + 1 };
  // A whole last line that is JSON but no record was not cut by a crash: refused like any other.
  if (bad !== -1 && lineEnd && isJson(lines[bad]!)) return { refusedAt: bad + 1 };
  const whole = (bad === -1 ? lines : lines.slice(0, bad)).map((l) => JSON.parse(String(l.text)) as RunRecord);
  const first = whole.filter((r, i) => whole.findIndex((o) => o.key === r.key) === i);
  return { records: first, duplicates: whole.length - first.length, torn: bad !== -1 };
}

function expectRefusal(error: unknown, line: number): void {
  expect(error).toBeInstanceOf(HyperprotoError);
  expect(error).toMatchObject({ code: ErrorCode.InvalidInput });
  expect((error as Error).message).toMatch(new RegExp(`line ${line} is not a run record`));
}

describe('results.jsonl with generated contents', () => {
  it('parseResults gives the first whole record of each run, or refuses naming the bad line', () => {
    fc.assert(
      fc.property(file, (f) => {
        const want = expected(f);
        try {
          const got = parseResults(contents(f), 'results.jsonl');
          expect(want.refusedAt).toBeUndefined();
          expect(got.records).toEqual(want.records);
          expect(got.duplicates).toHaveLength(want.duplicates!);
          expect(Boolean(got.torn)).toBe(want.torn);
        } catch (error) {
          if (want.refusedAt === undefined) throw error;
          expectRefusal(error, want.refusedAt);
        }
      }),
      { numRuns },
    );
  });

  it('parseResults never throws a raw error for any bytes, nor for a record file cut or overwritten anywhere', () => {
    const valid = contents({
      lines: [0, 1, 2, 0].map((seed) => ({ text: JSON.stringify(softmaxRecord(seed, { finishedAt: 'x' })), valid: true })),
      lineEnd: true,
    });
    const damaged = fc.oneof(
      fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes)),
      fc.nat().map((cut) => valid.subarray(0, cut % valid.length)),
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
        const copy = Buffer.from(valid);
        copy[at % copy.length] = byte;
        return copy;
      }),
    );
    fc.assert(
      fc.property(damaged, (bytes) => {
        try {
          const got = parseResults(bytes, 'results.jsonl');
          for (const r of got.records) expect(recordProblem(r)).toBeUndefined();
          expect(new Set(got.records.map((r) => r.key)).size).toBe(got.records.length);
        } catch (error) {
          expect(error).toBeInstanceOf(HyperprotoError);
          expect(error).toMatchObject({ code: ErrorCode.InvalidInput });
        }
      }),
      { numRuns },
    );
  });

  describe('--resume on the file', () => {
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), 'hyperproto-store-fuzz-'));
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    let n = 0;

    it('keeps every first record, leaves a clean file, or refuses and changes nothing', async () => {
      await fc.assert(
        fc.asyncProperty(file, async (f) => {
          const dir = join(root, String(n++));
          (await ResultsStore.open(dir, { grid })).close();
          const bytes = contents(f);
          writeFileSync(join(dir, RESULTS_FILE), bytes);
          const want = expected(f);
          let store: ResultsStore;
          try {
            store = await ResultsStore.open(dir, { grid, resume: true });
          } catch (error) {
            if (want.refusedAt === undefined) throw error;
            expectRefusal(error, want.refusedAt);
            expect(readFileSync(join(dir, RESULTS_FILE)).equals(bytes)).toBe(true);
            return;
          }
          store.close();
          expect(want.refusedAt).toBeUndefined();
          expect(store.records).toEqual(want.records);
          // What is left is exactly the kept records, one whole line each.
          const after = parseResults(readFileSync(join(dir, RESULTS_FILE)), 'results.jsonl');
          expect(after).toEqual({ records: want.records, torn: undefined, duplicates: [] });
          rmSync(dir, { recursive: true, force: true });
        }),
        { numRuns: Math.max(50, Math.floor(numRuns / 3)) },
      );
    });
  });
});
