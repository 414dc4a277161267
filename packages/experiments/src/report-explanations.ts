import type { TrainerSettings } from '@hyperproto/core';
import { cellKey, type ReportCell, type ReportData, type ReportDataset, type ReportModel, type Stat } from './report-data.js';
import type { Block } from './report-document.js';
import { clearDifference, PAR_POINTS } from './report-findings.js';
import { GEOMETRY_MEASURES, geometryGroups, MIN_CORRELATION_CELLS, MIN_RANKING_CELLS, rankable } from './report-geometry.js';
import { headName } from './report-plots.js';
import { modelSettings, tracedCells } from './report-test-trace.js';

export type ExplanationId = 'geometry' | 'width' | 'data' | 'stopping' | 'loss' | 'classifier';
export type ExplanationStatus = 'supported' | 'partly supported' | 'not supported' | 'not decided yet';

/** One candidate explanation of a prototype head's gap to softmax, judged from the records. */
export interface Explanation {
  readonly id: ExplanationId;
  readonly title: string;
  /** What the records must show for it to explain the gap. */
  readonly test: string;
  readonly status: ExplanationStatus;
  /** The numbers behind the status, one comparison a line; context lines do not enter the status. */
  readonly evidence: readonly string[];
  /** Planned cells (dataset/model) without a record that would enter its comparisons. */
  readonly missing: readonly string[];
  /** Where each comparison that entered the status closed the gap, narrowed it, or did neither. */
  readonly tally: Readonly<Record<Outcome, readonly string[]>>;
}

/**
 * What one comparison says about an explanation: it closes the gap (what is left is not a clear difference),
 * narrows it (or clearly changes macro-F1) while a clear gap remains, or does not.
 */
export type Outcome = 'closes' | 'narrows' | 'no';

/** One comparison's outcome and where it was made. */
interface Judged {
  readonly outcome: Outcome;
  readonly where: string;
}

/** A planned cell with what the explanations read of it. */
interface Setting {
  readonly dataset: ReportDataset;
  readonly datasetName: string;
  readonly datasetOptions: Readonly<Record<string, unknown>>;
  readonly model: ReportModel;
  readonly trainer: TrainerSettings;
  readonly cell: ReportCell;
}

/** The cells of one dataset under one set of trainer settings: softmax, the prototype heads by head and set, the learned controls by D. */
interface Condition {
  readonly key: string;
  readonly dataset: ReportDataset;
  readonly datasetName: string;
  readonly datasetOptions: Readonly<Record<string, unknown>>;
  readonly trainer: TrainerSettings;
  softmax?: Setting;
  readonly heads: Map<string, Map<string, Setting>>;
  readonly learned: Map<number, Setting>;
}

const HPN = 'hpn';

const canonical = (value: Readonly<Record<string, unknown>>) =>
  JSON.stringify(Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))));
const without = (value: Readonly<Record<string, unknown>>, ...keys: string[]) =>
  Object.fromEntries(Object.entries(value).filter(([k, v]) => !keys.includes(k) && v !== undefined));

const score = (s: Stat) => `${s.mean.toFixed(1)}${s.sd !== null ? ` ± ${s.sd.toFixed(1)}` : ' (1 seed)'}`;
const points = (x: number) => `${Math.abs(x).toFixed(1)} point${Math.abs(x).toFixed(1) === '1.0' ? '' : 's'}`;
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;
const rho = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
const f1 = (setting: Setting | undefined) => setting?.cell.macroF1 ?? null;
const setLabel = (model: ReportModel) =>
  `${model.strategy} D=${model.dims}${model.prototypeOptions && Object.keys(model.prototypeOptions).length ? ` ${JSON.stringify(model.prototypeOptions)}` : ''}`;

/** How a model enters the comparisons: the reference softmax, a prototype head over a set, a learned classifier over D, or not at all. */
function roleOf(
  model: ReportModel,
): { kind: 'softmax' } | { kind: 'prototypes'; head: string; set: string } | { kind: 'learned'; dims: number } | undefined {
  if (model.strategy !== undefined && model.dims !== undefined) return { kind: 'prototypes', head: headName(model), set: setLabel(model) };
  const options = model.headOptions;
  if (model.head === 'softmax' && Object.keys(options).length === 0) return { kind: 'softmax' };
  const sampled = typeof options.sampledShare === 'number' && options.sampledShare < 1;
  if (model.head === 'bottleneck-softmax' && typeof options.dims === 'number' && !sampled) return { kind: 'learned', dims: options.dims };
  return undefined;
}

