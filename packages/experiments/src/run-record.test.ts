import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runGrid } from './grid-runner.js';
import { parseGrid } from './grid-schema.js';
import { parseResults, RESULTS_FILE } from './results-store.js';
import { recordProblem } from './run-record.js';
import { softmaxRecord } from './test-support/fake-record.js';

const registryModule = fileURLToPath(new URL('./test-support/fake-registry.ts', import.meta.url));

let out: string;
beforeEach(() => {
  out = join(mkdtempSync(join(tmpdir(), 'hyperproto-record-')), 'results');
});
afterEach(() => {
  rmSync(join(out, '..'), { recursive: true, force: true });
});

describe('the prototype geometry in every record', () => {
  it('is measured for each run with prototypes, stored as plain JSON, and null for a head without them', async () => {
    // `axes` makes the rows +e0, -e0, +e1, -e1, ...: with 8 classes in 4 dimensions every axis is used twice
    // (P^T P = 2 I: singular values sqrt(2), effective rank 4, condition 1), with 4 classes only two axes are.
    const grid = parseGrid({
      name: 'geometry',
      seeds: [0],
      datasets: [{ id: 'c8', name: 'blobs', options: { classes: 8 } }],
      models: [
        { id: 'softmax', head: 'softmax' },
        { id: 'axes-4', head: 'hpn', prototypes: { strategy: 'axes', dims: 4 } },
      ],
    });
    await runGrid({ grid, out, registryModule, inline: true, workers: 1 });
    const four = parseGrid({ ...grid, datasets: [{ id: 'c4', name: 'blobs', options: { classes: 4 } }], models: [grid.models[1]!] });
    await runGrid({ grid: four, out: `${out}-c4`, registryModule, inline: true, workers: 1 });
    const records = [out, `${out}-c4`].flatMap((dir) => parseResults(readFileSync(join(dir, RESULTS_FILE)), 'results').records);
    const byKey = new Map(records.map((r) => [r.key, r]));

    expect(byKey.get('c8/softmax/s0')!.prototypeGeometry).toBeNull();
    const full = byKey.get('c8/axes-4/s0')!.prototypeGeometry!;
    expect(full).toMatchObject({ classes: 8, dims: 4, largestNearestCosine: 0, meanNearestCosine: 0, notes: [] });
    expect(full.largestSingularValue).toBeCloseTo(Math.SQRT2, 12);
    expect(full.smallestSingularValue).toBeCloseTo(Math.SQRT2, 12);
    expect(full.effectiveRank).toBeCloseTo(4, 10);
    expect(full.condition).toBeCloseTo(1, 10);

    const half = byKey.get('c4/axes-4/s0')!.prototypeGeometry!;
    expect(half).toMatchObject({ classes: 4, dims: 4, smallestSingularValue: 0, condition: null });
    expect(half.effectiveRank).toBeCloseTo(2, 10);
    expect(half.notes).toEqual(['condition infinite: the rows span 2 of 4 dimensions (smallest singular value 0)']);
  });
});

describe('the per-epoch scores in every record', () => {
  it("carries a traced run's test scores per epoch, and reads records written before they existed", async () => {
    const grid = parseGrid({
      name: 'trace',
      seeds: [0],
      datasets: [{ id: 'c4', name: 'blobs', options: { classes: 4 } }],
      models: [
        { id: 'softmax', head: 'softmax' },
        { id: 'softmax-traced', head: 'softmax', trainer: { traceTest: true } },
      ],
    });
    await runGrid({ grid, out, registryModule, inline: true, workers: 1 });
    const { records } = parseResults(readFileSync(join(out, RESULTS_FILE)), 'results');
    const byKey = new Map(records.map((r) => [r.key, r]));
    const traced = byKey.get('c4/softmax-traced/s0')!;
    expect(traced.spec.trainer.traceTest).toBe(true);
    expect(traced.history.map((e) => [e.epoch, e.testLoss, e.testMacroF1])).toEqual([
      [1, 2, 0.35 + 1 / 6],
      [2, 1, 0.35 + 2 / 6],
      [3, 2 / 3, 0.35 + 3 / 6],
    ]);
    const plain = byKey.get('c4/softmax/s0')!;
    expect(plain.history.every((e) => e.testMacroF1 === undefined && typeof e.validationMacroF1 === 'number')).toBe(true);
    expect('traceTest' in plain.spec.trainer).toBe(false);

    // A record of the first collapse chunk, written before the per-epoch macro-F1 and the test trace existed.
    const committed = fileURLToPath(new URL('../../../docs/results/collapse/results.jsonl', import.meta.url));
    const firstLine = readFileSync(committed, 'utf8').split('\n')[0]!;
    const old = parseResults(Buffer.from(`${firstLine}\n`), 'results');
    expect(old.torn).toBeUndefined();
    expect(old.records).toHaveLength(1);
    expect(old.records[0]!.history[0]).not.toHaveProperty('validationMacroF1');
  });
});

