import { type TrainerSettings, TrainerSettingsSchema } from '@hyperproto/core';
import { modelTrainer } from './grid-expansion.js';
import { cellKey, curveOverSeeds, stat, type ReportData, type ReportDataset, type ReportModel, type Stat } from './report-data.js';
import type { Block } from './report-document.js';
import { datasetTitle, headName, modelFamilies, modelLegend, plot, type ReportPlot } from './report-plots.js';
import type { RunRecord } from './run-record.js';
import type { ChartSeries } from './svg-line-chart.js';

/** Whether a run logged its test scores every epoch (the trainer's traceTest). */
export const hasTestTrace = (record: RunRecord): boolean => record.history.some((e) => typeof e.testMacroF1 === 'number');

/** Test macro-F1 (percent) of a traced run at its kept epoch, its last epoch and its best test epoch. */
export interface TracedRun {
  readonly kept: number;
  readonly last: number;
  readonly lastEpoch: number;
  readonly max: number;
  /** The first epoch that reached `max`. */
  readonly maxEpoch: number;
}

/** The test-trace numbers of one run, from its history; undefined when it has no test trace. */
export function tracedRun(record: RunRecord): TracedRun | undefined {
  const traced = record.history.filter((e): e is typeof e & { testMacroF1: number } => typeof e.testMacroF1 === 'number');
  if (traced.length === 0) return undefined;
  const keptEpoch = traced.find((e) => e.epoch === record.bestEpoch);
  const last = traced[traced.length - 1]!;
  const best = traced.reduce((a, b) => (b.testMacroF1 > a.testMacroF1 ? b : a));
  return {
    // The kept model's own test score when the record has it, which is the trace's value at the kept epoch.
    kept: 100 * (record.metrics.macroF1 ?? keptEpoch?.testMacroF1 ?? Number.NaN),
    last: 100 * last.testMacroF1,
    lastEpoch: last.epoch,
    max: 100 * best.testMacroF1,
    maxEpoch: best.epoch,
  };
}

/** A traced cell with the numbers over its seeds, and the same model under an earlier stopping rule, when the grid has it. */
export interface TracedCell {
  readonly dataset: ReportDataset;
  readonly model: ReportModel;
  readonly records: readonly RunRecord[];
  readonly keptEpoch: Stat;
  readonly kept: Stat;
  readonly last: Stat;
  readonly lastEpoch: Stat;
  readonly max: Stat;
  readonly maxEpoch: Stat;
  /** The model with the same head, prototypes and trainer settings but a smaller patience and no trace. */
  readonly twin?: {
    readonly model: ReportModel;
    readonly patience: number;
    readonly keptEpoch: Stat | null;
    readonly macroF1: Stat | null;
  };
}

/** Every cell with traced runs, in dataset then model order. */
export function tracedCells(data: ReportData): TracedCell[] {
  const out: TracedCell[] = [];
  for (const dataset of data.datasets) {
    for (const model of data.models) {
      const records = (data.cells.get(cellKey(dataset.id, model.id))?.records ?? []).filter(hasTestTrace);
      const runs = records.map(tracedRun).filter((r): r is TracedRun => r !== undefined);
      if (runs.length === 0) continue;
      const of = (pick: (r: TracedRun) => number) => stat(runs.map(pick))!;
      const twinModel = earlyStoppedTwin(data, model);
      const twinCell = twinModel && data.cells.get(cellKey(dataset.id, twinModel.id));
      out.push({
        dataset,
        model,
        records,
        keptEpoch: stat(records.map((r) => r.bestEpoch))!,
        kept: of((r) => r.kept),
        last: of((r) => r.last),
        lastEpoch: of((r) => r.lastEpoch),
        max: of((r) => r.max),
        maxEpoch: of((r) => r.maxEpoch),
        ...(twinModel && twinCell?.records.length
          ? {
              twin: {
                model: twinModel,
                patience: modelSettings(data, twinModel)!.patience,
                keptEpoch: twinCell.bestEpoch,
                macroF1: twinCell.macroF1,
              },
            }
          : {}),
      });
    }
  }
  return out;
}

/** A model's trainer settings with defaults filled; undefined when the grid's are not valid settings. */
export function modelSettings(data: ReportData, model: ReportModel): TrainerSettings | undefined {
  const parsed = TrainerSettingsSchema.safeParse(
    modelTrainer(data.grid, { trainer: model.trainer as Record<string, unknown> | undefined }),
  );
  return parsed.success ? parsed.data : undefined;
}

/** The grid's model that differs from `model` only in a smaller patience and in not tracing the test split. */
function earlyStoppedTwin(data: ReportData, model: ReportModel): ReportModel | undefined {
  const own = modelSettings(data, model);
  if (!own) return undefined;
  const rest = ({ patience: _p, maxEpochs: _m, traceTest: _t, ...others }: TrainerSettings) => JSON.stringify(others);
  const same = (a: ReportModel) =>
    JSON.stringify([a.head, a.headOptions, a.strategy ?? null, a.dims ?? null, a.prototypeOptions ?? null]) ===
    JSON.stringify([model.head, model.headOptions, model.strategy ?? null, model.dims ?? null, model.prototypeOptions ?? null]);
  return data.models.find((other) => {
    if (other.id === model.id || !same(other)) return false;
    const theirs = modelSettings(data, other);
    return theirs !== undefined && !theirs.traceTest && theirs.patience < own.patience && rest(theirs) === rest(own);
  });
}