function stoppingLabel(trainer: TrainerSettings): string {
  return trainer.patience >= trainer.maxEpochs ? `all ${trainer.maxEpochs} epochs` : `patience ${trainer.patience}`;
}

/** A condition named by its parts, leaving out the one a comparison varies. */
function conditionLabel(condition: Condition, leave?: 'data' | 'width' | 'stopping'): string {
  const parts = [
    leave === 'data' ? `${condition.dataset.classes ?? condition.dataset.label} classes` : condition.dataset.label,
    ...(leave === 'width' ? [] : [`width ${condition.trainer.hiddenUnits}`]),
    ...(leave === 'stopping' ? [] : [stoppingLabel(condition.trainer)]),
  ];
  return parts.join(', ');
}

function conditionsOf(data: ReportData): Condition[] {
  const conditions = new Map<string, Condition>();
  for (const dataset of data.datasets) {
    const entry = data.grid.datasets.find((d) => d.id === dataset.id)!;
    for (const model of data.models) {
      const cell = data.cells.get(cellKey(dataset.id, model.id));
      const role = roleOf(model);
      const trainer = modelSettings(data, model);
      if (!cell || cell.plannedSeeds.length === 0 || !role || !trainer) continue;
      const key = JSON.stringify([dataset.id, canonical(trainer)]);
      let condition = conditions.get(key);
      if (!condition) {
        condition = {
          key,
          dataset,
          datasetName: entry.name,
          datasetOptions: entry.options,
          trainer,
          heads: new Map(),
          learned: new Map(),
        };
        conditions.set(key, condition);
      }
      const setting: Setting = { dataset, datasetName: entry.name, datasetOptions: entry.options, model, trainer, cell };
      if (role.kind === 'softmax') condition.softmax ??= setting;
      else if (role.kind === 'learned') condition.learned.set(role.dims, setting);
      else {
        const sets = condition.heads.get(role.head) ?? new Map<string, Setting>();
        sets.set(role.set, setting);
        condition.heads.set(role.head, sets);
      }
    }
  }
  return [...conditions.values()];
}

const recorded = (setting: Setting | undefined): setting is Setting => setting !== undefined && setting.cell.macroF1 !== null;
const unrecorded = (settings: readonly (Setting | undefined)[]) =>
  settings.filter((s): s is Setting => s !== undefined && s.cell.records.length === 0).map((s) => cellKey(s.dataset.id, s.model.id));

function bestOf(settings: readonly Setting[]): Setting | undefined {
  return settings.filter(recorded).reduce<Setting | undefined>((best, s) => (!best || f1(s)!.mean > f1(best)!.mean ? s : best), undefined);
}

function judge(judged: readonly Judged[]): { status: ExplanationStatus; tally: Record<Outcome, string[]> } {
  const tally: Record<Outcome, string[]> = { closes: [], narrows: [], no: [] };
  for (const { outcome, where } of judged) tally[outcome].push(where);
  const status: ExplanationStatus =
    judged.length === 0
      ? 'not decided yet'
      : tally.closes.length === judged.length
        ? 'supported'
        : tally.no.length < judged.length
          ? 'partly supported'
          : 'not supported';
  return { status, tally };
}

/** "hpn trails softmax by 3.1 points (simplex D=1000 79.4 ± 0.1 vs 82.5 ± 0.5)". */
function gapText(head: string, best: Setting, softmax: Stat): string {
  const gap = softmax.mean - f1(best)!.mean;
  return `${head} ${gap >= 0 ? 'trails' : 'leads'} softmax by ${points(gap)} (${setLabel(best.model)} ${score(f1(best)!)} vs ${score(softmax)})`;
}

/** Whether a head's best set is still clearly below softmax. */
const clearlyBelow = (head: Stat, softmax: Stat) => {
  const d = clearDifference(softmax, head);
  return d.clear && d.gap > 0;
};

