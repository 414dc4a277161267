import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runGrid } from './grid-runner.js';
import { parseGrid } from './grid-schema.js';
import { buildReportData } from './report-data.js';
import { buildReportDocument } from './report-document.js';
import { parseResults, RESULTS_FILE } from './results-store.js';
import { phaseTotals } from './run-phases.js';
import { fakeGrid } from './test-support/fake-grid.js';
import { softmaxRecord } from './test-support/fake-record.js';

/** The first record of the committed seed results: written before setup, evaluation, geometry and reuse were recorded. */
const committed = readFileSync(fileURLToPath(new URL('../../../docs/results/seed/results.jsonl', import.meta.url)), 'utf8').split('\n')[0]!;

describe('phaseTotals', () => {
  it('sums each stage over the runs, counts what they reused, and puts what no stage covers in other', () => {
    const measured = softmaxRecord(0, {
      seconds: { data: 1, prototypes: 2, setup: 0.5, training: 10, evaluation: 1.5, baseline: 0.25, geometry: 0.75, total: 17 },
      reused: ['dataset', 'baseline'],
    });
    const old = parseResults(Buffer.from(`${committed}\n`), 'results').records[0]!;
    expect(old.seconds).not.toHaveProperty('evaluation');
    const totals = phaseTotals([measured, old]);
    const { data, prototypes, training, baseline = 0, total } = old.seconds;
    expect(totals.runs).toBe(2);
    expect(totals.seconds.training).toBeCloseTo(10 + training, 9);
    expect(totals.seconds.data).toBeCloseTo(1 + data, 9);
    expect(totals.seconds.evaluation).toBe(1.5);
    expect(totals.seconds.geometry).toBe(0.75);
    // 17 - 16 = 1 second of the measured run, and whatever the older record's four stages leave of its total.
    expect(totals.seconds.other).toBeCloseTo(1 + (total - data - prototypes - training - baseline), 9);
    expect(totals.seconds.total).toBeCloseTo(17 + total, 9);
    expect(totals.reused).toEqual({ dataset: 1, baseline: 1 });
  });

  it("fill the report's table of where the run time went, per dataset and in all", () => {
    const grid = parseGrid(fakeGrid('phases', 1));
    const record = (dataset: string, reused?: ('dataset' | 'baseline')[]) =>
      softmaxRecord(0, {
        key: `${dataset}/softmax/s0`,
        dataset,
        classes: Number(dataset.slice(1)),
        seconds: { data: 3, prototypes: 0, setup: 1, training: 4, evaluation: 1, baseline: 0.5, geometry: 0.5, total: 10 },
        ...(reused ? { reused } : {}),
      });
    const document = buildReportDocument(buildReportData(grid, [record('c4', ['dataset']), record('c8')]));
    const heading = document.blocks.findIndex((b) => b.kind === 'heading' && b.text === 'Where the run time went');
    const table = document.blocks[heading + 1]!;
    expect(table.kind === 'table' && table.rows).toEqual([
      ['4', '1', '3.0 (30 %)', '0.0 (0 %)', '1.0 (10 %)', '4.0 (40 %)', '1.0 (10 %)', '1.0 (10 %)', '0.0 (0 %)', '10.0', '1 / 0 of 1'],
      ['8', '1', '3.0 (30 %)', '0.0 (0 %)', '1.0 (10 %)', '4.0 (40 %)', '1.0 (10 %)', '1.0 (10 %)', '0.0 (0 %)', '10.0', '0 / 0 of 1'],
      ['all', '2', '6.0 (30 %)', '0.0 (0 %)', '2.0 (10 %)', '8.0 (40 %)', '2.0 (10 %)', '2.0 (10 %)', '0.0 (0 %)', '20.0', '1 / 0 of 2'],
    ]);
  });
});

describe('records written before the stages were timed', () => {
  let out: string;
  beforeEach(() => {
    out = join(mkdtempSync(join(tmpdir(), 'hyperproto-phases-')), 'results');
  });
  afterEach(() => rmSync(join(out, '..'), { recursive: true, force: true }));

  it('count as finished on --resume: the new fields are timings, not part of what a run is', async () => {
    const registryModule = fileURLToPath(new URL('./test-support/fake-registry.ts', import.meta.url));
    const grid = parseGrid(fakeGrid('older', 1));
    const first = await runGrid({ grid, out, registryModule, inline: true, workers: 1 });
    expect(first.ran).toBe(4);
    expect(first.phases.runs).toBe(4);
    const file = join(out, RESULTS_FILE);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    // As an older hyperproto wrote them: no setup, evaluation or geometry seconds, no reused inputs.
    const older = lines.map((line) => {
      const { reused: _reused, ...record } = JSON.parse(line);
      const { setup: _s, evaluation: _e, geometry: _g, ...seconds } = record.seconds;
      return JSON.stringify({ ...record, seconds });
    });
    expect(older.join('\n')).not.toMatch(/"(setup|evaluation|geometry|reused)"/);
    writeFileSync(file, `${older.join('\n')}\n`);
    const resumed = await runGrid({ grid, out, registryModule, inline: true, workers: 1, resume: true });
    expect(resumed).toMatchObject({ ran: 0, skipped: 4, failed: [] });
    expect(resumed.phases).toMatchObject({ runs: 0, reused: {} });
    expect(parseResults(readFileSync(file), 'results').records).toHaveLength(4);
  });
});