/**
 * Validation and test macro-F1 per epoch of the traced models of one dataset and head: per model, the validation
 * curve solid and the test curve dashed (means over the seeds that reached the epoch), the dot at the mean kept epoch.
 */
export function testTracePlots(data: ReportData): ReportPlot[] {
  const colors = new Map(modelFamilies(data.models).flatMap((f) => f.models.map((m) => [m.id, f.color] as const)));
  const cells = tracedCells(data);
  const plots: ReportPlot[] = [];
  for (const dataset of data.datasets) {
    const own = cells.filter((c) => c.dataset.id === dataset.id);
    const heads = [...new Set(own.map((c) => headName(c.model)))];
    for (const head of heads) {
      const series: ChartSeries[] = [];
      for (const cell of own.filter((c) => headName(c.model) === head)) {
        const color = colors.get(cell.model.id) ?? '#444';
        const kept = Math.round(cell.keptEpoch.mean);
        for (const split of ['validation', 'test'] as const) {
          const curve = curveOverSeeds(cell.records, (e) => {
            const value = split === 'test' ? e.testMacroF1 : e.validationMacroF1;
            return typeof value === 'number' ? 100 * value : null;
          });
          if (curve.length === 0) continue;
          const points = curve.map((p) => ({ x: p.epoch, y: p.mean }));
          const dot = points.find((p) => p.x === kept);
          series.push({
            label: `${modelLegend(cell.model)}: ${split}`,
            color,
            ...(split === 'test' ? { dash: '5 3' } : {}),
            points,
            markers: false,
            ...(dot ? { highlight: [dot] } : {}),
          });
        }
      }
      if (series.length === 0) continue;
      const n = own.filter((c) => headName(c.model) === head).map((c) => c.records.length);
      const slug = head
        .replace(/[^a-z0-9]+/gi, '-')
        .replace(/^-|-$/g, '')
        .toLowerCase();
      plots.push(
        plot(`test-trace-${dataset.id}-${slug}.svg`, `Validation and test macro-F1 per epoch, ${datasetTitle(dataset)}, ${head}`, {
          title: `${datasetTitle(dataset)}, ${head}: macro-F1 per epoch`,
          xLabel: 'epoch',
          xInteger: true,
          yLabel: 'macro-F1 (%)',
          series,
          notes: [
            `solid: validation; dashed: test (logged only); mean over ${Math.min(...n) === Math.max(...n) ? Math.min(...n) : `${Math.min(...n)} to ${Math.max(...n)}`} seed(s); dot: mean kept epoch`,
          ],
          width: 560,
          height: 280,
        }),
      );
    }
  }
  return plots;
}

const pm = (s: Stat | null | undefined) => (s ? `${s.mean.toFixed(1)}${s.sd !== null ? ` ± ${s.sd.toFixed(1)}` : ''}` : '–');
const epochs = (s: Stat | null | undefined) => (s ? s.mean.toFixed(0) : '–');
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;

/** The report section on stopping, for grids with traced runs: the plots, a table and a summary computed from it. */
export function testTraceBlocks(data: ReportData, plots: readonly ReportPlot[]): Block[] {
  const cells = tracedCells(data);
  if (cells.length === 0) return [];
  const rows = cells.map((c) => [
    c.dataset.label,
    c.model.label,
    String(c.records.length),
    epochs(c.keptEpoch),
    pm(c.kept),
    `${pm(c.last)} (${epochs(c.lastEpoch)})`,
    `${pm(c.max)} (${epochs(c.maxEpoch)})`,
    c.twin ? `${pm(c.twin.macroF1)} (${epochs(c.twin.keptEpoch)}, patience ${c.twin.patience})` : '–',
  ]);
  const gap = (pick: (c: TracedCell) => number) => cells.reduce((sum, c) => sum + pick(c), 0) / cells.length;
  const twins = cells.filter((c) => c.twin?.macroF1);
  const summary = [
    `Over the ${cells.length} traced cell${cells.length === 1 ? '' : 's'}, the kept epoch's test macro-F1 is on average ${signed(gap((c) => c.kept.mean - c.max.mean))} points from the best test epoch's and ${signed(gap((c) => c.kept.mean - c.last.mean))} from the last epoch's`,
    twins.length
      ? `; against the same model stopped early (${twins.length} cell${twins.length === 1 ? '' : 's'}), ${signed(twins.reduce((sum, c) => sum + c.kept.mean - c.twin!.macroF1!.mean, 0) / twins.length)} points.`
      : '.',
  ].join('');
  return [
    { kind: 'heading', level: 2, text: 'Stopping: validation and test macro-F1 per epoch' },
    {
      kind: 'paragraph',
      text: "Runs with the trainer's traceTest scored the test split after every epoch. Those scores are logged only: stopping and the kept weights follow the validation split alone, so the test curve shows what another stopping rule would have given, without having chosen by it.",
    },
    ...(plots.length ? [{ kind: 'plots', plots } as Block] : []),
    {
      kind: 'table',
      header: [
        'dataset',
        'model',
        'n',
        'kept epoch',
        'test F1, kept epoch',
        'test F1, last epoch (epoch)',
        'test F1, best epoch (epoch)',
        'stopped early: test F1 (kept epoch)',
      ],
      rows,
      note: 'Test macro-F1 (%), mean ± sd over seeds; epochs are means. Kept epoch: the best validation accuracy, whose weights the run keeps. Best epoch: the highest test macro-F1 of each run, known only afterwards. Stopped early: the model with the same head, prototypes and width under the smaller patience, where the grid has it.',
    },
    { kind: 'paragraph', text: summary },
  ];
}