function geometryExplanation(data: ReportData, conditions: readonly Condition[]): Explanation {
  const evidence: string[] = [];
  const outcomes: Judged[] = [];
  const groups = geometryGroups(data).filter((g) => g.cells.length >= MIN_CORRELATION_CELLS);
  const conditionOf = (dataset: ReportDataset, model: ReportModel) => {
    const trainer = modelSettings(data, model);
    return trainer ? conditions.find((c) => c.key === JSON.stringify([dataset.id, canonical(trainer)])) : undefined;
  };
  for (const group of groups) {
    const stats = group.cells
      .map((c) => ({ model: c.model, stat: data.cells.get(cellKey(group.dataset.id, c.model.id))?.macroF1 ?? null }))
      .filter((c): c is { model: ReportModel; stat: Stat } => c.stat !== null)
      .sort((a, b) => b.stat.mean - a.stat.mean);
    const best = stats[0]!;
    const worst = stats[stats.length - 1]!;
    const range = clearDifference(best.stat, worst.stat);
    const ranked = GEOMETRY_MEASURES.map(({ key, label }): { label: string; rho: number | null; n: number } => ({
      label,
      ...group.correlations[key],
    }))
      .filter((c): c is { label: string; rho: number; n: number } => rankable(c))
      .sort((a, b) => Math.abs(b.rho) - Math.abs(a.rho));
    const condition = conditionOf(group.dataset, group.example);
    const softmax = f1(condition?.softmax);
    // Where even the worst set is on par with softmax there is no gap for the geometry to explain.
    const gapToExplain = !softmax || clearlyBelow(worst.stat, softmax);
    const outcome: Outcome = !range.clear ? 'no' : softmax && clearlyBelow(best.stat, softmax) ? 'narrows' : softmax ? 'closes' : 'narrows';
    const where = condition ? conditionLabel(condition) : group.dataset.label;
    if (gapToExplain) outcomes.push({ outcome, where: `${where}, ${headName(group.example)}` });
    evidence.push(
      `${where}, ${headName(group.example)}, ${stats.length} sets of D=${group.example.dims}: from ${worst.model.strategy} ${score(worst.stat)} to ${best.model.strategy} ${score(best.stat)}, ${points(range.gap)} (${range.clear ? 'a clear difference' : "within the seeds' spread"})${ranked[0] ? `; ordered best by ${ranked[0].label} (ρ ${rho(ranked[0].rho)})` : `; too few sets (under ${MIN_RANKING_CELLS}) to rank the measures`}${softmax ? `; the best set ${clearlyBelow(best.stat, softmax) ? `still trails softmax ${score(softmax)} by ${points(softmax.mean - best.stat.mean)}` : `is on par with softmax ${score(softmax)}`}${gapToExplain ? '' : ', and so is the worst: no gap to explain here'}` : '; no softmax here to compare with'}.`,
    );
  }
  const rankedGroups = groups.filter((g) => GEOMETRY_MEASURES.some(({ key }) => rankable(g.correlations[key])));
  if (rankedGroups.length > 1) {
    const means = GEOMETRY_MEASURES.map(({ key, label }): { label: string; mean: number | null } => {
      const values = rankedGroups.map((g) => g.correlations[key]).filter(rankable);
      return { label, mean: values.length ? values.reduce((sum, c) => sum + c.rho!, 0) / values.length : null };
    }).filter((m): m is { label: string; mean: number } => m.mean !== null);
    const top = [...means].sort((a, b) => Math.abs(b.mean) - Math.abs(a.mean))[0];
    if (top)
      evidence.push(
        `Over the ${rankedGroups.length} groups with at least ${MIN_RANKING_CELLS} sets the measure with the largest mean |ρ| is ${top.label} (${rho(top.mean)}); mean ρ of each: ${means.map((m) => `${m.label} ${rho(m.mean)}`).join(', ')}.`,
      );
  }
  // Planned groups of at least MIN_CORRELATION_CELLS sets: their cells without records.
  const planned = new Map<string, Setting[]>();
  for (const condition of conditions)
    for (const [head, sets] of condition.heads)
      for (const setting of sets.values()) {
        const key = JSON.stringify([condition.key, head, setting.model.dims]);
        planned.set(key, [...(planned.get(key) ?? []), setting]);
      }
  const missing = [...planned.values()].filter((list) => list.length >= MIN_CORRELATION_CELLS).flatMap((list) => unrecorded(list));
  return {
    id: 'geometry',
    title: 'Prototype geometry',
    test: 'across the prototype sets of one head, data, width and stopping rule, macro-F1 differs clearly and a geometry measure orders the sets; in full where the best set is on par with softmax.',
    ...judge(outcomes),
    evidence,
    missing,
  };
}

