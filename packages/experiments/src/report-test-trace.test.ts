import { describe, expect, it } from 'vitest';
import { parseGrid } from './grid-schema.js';
import { buildReportData } from './report-data.js';
import { buildReportDocument } from './report-document.js';
import { renderMarkdown } from './report-markdown.js';
import { tracedCells, tracedRun, testTracePlots } from './report-test-trace.js';
import { gridRecord as anyRecord } from './test-support/fake-record.js';

const gridRecord = (...[dataset, model, seed, f1, changes]: Parameters<typeof anyRecord>) =>
  anyRecord(dataset, model, seed, f1, { classes: 8, ...changes });

const grid = parseGrid({
  name: 'stopping',
  seeds: 2,
  datasets: [{ id: 'c8', label: 'blobs 8', name: 'blobs', options: { classes: 8 } }],
  models: [
    // Another width: not the early-stopped twin of hpn-e6.
    { id: 'hpn-wide-es', head: 'hpn', prototypes: { strategy: 'axes', dims: 4 }, trainer: { hiddenUnits: 16, patience: 2 } },
    { id: 'hpn-es', head: 'hpn', prototypes: { strategy: 'axes', dims: 4 }, trainer: { hiddenUnits: 8, patience: 2 } },
    { id: 'hpn-e6', head: 'hpn', prototypes: { strategy: 'axes', dims: 4 }, trainer: { hiddenUnits: 8, patience: 6, traceTest: true } },
    { id: 'softmax-e6', head: 'softmax', trainer: { patience: 6, traceTest: true }, seeds: [0] },
  ],
});
const hpnE6 = { id: 'hpn-e6', head: 'hpn', strategy: 'axes', dims: 4 };
const softmaxE6 = { id: 'softmax-e6', head: 'softmax' };
const hpnEs = { id: 'hpn-es', head: 'hpn', strategy: 'axes', dims: 4 };
// Each traced run keeps its best validation epoch; its test score there is the record's test macro-F1.
const traced = [
  gridRecord('c8', hpnE6, 0, 0.6, {
    bestEpoch: 2,
    curves: { validationMacroF1: [0.5, 0.7, 0.6, 0.65, 0.6, 0.55], testMacroF1: [0.45, 0.6, 0.62, 0.7, 0.5, 0.48] },
  }),
  gridRecord('c8', hpnE6, 1, 0.75, {
    bestEpoch: 3,
    curves: { validationMacroF1: [0.5, 0.6, 0.8, 0.7, 0.7, 0.7], testMacroF1: [0.4, 0.5, 0.75, 0.8, 0.78, 0.79] },
  }),
  gridRecord('c8', softmaxE6, 0, 0.6, { bestEpoch: 3, curves: { validationMacroF1: [0.5, 0.6, 0.7], testMacroF1: [0.5, 0.625, 0.6] } }),
];
const earlyStopped = [
  gridRecord('c8', hpnEs, 0, 0.6, { bestEpoch: 2, curves: { validationMacroF1: [0.5, 0.7, 0.6] } }),
  gridRecord('c8', hpnEs, 1, 0.7, { bestEpoch: 3, curves: { validationMacroF1: [0.5, 0.6, 0.8] } }),
];
const data = buildReportData(grid, [...traced, ...earlyStopped]);

describe('the test trace in the report', () => {
  it("reads a run's test macro-F1 at its kept, last and best test epoch from its history", () => {
    const run = tracedRun(traced[0]!)!;
    expect(run.kept).toBeCloseTo(60, 10);
    expect(run.last).toBeCloseTo(48, 10);
    expect(run.lastEpoch).toBe(6);
    expect(run.max).toBeCloseTo(70, 10);
    expect(run.maxEpoch).toBe(4);
    expect(tracedRun(earlyStopped[0]!)).toBeUndefined();
  });

  it('summarizes each traced cell over its seeds, beside the same model stopped early', () => {
    const cells = tracedCells(data);
    expect(cells.map((c) => [c.model.id, c.records.length, c.twin?.model.id, c.twin?.patience])).toEqual([
      ['hpn-e6', 2, 'hpn-es', 2],
      ['softmax-e6', 1, undefined, undefined],
    ]);
    const [hpn] = cells;
    expect(hpn!.kept.mean).toBeCloseTo(67.5, 10);
    expect(hpn!.last.mean).toBeCloseTo(63.5, 10);
    expect(hpn!.max.mean).toBeCloseTo(75, 10);
    expect(hpn!.maxEpoch.mean).toBe(4);
    expect(hpn!.keptEpoch.mean).toBe(2.5);
    expect(hpn!.twin!.macroF1!.mean).toBeCloseTo(65, 10);
  });

  it('plots validation (solid) and test (dashed) macro-F1 per epoch for each dataset and head', () => {
    const plots = testTracePlots(data);
    expect(plots.map((p) => p.file)).toEqual(['test-trace-c8-hpn.svg', 'test-trace-c8-softmax.svg']);
    const [validation, test] = plots[0]!.chart.series;
    expect([validation!.label, validation!.dash, test!.label, test!.dash]).toEqual([
      'hpn-e6: hpn axes D=4 [hiddenUnits=8, patience=6, traceTest=true]: validation',
      undefined,
      'hpn-e6: hpn axes D=4 [hiddenUnits=8, patience=6, traceTest=true]: test',
      '5 3',
    ]);
    // Epoch 4: test 0.7 and 0.8 over the two seeds; the dot sits at the mean kept epoch (2.5, drawn at 3).
    expect(test!.points[3]!.y).toBeCloseTo(75, 10);
    expect(test!.highlight![0]!.x).toBe(3);
    expect(test!.highlight![0]!.y).toBeCloseTo(68.5, 10);
    expect(plots[0]!.svg).toMatch(/^<svg/);
  });

  it('writes the stopping table and its summary, computed from the records, into the report', () => {
    const document = buildReportDocument(data);
    const markdown = renderMarkdown(document);
    expect(markdown).toContain('## Stopping: validation and test macro-F1 per epoch');
    expect(markdown).toContain(
      '| blobs 8 | hpn-e6 | 2 | 3 | 67.5 ± 10.6 | 63.5 ± 21.9 (6) | 75.0 ± 7.1 (4) | 65.0 ± 7.1 (3, patience 2) |',
    );
    expect(markdown).toContain('| blobs 8 | softmax-e6 | 1 | 3 | 60.0 | 60.0 (3) | 62.5 (2) | – |');
    expect(markdown).toContain(
      "Over the 2 traced cells, the kept epoch's test macro-F1 is on average −5.0 points from the best test epoch's and +2.0 from the last epoch's; against the same model stopped early (1 cell), +2.5 points.",
    );
    expect(markdown).toContain('![Validation and test macro-F1 per epoch, blobs 8 (8 classes), hpn](plots/test-trace-c8-hpn.svg)');
    expect(document.plots.map((p) => p.file)).toContain('test-trace-c8-softmax.svg');
    const untraced = buildReportData(grid, earlyStopped);
    expect(renderMarkdown(buildReportDocument(untraced))).not.toContain('## Stopping');
  });
});
