import { describe, expect, it } from 'vitest';
import { parseGrid } from './grid-schema.js';
import { buildReportData } from './report-data.js';
import { buildReportDocument } from './report-document.js';
import { againstClassCountPlot, classCountLanes } from './report-plots.js';
import { softmaxRecord } from './test-support/fake-record.js';

/** 10 and 100 classes, and a second 100-class dataset with more data; softmax and an HPN of hidden width 1000. */
const grid = parseGrid({
  name: 'classes',
  seeds: 2,
  datasets: [
    { id: 'c10', label: '10', name: 'blobs', options: { classes: 10 } },
    { id: 'c100', label: '100', name: 'blobs', options: { classes: 100 } },
    { id: 'c100-big', label: '100 big', name: 'blobs', options: { classes: 100, perClass: 8 } },
  ],
  models: [
    { id: 'softmax', head: 'softmax' },
    { id: 'wide', head: 'hpn', prototypes: { strategy: 'axes', dims: 64 }, trainer: { hiddenUnits: 1000 } },
  ],
});

const classesOf: Record<string, number> = { c10: 10, c100: 100, 'c100-big': 100 };
/** macro-F1 (fraction) by cell for seeds 0 and 1; seconds per epoch = classes / 100 + seed / 10 (softmax), x 2 (wide). */
const scores: Record<string, [number, number]> = {
  'c10/softmax': [0.9, 0.8],
  'c100/softmax': [0.7, 0.5],
  'c100-big/softmax': [0.8, 0.8],
  'c10/wide': [0.6, 0.6],
  'c100/wide': [0.3, 0.1],
  'c100-big/wide': [0.4, 0.2],
};
const records = Object.entries(scores).flatMap(([cell, perSeed]) => {
  const [dataset, model] = cell.split('/') as [string, string];
  return perSeed.map((f1, seed) =>
    softmaxRecord(seed, {
      key: `${cell}/s${seed}`,
      dataset,
      model,
      classes: classesOf[dataset]!,
      head: model === 'softmax' ? 'softmax' : 'hpn',
      metrics: { accuracy: f1, macroF1: f1, bayes: null },
      secondsPerEpoch: (classesOf[dataset]! / 100 + seed / 10) * (model === 'wide' ? 2 : 1),
    }),
  );
});

describe('plots against the number of classes', () => {
  const data = buildReportData(grid, records);

  it('joins the datasets into lanes: the k-th dataset of each class count', () => {
    expect(classCountLanes(data).map((lane) => lane.map((d) => d.id))).toEqual([['c10', 'c100'], ['c100-big']]);
  });

  it('draws test macro-F1 against the class count, one line per model and lane, with ± sd', () => {
    const plot = againstClassCountPlot(data, 'macroF1')!;
    expect(plot.file).toBe('f1-vs-classes.svg');
    expect(plot.chart.xLog).toBe(true);
    expect(plot.chart.xTicks).toEqual([10, 100]);
    const byLabel = Object.fromEntries(plot.chart.series.map((s) => [s.label, s.points]));
    expect(Object.keys(byLabel)).toEqual([
      'softmax (10, 100)',
      'softmax (100 big)',
      'wide: hpn axes D=64 [hiddenUnits=1000] (10, 100)',
      'wide: hpn axes D=64 [hiddenUnits=1000] (100 big)',
    ]);
    const line = byLabel['softmax (10, 100)']!;
    expect(line.map((p) => p.x)).toEqual([10, 100]);
    expect(line[0]!.y).toBeCloseTo(85, 10);
    expect(line[1]!.y).toBeCloseTo(60, 10);
    // Seeds 70 and 50: sd 14.14.
    expect(line[1]!.high! - line[1]!.y).toBeCloseTo(Math.SQRT2 * 10, 6);
    expect(byLabel['wide: hpn axes D=64 [hiddenUnits=1000] (100 big)']!).toEqual([
      { x: 100, y: expect.closeTo(30, 10), low: expect.any(Number), high: expect.any(Number) },
    ]);
    expect(plot.svg).toContain('wide: hpn axes D=64 [hiddenUnits=1000] (10, 100)');
  });

  it('draws seconds per epoch against the class count', () => {
    const plot = againstClassCountPlot(data, 'secondsPerEpoch')!;
    expect(plot.file).toBe('seconds-per-epoch-vs-classes.svg');
    const wide = plot.chart.series.find((s) => s.label === 'wide: hpn axes D=64 [hiddenUnits=1000] (10, 100)')!;
    // (0.1 + 0.2) / 2 x 2 and (1 + 1.1) / 2 x 2.
    expect(wide.points.map((p) => p.y)).toEqual([expect.closeTo(0.3, 10), expect.closeTo(2.1, 10)]);
  });

  it('adds both plots and their section to the report', () => {
    const document = buildReportDocument(data);
    expect(document.plots.map((p) => p.file)).toEqual(expect.arrayContaining(['f1-vs-classes.svg', 'seconds-per-epoch-vs-classes.svg']));
    expect(JSON.stringify(document.blocks)).toContain('Against the number of classes');
  });

  it('leaves them out when the records span one class count', () => {
    const one = buildReportData(
      grid,
      records.filter((r) => r.classes === 100),
    );
    expect(classCountLanes(one)).toEqual([]);
    expect(againstClassCountPlot(one, 'macroF1')).toBeUndefined();
    expect(buildReportDocument(one).plots.map((p) => p.file)).not.toContain('f1-vs-classes.svg');
  });
});