interface Factor {
  readonly id: 'width' | 'data' | 'stopping';
  readonly title: string;
  readonly test: string;
  value(condition: Condition): number | undefined;
  label(condition: Condition): string;
  /** What else must be equal for two conditions to be compared. */
  rest(condition: Condition): string;
}

const FACTORS: readonly Factor[] = [
  {
    id: 'width',
    title: 'Hidden width',
    test: 'a wider network narrows the gap to softmax (models that differ only in their hidden width).',
    value: (c) => c.trainer.hiddenUnits,
    label: (c) => `width ${c.trainer.hiddenUnits}`,
    rest: (c) => JSON.stringify([c.dataset.id, canonical(without(c.trainer, 'hiddenUnits'))]),
  },
  {
    id: 'data',
    title: 'Training data',
    test: 'more training samples per class narrow the gap (the same models on data that differ only in samples per class).',
    value: (c) => (typeof c.datasetOptions.trainPerClass === 'number' ? c.datasetOptions.trainPerClass : undefined),
    label: (c) => `${String(c.datasetOptions.trainPerClass)}/class`,
    rest: (c) => JSON.stringify([c.datasetName, canonical(without(c.datasetOptions, 'trainPerClass')), canonical(c.trainer)]),
  },
  {
    id: 'stopping',
    title: 'Stopping',
    test: 'training all epochs instead of stopping early narrows the gap (models that differ only in their patience).',
    value: (c) => c.trainer.patience,
    label: (c) => stoppingLabel(c.trainer),
    rest: (c) => JSON.stringify([c.dataset.id, canonical(without(c.trainer, 'patience', 'traceTest'))]),
  },
];

/** The gap of one head compared between two conditions, over the prototype sets both have records of. */
function compareGap(factor: Factor, low: Condition, high: Condition, head: string): { judged?: Judged; line?: string } {
  const lowSets = low.heads.get(head)!;
  const highSets = high.heads.get(head)!;
  const common = [...lowSets.keys()].filter((k) => recorded(lowSets.get(k)) && recorded(highSets.get(k)));
  const softLow = f1(low.softmax);
  const softHigh = f1(high.softmax);
  if (common.length === 0 || !softLow || !softHigh) return {};
  const bestLow = bestOf(common.map((k) => lowSets.get(k)!))!;
  const bestHigh = bestOf(common.map((k) => highSets.get(k)!))!;
  const gapLow = softLow.mean - f1(bestLow)!.mean;
  const gapHigh = softHigh.mean - f1(bestHigh)!.mean;
  const change = gapHigh - gapLow;
  const noise = [softLow, softHigh, f1(bestLow)!, f1(bestHigh)!].reduce((sum, s) => sum + (s.sd ?? 0), 0);
  const clear = Math.abs(change) > PAR_POINTS && Math.abs(change) > noise;
  const outcome: Outcome = clear && change < 0 ? (clearlyBelow(f1(bestHigh)!, softHigh) ? 'narrows' : 'closes') : 'no';
  const verdict = !clear
    ? `the gap changes by ${signed(change)}: not a clear change (it needs more than ${PAR_POINTS} points and the seeds' spread, here ${noise.toFixed(1)})`
    : change > 0
      ? `the gap widens by ${points(change)}`
      : outcome === 'closes'
        ? `the gap closes (narrows by ${points(change)})`
        : `the gap narrows by ${points(change)}, a clear gap remains`;
  return {
    judged: { outcome, where: `${conditionLabel(low, factor.id)}, ${head}, ${factor.label(low)} to ${factor.label(high)}` },
    line: `${conditionLabel(low, factor.id)}, ${head}: with ${factor.label(low)} ${gapText(head, bestLow, softLow)}; with ${factor.label(high)} ${gapText(head, bestHigh, softHigh)}: ${verdict}.`,
  };
}

