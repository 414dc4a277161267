import { cellKey, curveOverSeeds, type ReportData, type ReportDataset, type ReportModel, referenceLabel } from './report-data.js';
import { renderLineChart, type ChartLine, type ChartSeries, type LineChartOptions } from './svg-line-chart.js';

/** The seed presets' colours, kept for the study's heads so its plots look as before. */
const FIXED_COLORS: Record<string, string> = {
  'hpn/optimized': '#1f77b4',
  'hpn/random': '#e6550d',
  'hpn/tammes': '#2ca02c',
  softmax: '#444',
};
const SPARE_COLORS = ['#9467bd', '#d62728', '#17becf', '#8c564b', '#e377c2', '#bcbd22', '#1b9e77', '#7570b3', '#d95f02', '#666'];
const DIM_DASHES = [undefined, '7 3', '2 2', '9 3 2 3'];
const BAYES_COLOR = '#000';
const CLASS_MEAN_COLOR = '#888';

const hasOptions = (options: Readonly<Record<string, unknown>> | undefined) => options !== undefined && Object.keys(options).length > 0;

/** The head with its options when it has any, e.g. `cosine(scale=16)`. */
export function headName(model: ReportModel): string {
  if (!hasOptions(model.headOptions)) return model.head;
  return `${model.head}(${Object.entries(model.headOptions)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ')})`;
}

/** A model's own trainer settings, e.g. ` [hiddenUnits=1000, patience=200]`; empty when it has none. */
export function trainerSuffix(model: ReportModel): string {
  if (!hasOptions(model.trainer)) return '';
  return ` [${Object.entries(model.trainer!)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ')}]`;
}

/** What a model is: head, prototype strategy and dimension, e.g. `hpn optimized D=100`, and its own trainer settings. */
export function modelName(model: ReportModel): string {
  return `${model.strategy ? `${headName(model)} ${model.strategy} D=${model.dims}` : headName(model)}${trainerSuffix(model)}`;
}

/** A model as legends name it: the grid's label (the table column) and what it is, e.g. `r10: hpn random D=10`. */
export function modelLegend(model: ReportModel): string {
  const name = modelName(model);
  return model.label === name ? name : `${model.label}: ${name}`;
}

/**
 * Models that differ only in the prototype dimension: one line in a plot against D. Two heads over the same
 * prototype strategy are two families, as are the same head and strategy with different options.
 */
export interface ModelFamily {
  readonly key: string;
  readonly label: string;
  readonly color: string;
  /** By dimension, smallest first (prototype-free models: one each). */
  readonly models: readonly ReportModel[];
}

