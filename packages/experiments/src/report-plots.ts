import { cellKey, type ReportData, type ReportDataset, type ReportModel } from './report-data.js';
import { renderLineChart, type ChartLine, type ChartSeries } from './svg-line-chart.js';

const STRATEGY_COLORS: Record<string, string> = { optimized: '#1f77b4', random: '#e6550d', tammes: '#2ca02c' };
const SPARE_COLORS = ['#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];
const SOFTMAX_COLOR = '#444';
const DIM_DASHES = [undefined, '7 3', '2 2', '9 3 2 3'];

export function strategyColor(data: ReportData, strategy: string): string {
  if (STRATEGY_COLORS[strategy]) return STRATEGY_COLORS[strategy];
  const others = [...new Set(data.models.map((m) => m.strategy).filter((s): s is string => s !== undefined && !STRATEGY_COLORS[s]))];
  return SPARE_COLORS[others.indexOf(strategy) % SPARE_COLORS.length] ?? '#777';
}

export function modelName(model: ReportModel): string {
  return model.strategy ? `${model.head} ${model.strategy} D=${model.dims}` : model.head;
}

export interface ReportPlot {
  /** File name under plots/. */
  readonly file: string;
  readonly title: string;
  readonly svg: string;
}

/** Macro-F1 against prototype dimension for one dataset: one line per strategy, ours solid, the study's dashed. */
export function f1AgainstDimsPlot(data: ReportData, dataset: ReportDataset): ReportPlot | undefined {
  const hpns = data.models.filter((m) => m.strategy !== undefined && m.dims !== undefined);
  if (hpns.length === 0) return undefined;
  const strategies = [...new Set(hpns.map((m) => m.strategy!))];
  const published = data.grid.published?.macroF1[dataset.id] ?? {};
  const series: ChartSeries[] = [];
  for (const strategy of strategies) {
    const models = hpns.filter((m) => m.strategy === strategy);
    const color = strategyColor(data, strategy);
    const points = models.flatMap((m) => {
      const s = data.cells.get(cellKey(dataset.id, m.id))?.macroF1;
      return s ? [{ x: m.dims!, y: s.mean, ...(s.sd !== null ? { low: s.mean - s.sd, high: s.mean + s.sd } : {}) }] : [];
    });
    if (points.length) series.push({ label: `${strategy} (ours, mean ± sd)`, color, points });
    const theirs = models.flatMap((m) => (published[m.id] !== undefined ? [{ x: m.dims!, y: published[m.id]! }] : []));
    if (theirs.length) series.push({ label: `${strategy} (study)`, color, points: theirs, dash: '5 3', hollow: true });
  }
  const lines: ChartLine[] = [];
  const softmax = data.models.find((m) => m.strategy === undefined);
  if (softmax) {
    const s = data.cells.get(cellKey(dataset.id, softmax.id))?.macroF1;
    if (s) lines.push({ y: s.mean, label: `softmax (ours) ${s.mean.toFixed(1)}`, color: SOFTMAX_COLOR });
    const theirs = published[softmax.id];
    if (theirs !== undefined) lines.push({ y: theirs, label: `softmax (study) ${theirs.toFixed(1)}`, color: SOFTMAX_COLOR, dash: '5 3' });
  }
  if (dataset.bayesMacroF1) lines.push({ y: dataset.bayesMacroF1.mean, label: `Bayes-optimal ${dataset.bayesMacroF1.mean.toFixed(1)}`, color: '#000', dash: '1 3' });
  if (series.length === 0 && lines.length === 0) return undefined;
  const dims = [...new Set(hpns.map((m) => m.dims!))].sort((a, b) => a - b);
  return {
    file: `f1-vs-dims-${dataset.id}.svg`,
    title: `Macro-F1 against prototype dimension, ${dataset.label} classes`,
    svg: renderLineChart({
      title: `${dataset.label} classes: test macro-F1 vs prototype dimension`,
      xLabel: 'prototype dimension D (log scale)',
      yLabel: 'test macro-F1 (%)',
      xLog: true,
      xTicks: dims,
      yMax: 100,
      series,
      lines,
    }),
  };
}

/** Validation accuracy per epoch for one dataset, lowest seed of each model; the kept (best) epoch is marked. */
export function validationCurvesPlot(data: ReportData, dataset: ReportDataset): ReportPlot | undefined {
  const series: ChartSeries[] = [];
  for (const model of data.models) {
    const record = data.cells.get(cellKey(dataset.id, model.id))?.firstRecord;
    if (!record || record.history.length === 0) continue;
    const points = record.history.map((e) => ({ x: e.epoch, y: 100 * e.validationAccuracy }));
    const best = points.find((p) => p.x === record.bestEpoch);
    const sameStrategy = data.models.filter((m) => m.strategy === model.strategy && m.strategy !== undefined).sort((a, b) => a.dims! - b.dims!);
    series.push({
      label: `${modelName(model)} (seed ${record.seed})`,
      color: model.strategy ? strategyColor(data, model.strategy) : SOFTMAX_COLOR,
      dash: model.strategy ? DIM_DASHES[sameStrategy.indexOf(model) % DIM_DASHES.length] : undefined,
      points,
      markers: false,
      ...(best ? { highlight: [best] } : {}),
    });
  }
  if (series.length === 0) return undefined;
  return {
    file: `validation-${dataset.id}.svg`,
    title: `Validation curves, ${dataset.label} classes`,
    svg: renderLineChart({
      title: `${dataset.label} classes: validation accuracy per epoch (dot: kept epoch)`,
      xLabel: 'epoch',
      xInteger: true,
      yLabel: 'validation accuracy (%)',
      series,
      width: 560,
      height: 260,
    }),
  };
}

/** Seconds per epoch against the model's output width (classes for softmax, D for HPNs), one line per dataset. */
export function secondsPerEpochPlot(data: ReportData): ReportPlot | undefined {
  const series: ChartSeries[] = [];
  const palette = ['#1f77b4', '#e6550d', '#2ca02c', '#9467bd', '#8c564b'];
  data.datasets.forEach((dataset, i) => {
    // The strategy does not change the network, only D does: average the HPNs of each D.
    const byDims = new Map<number, number[]>();
    for (const m of data.models) {
      const s = data.cells.get(cellKey(dataset.id, m.id))?.secondsPerEpoch;
      if (s && m.dims !== undefined) byDims.set(m.dims, [...(byDims.get(m.dims) ?? []), s.mean]);
    }
    const points = [...byDims].map(([x, list]) => ({ x, y: list.reduce((a, b) => a + b, 0) / list.length }));
    const softmax = data.models.find((m) => m.strategy === undefined);
    const s = softmax ? data.cells.get(cellKey(dataset.id, softmax.id))?.secondsPerEpoch : undefined;
    const color = palette[i % palette.length]!;
    if (points.length) series.push({ label: `${dataset.label} classes: HPN, by D`, color, points });
    if (s && dataset.classes !== undefined) series.push({ label: `${dataset.label} classes: softmax (D = C)`, color, points: [{ x: dataset.classes, y: s.mean }], hollow: true });
  });
  if (series.length === 0) return undefined;
  return {
    file: 'seconds-per-epoch.svg',
    title: 'Seconds per epoch',
    svg: renderLineChart({
      title: 'Seconds per epoch against output width',
      xLabel: 'output units: D for HPN, classes for softmax (log scale)',
      yLabel: 'seconds per epoch',
      xLog: true,
      yMin: 0,
      series,
    }),
  };
}