function factorExplanation(factor: Factor, conditions: readonly Condition[], data: ReportData): Explanation {
  const groups = new Map<string, Condition[]>();
  for (const condition of conditions) {
    if (factor.value(condition) === undefined) continue;
    const key = factor.rest(condition);
    groups.set(key, [...(groups.get(key) ?? []), condition]);
  }
  const evidence: string[] = [];
  const outcomes: Judged[] = [];
  const missing: string[] = [];
  for (const list of groups.values()) {
    const values = [...new Set(list.map((c) => factor.value(c)!))].sort((a, b) => a - b);
    if (values.length < 2) continue;
    const sorted = [...list].sort((a, b) => factor.value(a)! - factor.value(b)!);
    const base = sorted[0]!;
    for (const other of sorted.slice(1)) {
      for (const head of [...base.heads.keys()].filter((h) => other.heads.has(h))) {
        const { judged, line } = compareGap(factor, base, other, head);
        if (judged) outcomes.push(judged);
        if (line) evidence.push(line);
      }
    }
    for (const condition of sorted)
      missing.push(...unrecorded([condition.softmax, ...[...condition.heads.values()].flatMap((sets) => [...sets.values()])]));
  }
  if (factor.id === 'width') evidence.push(...narrowNetworks(conditions, groups));
  if (factor.id === 'stopping') evidence.push(...traceLines(data));
  return { id: factor.id, title: factor.title, test: factor.test, ...judge(outcomes), evidence, missing };
}

/** Context for width: conditions whose hidden width is below the class count, each head's gap there. */
function narrowNetworks(conditions: readonly Condition[], groups: ReadonlyMap<string, Condition[]>): string[] {
  const lines: string[] = [];
  for (const condition of conditions) {
    const classes = condition.dataset.classes;
    const softmax = f1(condition.softmax);
    if (classes === undefined || condition.trainer.hiddenUnits >= classes || !softmax) continue;
    const heads = [...condition.heads].flatMap(([head, sets]) => {
      const best = bestOf([...sets.values()]);
      return best ? [gapText(head, best, softmax)] : [];
    });
    if (heads.length === 0) continue;
    const alone = (groups.get(FACTORS[0]!.rest(condition))?.length ?? 0) < 2;
    lines.push(
      `Context: ${conditionLabel(condition)}, fewer hidden units than classes: ${heads.join('; ')}${alone ? ' (no other width on these data in this grid)' : ''}.`,
    );
  }
  return lines;
}

/** Context for stopping: the traced runs' test macro-F1 at the kept epoch against their best test epoch. */
function traceLines(data: ReportData): string[] {
  return tracedCells(data).map(
    (c) =>
      `Context: ${c.dataset.label}, ${c.model.label}: test macro-F1 ${score(c.kept)} at the kept epoch (${c.keptEpoch.mean.toFixed(0)}), ${score(c.max)} at the best test epoch (${c.maxEpoch.mean.toFixed(0)}), known only afterwards.`,
  );
}