export function modelFamilies(models: readonly ReportModel[]): ModelFamily[] {
  const groups = new Map<string, ReportModel[]>();
  for (const m of models) {
    const base = JSON.stringify([m.head, m.headOptions, m.strategy ?? null, m.prototypeOptions ?? null, m.trainer ?? null]);
    // A family has one model per dimension; a repeated dimension (or a second prototype-free model) starts another.
    let key = base;
    for (let n = 2; groups.get(key)?.some((other) => other.dims === m.dims); n++) key = `${base}#${n}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const entries = [...groups].map(([key, list]) => ({ key, list: list.sort((a, b) => (a.dims ?? 0) - (b.dims ?? 0)) }));
  const baseLabel = (m: ReportModel) => `${m.strategy ? `${headName(m)} ${m.strategy}` : headName(m)}${trainerSuffix(m)}`;
  // The grid's labels of the family's models (its table columns), unless they only repeat what the model is.
  const labelled = (list: readonly ReportModel[]) => {
    const base = baseLabel(list[0]!);
    return list.every((m) => m.label === modelName(m)) ? base : `${base} [${list.map((m) => m.label).join(', ')}]`;
  };

  const used = new Set<string>();
  const fixed = entries.map(({ list }) => {
    const m = list[0]!;
    if (hasOptions(m.headOptions)) return undefined;
    const color = FIXED_COLORS[m.strategy ? `${m.head}/${m.strategy}` : m.head];
    if (!color || used.has(color)) return undefined;
    used.add(color);
    return color;
  });
  let spare = 0;
  const nextSpare = () => {
    const free = SPARE_COLORS.filter((c) => !used.has(c));
    const color = free.length ? free[0]! : SPARE_COLORS[spare++ % SPARE_COLORS.length]!;
    used.add(color);
    return color;
  };
  const labels = entries.map(({ list }) => labelled(list));
  // Families that still read the same differ in their prototype options: say which.
  const shown = labels.map((label, i) =>
    labels.indexOf(label) !== labels.lastIndexOf(label) ? `${label} ${JSON.stringify(entries[i]!.list[0]!.prototypeOptions ?? {})}` : label,
  );
  return entries.map(({ key, list }, i) => ({ key, label: shown[i]!, color: fixed[i] ?? nextSpare(), models: list }));
}

export interface ReportPlot {
  /** File name under plots/. */
  readonly file: string;
  readonly title: string;
  readonly svg: string;
  /** What was drawn: the series, reference lines and notes, for checks without parsing the SVG. */
  readonly chart: LineChartOptions;
}

export function plot(file: string, title: string, chart: LineChartOptions): ReportPlot {
  return { file, title, chart, svg: renderLineChart(chart) };
}

/** A dataset in titles: `10 classes`, or its label with the class count, e.g. `blobs (6 classes)`. */
export function datasetTitle(dataset: ReportDataset): string {
  if (dataset.classes === undefined) return dataset.label;
  return dataset.label === String(dataset.classes) ? `${dataset.classes} classes` : `${dataset.label} (${dataset.classes} classes)`;
}

/** "mean over 5 seeds", or "over 1 to 5 seeds" when cells differ. */
function seedsPhrase(counts: readonly number[]): string {
  const lo = Math.min(...counts);
  const hi = Math.max(...counts);
  return lo === hi ? `${lo} seed${lo === 1 ? '' : 's'}` : `${lo} to ${hi} seeds`;
}

/** Horizontal lines for the references of a dataset (its optimal rule, class-mean baseline), or "n/a" notes. */
function referenceLines(dataset: ReportDataset): { lines: ChartLine[]; notes: string[] } {
  const lines: ChartLine[] = [];
  const notes: string[] = [];
  if (dataset.bayesMacroF1)
    lines.push({
      y: dataset.bayesMacroF1.mean,
      label: `${referenceLabel(dataset.referenceName ?? 'reference')} ${dataset.bayesMacroF1.mean.toFixed(1)}`,
      color: BAYES_COLOR,
      dash: '1 3',
    });
  else if (dataset.runs > 0) notes.push('optimal rule: n/a (the dataset has none)');
  if (dataset.classMeanMacroF1)
    lines.push({
      y: dataset.classMeanMacroF1.mean,
      label: `class-mean baseline ${dataset.classMeanMacroF1.mean.toFixed(1)}`,
      color: CLASS_MEAN_COLOR,
      dash: '6 2 1 2',
    });
  else if (dataset.runs > 0) notes.push('class-mean baseline: n/a (not in these records)');
  return { lines, notes };
}

/**
 * Macro-F1 against prototype dimension for one dataset: one line per model family (head, strategy and their
 * options), mean over seeds with a ± sd band; the study's numbers dashed where the seed comparison applies;
 * prototype-free models, the dataset's optimal rule (the ceiling) and the class-mean baseline as horizontal lines.
 */
export function f1AgainstDimsPlot(data: ReportData, dataset: ReportDataset): ReportPlot | undefined {
  const families = modelFamilies(data.models);
  const withDims = families.filter((f) => f.models[0]!.dims !== undefined);
  if (withDims.length === 0) return undefined;
  const seed = data.seed.applies && data.seed.datasets.has(dataset.id);
  const published = seed ? (data.grid.published?.macroF1[dataset.id] ?? {}) : {};
  const study = (m: ReportModel) => (seed && data.seed.models.has(m.id) ? published[m.id] : undefined);
  const series: ChartSeries[] = [];
  const counts: number[] = [];
  for (const family of withDims) {
    const points = family.models.flatMap((m) => {
      const s = data.cells.get(cellKey(dataset.id, m.id))?.macroF1;
      if (!s) return [];
      counts.push(s.n);
      return [{ x: m.dims!, y: s.mean, ...(s.sd !== null ? { low: s.mean - s.sd, high: s.mean + s.sd } : {}) }];
    });
    if (points.length) series.push({ label: seed ? `${family.label} (ours)` : family.label, color: family.color, points, band: true });
    const theirs = family.models.flatMap((m) => (study(m) !== undefined ? [{ x: m.dims!, y: study(m)! }] : []));
    if (theirs.length) series.push({ label: `${family.label} (study)`, color: family.color, points: theirs, dash: '5 3', hollow: true });
  }
  const lines: ChartLine[] = [];
  for (const family of families.filter((f) => f.models[0]!.dims === undefined)) {
    for (const m of family.models) {
      const s = data.cells.get(cellKey(dataset.id, m.id))?.macroF1;
      if (s) lines.push({ y: s.mean, label: `${modelLegend(m)}${seed ? ' (ours)' : ''} ${s.mean.toFixed(1)}`, color: family.color });
      const theirs = study(m);
      if (theirs !== undefined)
        lines.push({ y: theirs, label: `${modelLegend(m)} (study) ${theirs.toFixed(1)}`, color: family.color, dash: '5 3' });
    }
  }
  const references = referenceLines(dataset);
  lines.push(...references.lines);
  if (series.length === 0 && lines.length === 0) return undefined;
  const notes = [...references.notes];
  if (counts.length)
    notes.push(
      Math.max(...counts) > 1 ? `line: mean over ${seedsPhrase(counts)}; band or bar: ± sd` : 'one seed per cell: no spread to show',
    );
  const dims = [...new Set(withDims.flatMap((f) => f.models.map((m) => m.dims!)))].sort((a, b) => a - b);
  return plot(`f1-vs-dims-${dataset.id}.svg`, `Macro-F1 against prototype dimension, ${datasetTitle(dataset)}`, {
    title: `${datasetTitle(dataset)}: test macro-F1 vs prototype dimension`,
    xLabel: 'prototype dimension D (log scale)',
    yLabel: 'test macro-F1 (%)',
    xLog: true,
    xTicks: dims,
    yMax: 100,
    series,
    lines,
    notes,
    width: 560,
  });
}

export type CurveMetric = 'accuracy' | 'loss';

/**
 * Validation accuracy or loss per epoch for one dataset: one line per model, the mean over every seed that reached
 * the epoch, with the min-max band over seeds; the dot marks the mean kept (best) epoch. Line colour: the model's
 * family; line style: its prototype dimension (solid: smallest).
 */
export function validationCurvesPlot(data: ReportData, dataset: ReportDataset, metric: CurveMetric = 'accuracy'): ReportPlot | undefined {
  const series: ChartSeries[] = [];
  const counts: number[] = [];
  for (const family of modelFamilies(data.models)) {
    family.models.forEach((model, index) => {
      const cell = data.cells.get(cellKey(dataset.id, model.id));
      const records = cell?.records ?? [];
      const planned = cell?.plannedSeeds.length ?? 0;
      const curve = curveOverSeeds(records, (e) => (metric === 'accuracy' ? 100 * e.validationAccuracy : e.validationLoss));
      if (curve.length === 0) return;
      counts.push(records.length);
      const points = curve.map((p) => ({ x: p.epoch, y: p.mean, ...(p.n > 1 ? { low: p.min, high: p.max } : {}) }));
      const kept = Math.round(records.reduce((sum, r) => sum + r.bestEpoch, 0) / records.length);
      const best = points.find((p) => p.x === kept);
      series.push({
        label: `${modelLegend(model)}${records.length !== planned ? ` (${records.length} of ${planned} seeds)` : ''}`,
        color: family.color,
        dash: model.dims !== undefined ? DIM_DASHES[index % DIM_DASHES.length] : undefined,
        points,
        markers: false,
        band: true,
        ...(best ? { highlight: [best] } : {}),
      });
    });
  }
  if (series.length === 0) return undefined;
  const what = metric === 'accuracy' ? 'validation accuracy' : 'validation loss';
  return plot(`validation-${metric === 'accuracy' ? '' : 'loss-'}${dataset.id}.svg`, `Validation ${metric}, ${datasetTitle(dataset)}`, {
    title: `${datasetTitle(dataset)}: ${what} per epoch`,
    xLabel: 'epoch',
    xInteger: true,
    yLabel: metric === 'accuracy' ? 'validation accuracy (%)' : 'validation loss (log scale)',
    yLog: metric === 'loss',
    series,
    notes: [
      Math.max(...counts) > 1
        ? `line: mean over ${seedsPhrase(counts)} (those still training); band: min-max; dot: mean kept epoch`
        : 'one seed per cell; dot: the kept epoch',
    ],
    width: 560,
    height: 260,
  });
}

/**
 * Seconds per epoch against the model's output width (D for prototype heads, classes otherwise): one line per
 * dataset and head; models of one head and D (different prototype strategies, which do not change the network)
 * are averaged.
 */
export function secondsPerEpochPlot(data: ReportData): ReportPlot | undefined {
  const series: ChartSeries[] = [];
  const palette = ['#1f77b4', '#e6550d', '#2ca02c', '#9467bd', '#8c564b', '#17becf'];
  const heads = [
    ...new Map(data.models.map((m) => [JSON.stringify([m.head, m.headOptions, m.strategy !== undefined, m.trainer ?? null]), m])).entries(),
  ];
  const dashes = [undefined, '6 3', '2 2', '9 3 2 3'];
  data.datasets.forEach((dataset, i) => {
    const color = palette[i % palette.length]!;
    let withDims = 0;
    for (const [key, example] of heads) {
      const own = data.models.filter((m) => JSON.stringify([m.head, m.headOptions, m.strategy !== undefined, m.trainer ?? null]) === key);
      const byWidth = new Map<number, number[]>();
      for (const m of own) {
        const s = data.cells.get(cellKey(dataset.id, m.id))?.secondsPerEpoch;
        const width = m.dims ?? dataset.classes;
        if (s && width !== undefined) byWidth.set(width, [...(byWidth.get(width) ?? []), s.mean]);
      }
      const points = [...byWidth].map(([x, list]) => ({ x, y: list.reduce((a, b) => a + b, 0) / list.length }));
      if (points.length === 0) continue;
      if (example.strategy !== undefined) {
        series.push({
          label: `${datasetTitle(dataset)}: ${headName(example)}${trainerSuffix(example)}, by D`,
          color,
          points,
          dash: dashes[withDims++ % dashes.length],
        });
      } else {
        series.push({
          label: `${datasetTitle(dataset)}: ${headName(example)}${trainerSuffix(example)} (D = C)`,
          color,
          points,
          hollow: true,
        });
      }
    }
  });
  if (series.length === 0) return undefined;
  return plot('seconds-per-epoch.svg', 'Seconds per epoch', {
    title: 'Seconds per epoch against output width',
    xLabel: 'output units: D for prototype heads, classes otherwise (log scale)',
    yLabel: 'seconds per epoch',
    xLog: true,
    yMin: 0,
    series,
    notes: ['mean over seeds, and over prototype strategies of one head and D'],
    width: 560,
  });
}

export type ClassCountMetric = 'macroF1' | 'secondsPerEpoch';

/**
 * The datasets a plot against the class count joins into lines: the k-th dataset (in grid order) of each class
 * count forms lane k, so several datasets of one class count (e.g. different training sizes) never share a line.
 * Empty when the datasets with records span fewer than 2 class counts.
 */
export function classCountLanes(data: ReportData): ReportDataset[][] {
  const byClasses = new Map<number, ReportDataset[]>();
  for (const d of data.datasets) {
    if (d.classes === undefined || d.runs === 0) continue;
    byClasses.set(d.classes, [...(byClasses.get(d.classes) ?? []), d]);
  }
  if (byClasses.size < 2) return [];
  const lanes: ReportDataset[][] = [];
  for (const list of byClasses.values()) list.forEach((d, k) => (lanes[k] ??= []).push(d));
  return lanes.map((lane) => lane.sort((a, b) => a.classes! - b.classes!));
}

/**
 * Test macro-F1 or seconds per epoch against the class count (log x) when the records span 2 or more class counts:
 * one line per model (per lane of datasets, {@link classCountLanes}), the mean over seeds with ± sd.
 */
export function againstClassCountPlot(data: ReportData, metric: ClassCountMetric): ReportPlot | undefined {
  const lanes = classCountLanes(data);
  if (lanes.length === 0) return undefined;
  const series: ChartSeries[] = [];
  const counts: number[] = [];
  for (const family of modelFamilies(data.models)) {
    family.models.forEach((model, index) => {
      lanes.forEach((lane, k) => {
        const points = lane.flatMap((d) => {
          const s = data.cells.get(cellKey(d.id, model.id))?.[metric];
          if (!s) return [];
          counts.push(s.n);
          return [{ x: d.classes!, y: s.mean, ...(s.sd !== null ? { low: s.mean - s.sd, high: s.mean + s.sd } : {}) }];
        });
        if (points.length === 0) return;
        series.push({
          label: `${modelLegend(model)}${lanes.length > 1 ? ` (${lane.map((d) => d.label).join(', ')})` : ''}`,
          color: family.color,
          dash: DIM_DASHES[(index + k) % DIM_DASHES.length],
          points,
        });
      });
    });
  }
  if (series.length === 0) return undefined;
  const classCounts = [...new Set(lanes.flat().map((d) => d.classes!))].sort((a, b) => a - b);
  const f1 = metric === 'macroF1';
  const notes = [
    Math.max(...counts) > 1 ? `line: mean over ${seedsPhrase(counts)}; bar: ± sd` : 'one seed per cell: no spread to show',
    ...(lanes.length > 1 ? ['several datasets share a class count: one line per model and group of datasets (in brackets)'] : []),
  ];
  return plot(
    f1 ? 'f1-vs-classes.svg' : 'seconds-per-epoch-vs-classes.svg',
    f1 ? 'Macro-F1 against class count' : 'Seconds per epoch against class count',
    {
      title: f1 ? 'Test macro-F1 vs number of classes' : 'Seconds per epoch vs number of classes',
      xLabel: 'classes (log scale)',
      yLabel: f1 ? 'test macro-F1 (%)' : 'seconds per epoch',
      xLog: true,
      xTicks: classCounts,
      ...(f1 ? { yMax: 100 } : { yMin: 0 }),
      series,
      notes,
      width: 560,
    },
  );
}
