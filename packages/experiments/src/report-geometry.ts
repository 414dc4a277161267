import type { PrototypeGeometry } from '@hyperproto/core';
import { spearman } from './rank-correlation.js';
import { cellKey, type ReportData, type ReportDataset, type ReportModel } from './report-data.js';
import type { Block } from './report-document.js';
import { headName, trainerSuffix } from './report-plots.js';
import type { RunRecord } from './run-record.js';

/** The prototype geometry measures whose rank correlation with macro-F1 the report gives, in table order. */
export const GEOMETRY_MEASURES = [
  { key: 'largestNearestCosine', label: 'largest NN cosine' },
  { key: 'meanNearestCosine', label: 'mean NN cosine' },
  { key: 'effectiveRank', label: 'effective rank' },
  { key: 'condition', label: 'condition' },
  { key: 'smallestSingularValue', label: 'smallest singular value' },
] as const;

export type GeometryMeasure = (typeof GEOMETRY_MEASURES)[number]['key'];

/** Fewest prototype sets for a correlation worth showing: with two, every measure that differs gives +1 or -1. */
export const MIN_CORRELATION_CELLS = 3;

/**
 * Fewest prototype sets for ranking the measures against each other: with three, ρ takes only ±1 and ±0.5, so
 * every measure that orders the sets alike ties for the largest |ρ| and the ranking says nothing.
 */
export const MIN_RANKING_CELLS = 4;

/** Whether a measure's correlation in a group rests on enough sets to rank it against the others. */
export const rankable = (c: { readonly rho: number | null; readonly n: number }): c is { rho: number; n: number } =>
  c.rho !== null && c.n >= MIN_RANKING_CELLS;

/** One cell (a prototype set) of a group: its mean test macro-F1 and mean geometry over the seeds with a record. */
export interface GeometryCell {
  readonly model: ReportModel;
  /** Percent. */
  readonly macroF1: number;
  /** Mean over the cell's records that have the measure; null when none has it. */
  readonly measures: Readonly<Record<GeometryMeasure, number | null>>;
}

/** Models of one dataset that differ only in their prototypes: the same head, head options, trainer settings and D. */
export interface GeometryGroup {
  readonly dataset: ReportDataset;
  /** The group's first model, which names the head, trainer settings and D for all. */
  readonly example: ReportModel;
  readonly cells: readonly GeometryCell[];
  /** Spearman's rho across the cells between test macro-F1 and each measure, over the `n` cells that have it. */
  readonly correlations: Readonly<Record<GeometryMeasure, { readonly rho: number | null; readonly n: number }>>;
}

/**
 * A measure of one record: the condition number, stored as null when the smallest singular value is 0, counts as
 * infinite (the worst condition); a measure the record's geometry skipped is null.
 */
export function geometryValue(geometry: PrototypeGeometry, measure: GeometryMeasure): number | null {
  if (measure === 'condition' && geometry.condition === null && geometry.smallestSingularValue === 0) return Number.POSITIVE_INFINITY;
  const value = geometry[measure];
  return typeof value === 'number' && !Number.isNaN(value) ? value : null;
}

/**
 * The groups of cells whose records carry prototype geometry, with the rank correlation of test macro-F1 against
 * each measure across their prototype sets. Groups with a single prototype set are left out.
 */
export function geometryGroups(data: ReportData): GeometryGroup[] {
  const groups: GeometryGroup[] = [];
  for (const dataset of data.datasets) {
    const byKey = new Map<string, GeometryCell[]>();
    const examples = new Map<string, ReportModel>();
    for (const model of data.models) {
      if (model.dims === undefined) continue;
      const records = (data.cells.get(cellKey(dataset.id, model.id))?.records ?? []).filter(
        (r): r is RunRecord & { prototypeGeometry: PrototypeGeometry } => r.prototypeGeometry != null && r.metrics.macroF1 !== null,
      );
      if (records.length === 0) continue;
      const key = JSON.stringify([model.head, model.headOptions, model.trainer ?? null, model.dims]);
      const measures = Object.fromEntries(
        GEOMETRY_MEASURES.map(({ key: measure }) => {
          const values = records.map((r) => geometryValue(r.prototypeGeometry, measure)).filter((v): v is number => v !== null);
          return [measure, values.length ? values.reduce((a, b) => a + b, 0) / values.length : null];
        }),
      ) as Record<GeometryMeasure, number | null>;
      const macroF1 = (100 * records.reduce((sum, r) => sum + r.metrics.macroF1!, 0)) / records.length;
      byKey.set(key, [...(byKey.get(key) ?? []), { model, macroF1, measures }]);
      if (!examples.has(key)) examples.set(key, model);
    }
    for (const [key, cells] of byKey) {
      if (cells.length < 2) continue;
      const correlations = Object.fromEntries(
        GEOMETRY_MEASURES.map(({ key: measure }) => {
          const usable = cells.filter((c) => c.measures[measure] !== null);
          const rho = spearman(
            usable.map((c) => c.macroF1),
            usable.map((c) => c.measures[measure]!),
          );
          return [measure, { rho, n: usable.length }];
        }),
      ) as GeometryGroup['correlations'];
      groups.push({ dataset, example: examples.get(key)!, cells, correlations });
    }
  }
  return groups;
}

