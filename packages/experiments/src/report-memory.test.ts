import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGrid } from './grid-expansion.js';
import { parseGrid } from './grid-schema.js';
import { buildReportData } from './report-data.js';
import { buildReportDocument } from './report-document.js';
import { renderMarkdown } from './report-markdown.js';
import { bytesText } from './report-memory.js';
import { buildSummaryDocument } from './report-summary.js';
import { writeReport } from './report-writer.js';
import type { RunMemory, RunRecord } from './run-record.js';
import { gridRecord } from './test-support/fake-record.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const memory = (peak: number, concurrentRuns = 1): RunMemory => ({
  peakResidentBytes: peak,
  startResidentBytes: 100 * MiB,
  concurrentRuns,
  sampleMilliseconds: 100,
});

// Softmax and an HPN at 10 and 100 classes, 2 seeds each.
const raw = {
  name: 'memory',
  seeds: 2,
  datasets: [
    { id: 'c10', label: '10', name: 'blobs', options: { classes: 10 } },
    { id: 'c100', label: '100', name: 'blobs', options: { classes: 100 } },
  ],
  models: [
    { id: 'softmax', head: 'softmax' },
    { id: 'hpn', head: 'hpn', prototypes: { strategy: 'axes', dims: 8 } },
  ],
};
const grid = parseGrid(raw);
const softmax = { id: 'softmax', head: 'softmax' };
const hpn = { id: 'hpn', head: 'hpn', strategy: 'axes', dims: 8 };
// c10/softmax: 1 and 2 GiB, two runs at once; c10/hpn: one seed measured, one from before memory was recorded; no
// record at 100 classes has memory.
// Each with the spec the grid makes for its run, as --resume and the report require.
const specs = new Map(expandGrid(grid).map((run) => [run.key, run.spec as RunRecord['spec']]));
const records: RunRecord[] = [
  gridRecord('c10', softmax, 0, 0.9, { classes: 10, memory: memory(GiB, 2) }),
  gridRecord('c10', softmax, 1, 0.9, { classes: 10, memory: memory(2 * GiB, 2) }),
  gridRecord('c10', hpn, 0, 0.8, { classes: 10, memory: memory(300 * MiB) }),
  gridRecord('c10', hpn, 1, 0.8, { classes: 10 }),
  ...[0, 1].flatMap((seed) => [
    gridRecord('c100', softmax, seed, 0.7, { classes: 100 }),
    gridRecord('c100', hpn, seed, 0.6, { classes: 100 }),
  ]),
].map((record) => ({ ...record, spec: specs.get(record.key)! }));

describe('peak memory in the reports', () => {
  it('shows bytes as MiB below a GiB and as GiB above', () => {
    expect(bytesText(300 * MiB)).toBe('300 MiB');
    expect(bytesText(1023.4 * MiB)).toBe('1023 MiB');
    expect(bytesText(1023.6 * MiB)).toBe('1.00 GiB');
    expect(bytesText(1.5 * GiB)).toBe('1.50 GiB');
  });

  describe('in a study report', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'hyperproto-memory-report-'));
      writeFileSync(join(dir, 'grid.json'), JSON.stringify(raw));
      writeFileSync(join(dir, 'results.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("gives each cell the mean over its seeds' peaks, a dash where no record measured it, and what it measures", async () => {
      const report = await writeReport(dir);
      const markdown = readFileSync(report.markdown, 'utf8');
      const table = markdown.slice(markdown.indexOf('## Peak memory, mean over seeds'), markdown.indexOf('## Where the run time went'));
      expect(table).toContain('| classes | softmax | hpn |');
      // (1 + 2) / 2 GiB; the HPN's one measured seed.
      expect(table).toContain('| 10 | 1.50 GiB | 300 MiB |');
      expect(table).toContain('| 100 | – | – |');
      expect(table).toContain('sampled every 100 ms while it ran');
      expect(table).toContain("with several at once (here up to 2) the peak is the process's, shared with the runs beside it");
      expect(table).toContain('– where no record measured it');

      const cell = (dataset: string, model: string) => report.cells.find((c) => c.dataset === dataset && c.model === model)!;
      expect(cell('c10', 'softmax').peakResidentBytes).toMatchObject({ mean: 1.5 * GiB, n: 2 });
      expect(cell('c10', 'hpn').peakResidentBytes).toEqual({ mean: 300 * MiB, sd: null, n: 1 });
      expect(cell('c100', 'softmax').peakResidentBytes).toBeNull();
    });
  });

  it('leaves the table out of a report none of whose records measured memory', () => {
    const unmeasured = records.map(({ memory: _, ...r }) => r);
    const markdown = renderMarkdown(buildReportDocument(buildReportData(grid, unmeasured)));
    expect(markdown).toContain('## Seconds per epoch');
    expect(markdown).not.toContain('Peak memory');
  });

  it("adds the chosen configurations' peak memory to the results page's tables by dataset, a dash where not measured", () => {
    const study = { name: 'memory', path: 'memory', data: buildReportData(grid, records), gridSource: 'grid.json', readme: false };
    const markdown = renderMarkdown(buildSummaryDocument([study], 'cmd'));
    expect(markdown).not.toContain('The records do not measure memory');
    expect(markdown).toContain('| head | chosen configuration | test macro-F1 | seeds | s / epoch | epochs | s / run | peak memory |');
    expect(markdown).toMatch(/\| softmax \| softmax \(`softmax`; the only one run\) \| 90\.0 ± 0\.0 \| 2 \| .* \| 1\.50 GiB \|/);
    expect(markdown).toMatch(/\| HPN \| hpn axes D=8 \(`hpn`; the only one run\) \| 80\.0 ± 0\.0 \| 2 \| .* \| 300 MiB \|/);
    expect(markdown).toMatch(/\| softmax \| softmax \(`softmax`; the only one run\) \| 70\.0 ± 0\.0 \| 2 \| .* \| – \|/);
    expect(markdown).toContain('Peak memory: the largest resident set of the process a run executed in');
  });

  it('says each run had the process to itself when no run shared it', () => {
    const alone = records.map((r) => (r.memory ? { ...r, memory: { ...r.memory, concurrentRuns: 1 } } : r));
    const study = { name: 'memory', path: 'memory', data: buildReportData(grid, alone), gridSource: 'grid.json', readme: false };
    const markdown = renderMarkdown(buildSummaryDocument([study], 'cmd'));
    expect(markdown).toContain('while it ran, mean over the seeds whose records have it; each run had the process to itself;');
    expect(markdown).not.toContain('shared with the runs beside it');
  });
});
