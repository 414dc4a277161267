import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { headRef } from './grid-expansion.js';
import { loadPreset } from './grid-files.js';
import { parseGrid, type Grid } from './grid-schema.js';
import { buildReportData, curveOverSeeds } from './report-data.js';
import { buildReportDocument } from './report-document.js';
import { renderMarkdown } from './report-markdown.js';
import type { ReportPlot } from './report-plots.js';
import { writeReport } from './report-writer.js';
import { RECORD_FORMAT, type RunRecord } from './run-record.js';

const SEED_RESULTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'results', 'seed');

interface Fake {
  macroF1: number;
  /** Validation accuracy per epoch (fractions); the loss is 1 - accuracy. */
  curve?: number[];
  bestEpoch?: number;
  bayes?: number | null;
  /** Absent: a record written before the baseline existed. */
  classMean?: number;
}

function fakeRecord(grid: Grid, dataset: string, model: string, seed: number, fake: Fake): RunRecord {
  const entry = grid.models.find((m) => m.id === model)!;
  const curve = fake.curve ?? [0.5, 0.6, fake.macroF1];
  const classes = Number(grid.datasets.find((d) => d.id === dataset)!.options.classes ?? 10);
  return {
    format: RECORD_FORMAT,
    key: `${dataset}/${model}/s${seed}`,
    dataset,
    model,
    seed,
    classes,
    head: headRef(entry).name,
    prototypes: entry.prototypes ? { strategy: entry.prototypes.strategy, dims: entry.prototypes.dims } : null,
    spec: { seed, trainer: {} } as unknown as RunRecord['spec'],
    metrics: {
      accuracy: fake.macroF1,
      macroF1: fake.macroF1,
      bayes: fake.bayes === null ? null : { accuracy: fake.bayes ?? 0.95, macroF1: fake.bayes ?? 0.95 },
      ...(fake.classMean !== undefined ? { classMean: { accuracy: fake.classMean, macroF1: fake.classMean } } : {}),
    },
    bestEpoch: fake.bestEpoch ?? curve.length,
    epochs: curve.length,
    secondsPerEpoch: 0.1,
    history: curve.map((accuracy, i) => ({
      epoch: i + 1,
      trainLoss: 1 - accuracy,
      validationLoss: 1 - accuracy,
      validationAccuracy: accuracy,
      seconds: 0.1,
    })),
    engine: { name: 'onnxruntime', backend: 'onnxruntime/cpu' },
    versions: { node: 'v20.0.0', hyperproto: {}, tfjs: null, other: {} },
    seconds: { data: 0, prototypes: 0, training: 1, total: 1 },
    data: {},
    evaluators: {},
    finishedAt: '2026-01-01T00:00:00.000Z',
  };
}

/**
 * A user's grid: the hpn head and a plugin head (cosine-softmax) over the same optimized prototypes, with softmax;
 * it even carries the study's published tables with the seed presets' ids, which here name other models.
 */
const twoHeads = parseGrid({
  name: 'two-heads',
  seeds: 3,
  datasets: [
    { id: 'c10', label: '10', name: 'gaussian', options: { classes: 10, trainPerClass: 20 } },
    { id: 'blobs', label: 'blobs', name: 'blobs', options: { classes: 6 } },
  ],
  models: [
    { id: 'softmax', head: 'softmax' },
    { id: 'optimized-10', label: 'hpn10', head: 'hpn', prototypes: { strategy: 'optimized', dims: 10 } },
    {
      id: 'random-10',
      label: 'cos10',
      head: { name: 'cosine-softmax', options: { scale: 16 } },
      prototypes: { strategy: 'optimized', dims: 10 },
    },
  ],
  published: {
    source: 'the study',
    macroF1: { c10: { softmax: 91.3, 'optimized-10': 91.2, 'random-10': 78.22 } },
    convergenceEpochs: { c10: { softmax: 50, 'optimized-10': 69 } },
  },
  calibration: { model: 'softmax' },
});

/** Seeds 0, 1, 2; seed s runs 3 + s epochs at accuracy base + 0.1 s + 0.01 epoch. */
function twoHeadRecords(options: { classMean?: boolean } = {}): RunRecord[] {
  const base: Record<string, number> = { softmax: 0.5, 'optimized-10': 0.4, 'random-10': 0.3 };
  return ['c10', 'blobs'].flatMap((dataset) =>
    Object.keys(base).flatMap((model) =>
      [0, 1, 2].map((seed) => {
        const curve = Array.from({ length: 3 + seed }, (_, i) => base[model]! + 0.1 * seed + 0.01 * (i + 1));
        return fakeRecord(twoHeads, dataset, model, seed, {
          macroF1: base[model]! + 0.1 * seed,
          curve,
          bestEpoch: 2 + seed,
          bayes: dataset === 'blobs' ? null : 0.95,
          ...(options.classMean ? { classMean: 0.7 + seed / 100 } : {}),
        });
      }),
    ),
  );
}

const byFile = (plots: readonly ReportPlot[], file: string) => {
  const plot = plots.find((p) => p.file === file);
  expect(plot, file).toBeDefined();
  return plot!;
};