function lossExplanation(conditions: readonly Condition[]): Explanation {
  const evidence: string[] = [];
  const outcomes: Judged[] = [];
  const missing: string[] = [];
  for (const condition of conditions) {
    const hpn = condition.heads.get(HPN);
    if (!hpn || condition.heads.size < 2) continue;
    missing.push(...unrecorded([condition.softmax, ...[...condition.heads.values()].flatMap((sets) => [...sets.values()])]));
    const softmax = f1(condition.softmax);
    for (const [head, sets] of condition.heads) {
      if (head === HPN) continue;
      const common = [...sets.keys()].filter((k) => recorded(sets.get(k)) && recorded(hpn.get(k)));
      if (common.length === 0) continue;
      const bestOther = bestOf(common.map((k) => sets.get(k)!))!;
      const bestHpn = bestOf(common.map((k) => hpn.get(k)!))!;
      const d = clearDifference(f1(bestOther)!, f1(bestHpn)!);
      const perSet = common.map((k) => f1(sets.get(k))!.mean - f1(hpn.get(k))!.mean);
      const hpnTrails = softmax ? clearlyBelow(f1(bestHpn)!, softmax) : true;
      const outcome: Outcome | undefined = !hpnTrails
        ? undefined
        : d.clear && d.gap > 0
          ? softmax && !clearlyBelow(f1(bestOther)!, softmax)
            ? 'closes'
            : 'narrows'
          : 'no';
      if (outcome) outcomes.push({ outcome, where: `${conditionLabel(condition)}, ${head}` });
      evidence.push(
        `${conditionLabel(condition)}: best ${head} ${setLabel(bestOther.model)} ${score(f1(bestOther)!)} against best hpn ${setLabel(bestHpn.model)} ${score(f1(bestHpn)!)}: ${signed(d.gap)} (${d.clear ? 'a clear difference' : "within the seeds' spread"}); ${head} minus hpn per set over ${common.length} set${common.length === 1 ? '' : 's'}: ${signed(Math.min(...perSet))} to ${signed(Math.max(...perSet))}${softmax ? `; softmax ${score(softmax)}${outcome === undefined ? ', with hpn on par: no gap to explain here' : ''}` : ''}.`,
      );
    }
  }
  return {
    id: 'loss',
    title: 'The loss',
    test: "over the same prototypes, another loss (cosine-softmax: cross-entropy over scaled cosines) clearly beats the HPN's cosine loss; in full where it reaches softmax.",
    ...judge(outcomes),
    evidence,
    missing,
  };
}

function classifierExplanation(conditions: readonly Condition[]): Explanation {
  const evidence: string[] = [];
  const outcomes: Judged[] = [];
  const missing: string[] = [];
  for (const condition of conditions) {
    const softmax = f1(condition.softmax);
    for (const [dims, control] of condition.learned) {
      const atDims = [...condition.heads.values()].flatMap((sets) => [...sets.values()].filter((s) => s.model.dims === dims));
      missing.push(...unrecorded([control, condition.softmax, ...atDims]));
      const learned = f1(control);
      if (!learned) continue;
      const vsSoftmax = softmax ? clearDifference(learned, softmax) : undefined;
      const best = bestOf(atDims);
      const softmaxPart = softmax
        ? `; against softmax ${score(softmax)}: ${signed(vsSoftmax!.gap)} (${vsSoftmax!.clear ? `${dims} output dimensions ${vsSoftmax!.gap < 0 ? 'cost' : 'gain'} a clear difference` : 'on par'})`
        : '';
      if (!best) {
        evidence.push(
          `Context: ${conditionLabel(condition)}: learned classifier over D=${dims} ${score(learned)}${softmaxPart}; no prototype head at D=${dims} here.`,
        );
        continue;
      }
      const d = clearDifference(learned, f1(best)!);
      const outcome: Outcome = d.clear && d.gap > 0 ? (softmax && clearlyBelow(learned, softmax) ? 'narrows' : 'closes') : 'no';
      outcomes.push({ outcome, where: `${conditionLabel(condition)}, D=${dims}` });
      evidence.push(
        `${conditionLabel(condition)}: learned classifier over D=${dims} ${score(learned)} against the best prototype head at D=${dims}, ${headName(best.model)} ${setLabel(best.model)} ${score(f1(best)!)}: ${signed(d.gap)} (${d.clear ? 'a clear difference' : "within the seeds' spread"})${softmaxPart}.`,
      );
    }
  }
  return {
    id: 'classifier',
    title: 'Fixed prototypes against a learned classifier',
    test: 'a softmax whose classifier is learned over a D-wide output (bottleneck-softmax) clearly beats the prototype heads at the same D, so fixing the classifier, not the output width, costs; in full where it reaches softmax.',
    ...judge(outcomes),
    evidence,
    missing,
  };
}