describe('the key of a record', () => {
  it("must be its own dataset, model and seed's: a record naming another run is refused, and a results file names the line", () => {
    const record = JSON.parse(JSON.stringify(softmaxRecord(1))) as Record<string, unknown>;
    expect(recordProblem(record)).toBeUndefined();
    expect(recordProblem({ ...record, key: '' })).toBe(`"key" "" is not "${record.key}", the key of its dataset, model and seed`);
    expect(recordProblem({ ...record, seed: 2 })).toMatch(/^"key" ".*\/s1" is not ".*\/s2", the key of its dataset, model and seed$/);
    const lines = [{ ...record, key: 'c4/softmax/s0' }, softmaxRecord(2)];
    expect(() => parseResults(Buffer.from(lines.map((r) => `${JSON.stringify(r)}\n`).join('')), 'results.jsonl')).toThrow(
      'results.jsonl line 1 is not a run record: "key" "c4/softmax/s0" is not',
    );
  });
});

describe('the memory in a record', () => {
  const memory = { peakResidentBytes: 3 * 2 ** 30, startResidentBytes: 2 ** 30, concurrentRuns: 2, sampleMilliseconds: 100 };
  const stored = (record: object) => JSON.parse(JSON.stringify(record)) as unknown;

  it('is optional: a record without it (written before it was measured, or run inline) is valid, as is one with it', () => {
    const old = softmaxRecord(0);
    expect(old).not.toHaveProperty('memory');
    expect(recordProblem(stored(old))).toBeUndefined();
    expect(recordProblem(stored({ ...old, memory }))).toBeUndefined();
  });

  it('is refused when malformed, naming the field, and a results file with such a line names the line', () => {
    const record = softmaxRecord(0);
    expect(recordProblem(stored({ ...record, memory: null }))).toBe('"memory" is not an object');
    expect(recordProblem(stored({ ...record, memory: [memory] }))).toBe('"memory" is not an object');
    expect(recordProblem(stored({ ...record, memory: 3 * 2 ** 30 }))).toBe('"memory" is not an object');
    expect(recordProblem(stored({ ...record, memory: { ...memory, peakResidentBytes: '3 GiB' } }))).toBe(
      '"memory.peakResidentBytes" is not a number',
    );
    expect(recordProblem(stored({ ...record, memory: { peakResidentBytes: 1, startResidentBytes: 1, sampleMilliseconds: 100 } }))).toBe(
      '"memory.concurrentRuns" is not a number',
    );
    const lines = [{ ...record, memory: { ...memory, sampleMilliseconds: null } }, softmaxRecord(1)];
    expect(() => parseResults(Buffer.from(lines.map((r) => `${JSON.stringify(r)}\n`).join('')), 'results.jsonl')).toThrow(
      'results.jsonl line 1 is not a run record: "memory.sampleMilliseconds" is not a number',
    );
  });
});

describe('the fields of a record', () => {
  const stored = (record: object) => JSON.parse(JSON.stringify(record)) as Record<string, unknown>;
  const epoch = { epoch: 1, trainLoss: 1, validationLoss: 1, validationAccuracy: 0.5, seconds: 0.1 };

  it('are checked by one set of rules: a list where an object belongs is refused, at the top as below it', () => {
    const record = stored(softmaxRecord(0));
    for (const field of ['spec', 'metrics', 'engine', 'versions', 'seconds', 'data'])
      expect(recordProblem({ ...record, [field]: [] })).toBe(`"${field}" is not an object`);
    expect(recordProblem({ ...record, history: {} })).toBe('"history" is not a list');
    expect(recordProblem({ ...record, reused: ['dataset', 3] })).toBe('"reused.1" is not a string');
    expect(recordProblem({ ...record, head: 7 })).toBe('"head" is not a string');
  });

  it("take null for an epoch's traced scores and times, which JSON writes for a number that overflowed", () => {
    const record = stored(softmaxRecord(0));
    const traced = { ...epoch, validationMacroF1: null, testLoss: null, testAccuracy: null, testMacroF1: null, testSeconds: null };
    expect(recordProblem(stored({ ...record, history: [traced] }))).toBeUndefined();
    expect(recordProblem(stored({ ...record, history: [{ ...epoch, testLoss: Number.POSITIVE_INFINITY }] }))).toBeUndefined();
    expect(recordProblem(stored({ ...record, history: [{ ...epoch, testLoss: '1' }] }))).toBe(
      '"history.0.testLoss" is not a number or null',
    );
    // The training's own numbers are computed with: no null there.
    expect(recordProblem(stored({ ...record, history: [{ ...epoch, trainLoss: Number.NaN }] }))).toBe(
      '"history.0.trainLoss" is not a number',
    );
  });
});

describe('the committed records', () => {
  it('all pass the record check, nested fields included: every results directory under docs/results', () => {
    const results = fileURLToPath(new URL('../../../docs/results', import.meta.url));
    // A results directory has a grid.json; other folders there hold notes or files of another kind.
    const dirs = readdirSync(results).filter((name) => existsSync(join(results, name, 'grid.json')));
    expect(dirs).toEqual(expect.arrayContaining(['seed', 'collapse', 'many-classes', 'capacity']));
    let checked = 0;
    for (const dir of dirs) {
      const lines = readFileSync(join(results, dir, RESULTS_FILE), 'utf8')
        .split('\n')
        .filter(Boolean);
      for (const [i, line] of lines.entries()) {
        expect({ at: `${dir} line ${i + 1}`, problem: recordProblem(JSON.parse(line)) }).toEqual({
          at: `${dir} line ${i + 1}`,
          problem: undefined,
        });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(600);
  });
});