describe('the report of a grid with two heads over the same prototypes', () => {
  const data = buildReportData(twoHeads, twoHeadRecords({ classMean: true }));
  const document = buildReportDocument(data);

  it('draws one series per model in the F1 plot: heads sharing a prototype strategy are not merged', () => {
    const f1 = byFile(document.plots, 'f1-vs-dims-c10.svg');
    const series = f1.chart.series;
    expect(series.map((s) => s.label)).toEqual(['hpn optimized [hpn10]', 'cosine-softmax(scale=16) optimized [cos10]']);
    // Each is the mean of its own model's seeds (0.4, 0.5, 0.6 and 0.3, 0.4, 0.5), with its own ± sd.
    expect(series[0]!.points).toHaveLength(1);
    expect(series[0]!.points[0]!.y).toBeCloseTo(50, 10);
    expect(series[1]!.points[0]!.y).toBeCloseTo(40, 10);
    expect(series[1]!.points[0]!.high! - series[1]!.points[0]!.y).toBeCloseTo(10, 10);
    expect(new Set(series.map((s) => s.color)).size).toBe(2);
    // softmax has no prototypes: a horizontal line, beside the Bayes ceiling and the class-mean baseline.
    expect(f1.chart.lines!.map((l) => l.label)).toEqual(['softmax 60.0', 'Bayes-optimal 95.0', 'class-mean baseline 71.0']);
    expect(f1.svg).toContain('cosine-softmax(scale=16) optimized [cos10]');
  });

  it('draws one validation curve per model of the grid, for accuracy and for loss', () => {
    for (const file of ['validation-c10.svg', 'validation-loss-c10.svg']) {
      const plot = byFile(document.plots, file);
      expect(plot.chart.series.map((s) => s.label)).toEqual([
        'softmax',
        'hpn10: hpn optimized D=10',
        'cos10: cosine-softmax(scale=16) optimized D=10',
      ]);
    }
    const loss = byFile(document.plots, 'validation-loss-c10.svg');
    expect(loss.chart.yLog).toBe(true);
    expect(loss.chart.yLabel).toMatch(/validation loss/);
    // The loss is 1 - accuracy in these records: at epoch 1 of softmax 0.49, 0.39, 0.29.
    expect(loss.chart.series[0]!.points[0]).toMatchObject({ x: 1, low: expect.closeTo(0.29, 10), high: expect.closeTo(0.49, 10) });
    expect(loss.chart.series[0]!.points[0]!.y).toBeCloseTo(0.39, 10);
    // Side by side in the report, after the accuracy plot of the same dataset.
    const pairs = document.blocks.filter((b) => b.kind === 'plots' && b.plots.some((p) => p.file.startsWith('validation')));
    expect(pairs.map((b) => (b.kind === 'plots' ? b.plots.map((p) => p.file) : []))).toEqual([
      ['validation-c10.svg', 'validation-loss-c10.svg'],
      ['validation-blobs.svg', 'validation-loss-blobs.svg'],
    ]);
  });

  it('computes the curves over all seeds: mean with a min-max band, over the seeds still training at each epoch', () => {
    const hpn = byFile(document.plots, 'validation-c10.svg').chart.series[1]!;
    expect(hpn.band).toBe(true);
    // Epoch 1: seeds 0, 1, 2 at 41, 51, 61 (%).
    expect(hpn.points[0]!.x).toBe(1);
    expect(hpn.points[0]!.y).toBeCloseTo(51, 10);
    expect(hpn.points[0]!.low).toBeCloseTo(41, 10);
    expect(hpn.points[0]!.high).toBeCloseTo(61, 10);
    // Epoch 4: seed 0 stopped after 3 epochs; seeds 1 and 2 at 54, 64.
    expect(hpn.points[3]).toMatchObject({ x: 4, y: expect.closeTo(59, 10), low: expect.closeTo(54, 10), high: expect.closeTo(64, 10) });
    // Epoch 5: seed 2 alone, no band.
    expect(hpn.points[4]).toEqual({ x: 5, y: expect.closeTo(65, 10) });
    expect(hpn.points).toHaveLength(5);
    // The dot: the mean kept epoch (2, 3, 4 -> 3) on the mean line.
    expect(hpn.highlight).toEqual([hpn.points[2]]);
    expect(curveOverSeeds(data.cells.get('c10/optimized-10')!.records, (e) => e.validationAccuracy).map((p) => p.n)).toEqual([
      3, 3, 3, 2, 1,
    ]);
  });

  it("leaves out the seed study's findings, published numbers, Table 3 and calibration, though the grid carries its tables", async () => {
    expect(data.seed.applies).toBe(false);
    expect(document.findings).toEqual([]);
    const md = renderMarkdown(document);
    expect(md).not.toMatch(/^#+ (The study's findings|Table 2|Table 3)/m);
    expect(md).not.toMatch(/Calibration|\(study \d|\| study \||^- \*\*(held|did not hold|partly held|not measured)\*\*/m);
    expect(md).toMatch(
      /The seed study's comparison \(its findings, published numbers and Table 3\) is left out: .* lacks 2 of its 3 datasets and 5 of its 7 models: the 100-class gaussian dataset/,
    );
    expect(md).toMatch(/## Test macro-F1 \(%\), mean ± sd over seeds/);
    expect(md).toMatch(/## Epochs to convergence \(epoch of the best validation accuracy\) and epochs run/);
    for (const plot of document.plots) {
      expect(plot.chart.series.every((s) => !s.label.includes('study'))).toBe(true);
      expect((plot.chart.lines ?? []).every((l) => !l.label.includes('study'))).toBe(true);
    }
  });

  it('shows Bayes-optimal "n/a" for a dataset that has none, and the class-mean baseline beside it', () => {
    const md = renderMarkdown(document);
    expect(md).toMatch(/\| dataset \| {2}\| Bayes-optimal \| class-mean \| softmax \| hpn10 \| cos10 \|/);
    expect(md).toMatch(/\| 10 \| n=3 \| 95\.0 ± 0\.0 \| 71\.0 ± 1\.0 \| 60\.0 ± 10\.0 \| 50\.0 ± 10\.0 \| 40\.0 ± 10\.0 \|/);
    expect(md).toMatch(/\| blobs \| n=3 \| n\/a \| 71\.0 ± 1\.0 \|/);
    const blobs = byFile(document.plots, 'f1-vs-dims-blobs.svg');
    expect(blobs.chart.notes).toContain('optimal rule: n/a (the dataset has none)');
    expect(blobs.chart.lines!.map((l) => l.label)).toEqual(['softmax 60.0', 'class-mean baseline 71.0']);
    expect(blobs.title).toBe('Macro-F1 against prototype dimension, blobs (6 classes)');
  });

  it('shows the class-mean baseline as "n/a" for records written before it existed', () => {
    const old = buildReportDocument(buildReportData(twoHeads, twoHeadRecords()));
    expect(renderMarkdown(old)).toMatch(/\| 10 \| n=3 \| 95\.0 ± 0\.0 \| n\/a \| 60\.0 ± 10\.0 \|/);
    expect(byFile(old.plots, 'f1-vs-dims-c10.svg').chart.notes).toContain('class-mean baseline: n/a (not in these records)');
  });
});

describe('the report of the seed preset', () => {
  let out: string | undefined;
  afterEach(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it("has the study's sections for the committed seed results (docs/results/seed), and curves over all five seeds", async () => {
    out = mkdtempSync(join(tmpdir(), 'hyperproto-seed-report-'));
    const report = await writeReport(SEED_RESULTS, { outDir: out });
    expect(report.seedComparison.applies).toBe(true);
    expect(report.findings.map((f) => f.id)).toEqual([
      'par-small',
      'worse-large',
      'ceiling',
      'random-low-dims',
      'random-high-dims',
      'large-dims-fail',
      'speed',
      'convergence',
    ]);
    const md = readFileSync(report.markdown, 'utf8');
    expect(md).toMatch(/## The study's findings, checked against these numbers/);
    expect(md).toMatch(/## Table 2: test macro-F1/);
    expect(md).toMatch(/\| {2}\| study \| – \| – \| 91\.3 \| 91\.2 \| 92\.6 \|/);
    expect(md).toMatch(/## Table 3: epochs to convergence/);
    expect(md).toMatch(/\| softmax \| 10\.6 ± 2\.3 \(study 50\) \|/);
    expect(md).toMatch(/Calibration: .* met:/);
    // Records from before the class-mean baseline: "n/a" beside the Bayes ceiling.
    expect(md).toMatch(/\| 10 \| ours \(n=5\) \| 94\.3 ± 0\.6 \| n\/a \| 90\.3 ± 0\.8 \|/);
    expect(report.cells.find((c) => c.dataset === 'c10' && c.model === 'random-10')!.published.macroF1).toBe(78.22);
    expect(report.cells.find((c) => c.dataset === 'c10' && c.model === 'tammes-10')!.published.macroF1).toBeNull();
    expect(readFileSync(join(out, 'plots', 'validation-loss-c1000.svg'), 'utf8')).toContain('line: mean over 5 seeds');
    // Nothing is written into the committed directory.
    expect(report.dir).toBe(out);
  });

  it('applies to the records of the seed-quick preset as well, built from the preset itself', async () => {
    const grid = await loadPreset('seed-quick');
    const records = grid.datasets.flatMap((d) => grid.models.map((m) => fakeRecord(grid, d.id, m.id, 0, { macroF1: 0.8, classMean: 0.7 })));
    const document = buildReportDocument(buildReportData(grid, records));
    const md = renderMarkdown(document);
    expect(document.findings).toHaveLength(8);
    expect(md).toMatch(/## Table 3: epochs to convergence/);
    expect(md).toMatch(/\| 10 \| ours \(n=1\) \| 95\.0 \| 70\.0 \| 80\.0 \|/);
    const curves = byFile(document.plots, 'validation-c10.svg');
    expect(curves.chart.series).toHaveLength(grid.models.length);
  });
});