/** Every candidate explanation, judged from the records; empty when the grid varies none of them beyond the prototype sets. */
export function explanations(data: ReportData): Explanation[] {
  const conditions = conditionsOf(data);
  const withReference = conditions.filter((c) => c.softmax && c.heads.size > 0);
  const varied =
    FACTORS.some((factor) => {
      const values = new Map<string, Set<number>>();
      for (const c of withReference) {
        const value = factor.value(c);
        if (value === undefined) continue;
        const key = factor.rest(c);
        values.set(key, (values.get(key) ?? new Set()).add(value));
      }
      return [...values.values()].some((set) => set.size > 1);
    }) ||
    conditions.some((c) => c.heads.has(HPN) && c.heads.size > 1) ||
    conditions.some((c) => c.learned.size > 0);
  if (withReference.length === 0 || !varied) return [];
  return [
    geometryExplanation(data, conditions),
    ...FACTORS.map((factor) => factorExplanation(factor, conditions, data)),
    lossExplanation(conditions),
    classifierExplanation(conditions),
  ].map((e) => ({ ...e, missing: [...new Set(e.missing)] }));
}

const STATUS_ORDER: readonly ExplanationStatus[] = ['supported', 'partly supported', 'not supported', 'not decided yet'];

/** Where a partly supported explanation held: "of 3 comparisons, it closes the gap in 1 (where), narrows it in none, neither in 2". */
function partly(e: Explanation): string {
  const n = e.tally.closes.length + e.tally.narrows.length + e.tally.no.length;
  const part = (k: number, where: readonly string[]) => (k === 0 ? 'none' : `${k}${k < n ? ` (${where.join('; ')})` : ''}`);
  return `of ${n} comparison${n === 1 ? '' : 's'}, it closes the gap in ${part(e.tally.closes.length, e.tally.closes)}, narrows it without closing it in ${part(e.tally.narrows.length, e.tally.narrows)}, neither in ${e.tally.no.length === 0 ? 'none' : e.tally.no.length}`;
}

/** The report section "What explains the gap to softmax": each explanation's status with its numbers, then the conclusion. */
export function explanationBlocks(data: ReportData): Block[] {
  const list = explanations(data);
  if (list.length === 0) return [];
  const conclusion = STATUS_ORDER.map((status) => ({ status, those: list.filter((e) => e.status === status) }))
    .filter((g) => g.those.length > 0)
    .map(({ status, those }) => {
      const names =
        status === 'partly supported'
          ? those.map((e) => `${e.title.toLowerCase()} (${partly(e)})`).join('; ')
          : those.map((e) => e.title.toLowerCase()).join(', ');
      return `${status[0]!.toUpperCase()}${status.slice(1)}: ${names}${status === 'not decided yet' ? ' (the cells that test them have no records yet)' : ''}.`;
    });
  return [
    { kind: 'heading', level: 2, text: 'What explains the gap to softmax' },
    {
      kind: 'paragraph',
      text: `Each candidate is judged from the records alone, by one rule: two mean test macro-F1 differ clearly when the gap exceeds ${PAR_POINTS} points and the sum of their standard deviations over seeds (a cell with one seed has no spread, so there the ${PAR_POINTS} points decide alone). A head's gap is softmax's mean minus the head's best prototype set's under the same data, width and stopping rule; where two conditions are compared, only the prototype sets with records in both count, and a change of a gap must exceed ${PAR_POINTS} points and the sum of the four standard deviations. Supported: the change closes the gap (what is left is not a clear difference); partly supported: it changes macro-F1 or narrows the gap clearly, but a clear gap remains, or it does so in some comparisons only; not supported: no clear change toward closing the gap; not decided yet: none of the cells that test it has records. Lines marked "Context" inform without entering the status.`,
    },
    {
      kind: 'list',
      items: list.map((e) => ({
        strong: `${e.title}: ${e.status}`,
        text: `tested by: ${e.test}`,
        sub: [
          ...(e.evidence.length ? e.evidence : ['no comparison has records on both sides yet']),
          ...(e.missing.length
            ? [`not run yet (${e.missing.length} cell${e.missing.length === 1 ? '' : 's'}): ${e.missing.join(', ')}`]
            : []),
        ],
      })),
    },
    { kind: 'paragraph', text: `From the present records. ${conclusion.join(' ')}` },
  ];
}