/** The measures with the largest |rho| of a group (several on a tie), over those measured on at least MIN_RANKING_CELLS sets. */
export function strongestMeasures(group: GeometryGroup): GeometryMeasure[] {
  const shown = GEOMETRY_MEASURES.map(({ key }) => ({ key, ...group.correlations[key] })).filter(
    (c): c is { key: GeometryMeasure; rho: number; n: number } => rankable(c),
  );
  if (shown.length === 0) return [];
  const top = Math.max(...shown.map((c) => Math.abs(c.rho)));
  // Equal up to rounding: ranks make few distinct values, and the same |rho| reached two ways should tie.
  return shown.filter((c) => Math.abs(c.rho) >= top - 1e-12).map((c) => c.key);
}

const label = (measure: GeometryMeasure) => GEOMETRY_MEASURES.find((m) => m.key === measure)!.label;
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;

/** The report section "Which prototype measure predicts macro-F1": a table per group and a summary computed from it. */
export function geometryBlocks(data: ReportData): Block[] {
  const groups = geometryGroups(data);
  if (groups.length === 0) return [];
  const rows = groups.map((group) => {
    const n = group.cells.length;
    return [
      group.dataset.label,
      `${headName(group.example)}${trainerSuffix(group.example)}`,
      String(group.example.dims),
      String(n),
      ...GEOMETRY_MEASURES.map(({ key }) => {
        const { rho, n: measured } = group.correlations[key];
        if (rho === null || measured < MIN_CORRELATION_CELLS) return '–';
        return `${signed(rho)}${measured !== n ? ` (n=${measured})` : ''}`;
      }),
      strongestMeasures(group).map(label).join(', ') || (n >= MIN_CORRELATION_CELLS ? 'too few sets to rank' : '–'),
    ];
  });
  const judged = groups.filter((g) => strongestMeasures(g).length > 0);
  const summary: string[] = [];
  if (judged.length > 0) {
    const wins = GEOMETRY_MEASURES.map(({ key }) => ({ key, count: judged.filter((g) => strongestMeasures(g).includes(key)).length }));
    const means = GEOMETRY_MEASURES.map(({ key }) => {
      const values = judged.map((g) => g.correlations[key]).filter(rankable);
      return { key, mean: values.length ? values.reduce((sum, c) => sum + c.rho!, 0) / values.length : null, n: values.length };
    });
    summary.push(
      `Across the ${judged.length} group${judged.length === 1 ? '' : 's'} with at least ${MIN_RANKING_CELLS} prototype sets, the largest |ρ| belongs to ${wins
        .filter((w) => w.count > 0)
        .sort((a, b) => b.count - a.count)
        .map((w) => `${label(w.key)} in ${w.count}`)
        .join(', ')} (ties count for each). Mean ρ over those groups: ${means
        .map((m) => `${label(m.key)} ${m.mean === null ? '–' : signed(m.mean)}`)
        .join(', ')}.`,
    );
  }
  const unranked = groups.filter((g) => strongestMeasures(g).length === 0 && g.cells.length >= MIN_CORRELATION_CELLS).length;
  if (unranked > 0)
    summary.push(
      `${judged.length === 0 ? `No group has ${MIN_RANKING_CELLS} or more prototype sets` : `${unranked} group${unranked === 1 ? ' has' : 's have'} fewer than ${MIN_RANKING_CELLS} prototype sets`}: too few sets to rank the measures (over 3 sets ρ takes only a few values, so measures that order the sets alike tie), so ${judged.length === 0 ? 'no measure is named as the best predictor' : 'those groups name no measure'}.`,
    );
  return [
    { kind: 'heading', level: 2, text: 'Which prototype measure predicts macro-F1' },
    {
      kind: 'paragraph',
      text: `Per dataset and head (with its trainer settings and prototype dimension D), Spearman's rank correlation ρ across the prototype sets between the test macro-F1 and each measure of the prototypes' geometry, each a mean over the seeds of a cell. ρ = +1: the larger the measure, the higher the macro-F1, in exactly the same order; −1: the reverse order; near 0: the measure does not order the sets. With fewer than ${MIN_CORRELATION_CELLS} sets a correlation says nothing and is left out (–), and with fewer than ${MIN_RANKING_CELLS} the measures are not ranked against each other; ties share their mean rank.`,
    },
    {
      kind: 'table',
      header: ['dataset', 'head', 'D', 'cells', ...GEOMETRY_MEASURES.map((m) => `ρ ${m.label}`), 'largest |ρ|'],
      rows,
      note: 'A condition shown as infinite in a record (smallest singular value 0, e.g. the simplex) ranks as the largest. (n=k): only k of the cells have that measure.',
    },
    ...summary.map((text): Block => ({ kind: 'paragraph', text })),
  ];
}
