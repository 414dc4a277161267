import type { ExperimentSpec } from '@hyperproto/core';
import { runIdentity } from './grid-difference.js';
import { datasetClasses, expandGrid, headRef, modelRunsOn } from './grid-expansion.js';
import { cellSeeds, gridSeeds, type Grid } from './grid-schema.js';
import { seedComparison, type SeedComparison } from './report-seed.js';
import type { RunRecord } from './run-record.js';
import type { DuplicateLine, TornLine } from './results-store.js';
import { recordMismatch } from './session-plan.js';

/** Mean and sample standard deviation (null with fewer than two values). */
export interface Stat {
  readonly mean: number;
  readonly sd: number | null;
  readonly n: number;
}

export function stat(values: readonly number[]): Stat | null {
  if (values.length === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length < 2) return { mean, sd: null, n: 1 };
  const variance = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (values.length - 1);
  return { mean, sd: Math.sqrt(variance), n: values.length };
}

export interface ReportDataset {
  readonly id: string;
  readonly label: string;
  readonly classes: number | undefined;
  /** Facts the dataset reported (sizes, sigma), from the first record. */
  readonly info: Readonly<Record<string, unknown>> | undefined;
  /** Finished runs on this dataset: with runs but no score, a reference is "n/a" (the dataset or record has none). */
  readonly runs: number;
  /** Bayes-optimal macro-F1 on the test split, percent, over seeds (null: no run reported one). */
  readonly bayesMacroF1: Stat | null;
  /** What the dataset calls that optimal rule, for labels (see `referenceLabel`); null when no run reported one. */
  readonly referenceName: string | null;
  readonly bayesAccuracy: Stat | null;
  /** The nearest-class-mean baseline on the same test split, percent, over seeds (null: no run recorded one). */
  readonly classMeanMacroF1: Stat | null;
  readonly classMeanAccuracy: Stat | null;
}

/** A reference rule's name as a label: the gaussian data's `bayes-optimal` as "Bayes-optimal", others as named. */
export const referenceLabel = (name: string) => (name === 'bayes-optimal' ? 'Bayes-optimal' : name);

export interface ReportModel {
  readonly id: string;
  readonly label: string;
  readonly head: string;
  readonly headOptions: Readonly<Record<string, unknown>>;
  readonly strategy: string | undefined;
  readonly prototypeOptions: Readonly<Record<string, unknown>> | undefined;
  readonly dims: number | undefined;
  /** The model's own trainer settings (over the grid's), when it has any. */
  readonly trainer?: Readonly<Record<string, unknown>>;
}

export interface ReportCell {
  readonly dataset: string;
  readonly model: string;
  /** Seeds with a record. */
  readonly seeds: readonly number[];
  /** Seeds the grid runs for this cell (the model's own or the grid's); empty when the model skips the dataset. */
  readonly plannedSeeds: readonly number[];
  /** Percent. */
  readonly macroF1: Stat | null;
  readonly accuracy: Stat | null;
  readonly bestEpoch: Stat | null;
  readonly epochs: Stat | null;
  readonly secondsPerEpoch: Stat | null;
  readonly totalSeconds: Stat | null;
  /** Peak resident set of the run's process (`memory.peakResidentBytes`) over the seeds whose records have it. */
  readonly peakResidentBytes: Stat | null;
  /** The record of the lowest seed. */
  readonly firstRecord: RunRecord | undefined;
  /** Every record of the cell, by seed. */
  readonly records: readonly RunRecord[];
}

export interface ReportFailure {
  readonly key: string;
  readonly code: string;
  readonly message: string;
}

export interface ReportSession {
  readonly startedAt: string;
  readonly wallSeconds: number;
  readonly workers: number;
  readonly ran: number;
  readonly failed: number;
  readonly aborted: boolean;
  readonly command?: string;
  readonly cores?: number;
}

/** A line of failures.jsonl or sessions.jsonl that is not what the runner writes (e.g. edited by hand): left out. */
export interface SkippedLine {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  readonly reason: string;
}

/** failures.jsonl or sessions.jsonl that could not be read (permissions, a directory in its place): none of it is shown. */
export interface UnreadFile {
  readonly file: string;
  readonly reason: string;
}

/** A record that `--resume` would refuse for this grid: a run the grid does not have, or one made with another spec. */
export interface ExcludedRecord {
  readonly key: string;
  readonly reason: string;
}

/**
 * The records `--resume` keeps for this grid, and those it refuses (the report leaves them out of every number, as a
 * session would never count them). The same test as the runner's: the run must be in the grid, and its record's spec
 * must be the one the grid makes (`recordMismatch`).
 */
export function recordsOfGrid(grid: Grid, records: readonly RunRecord[]): { counted: RunRecord[]; excluded: ExcludedRecord[] } {
  const runs = new Map(expandGrid(grid).map((run) => [run.key, run]));
  const counted: RunRecord[] = [];
  const excluded: ExcludedRecord[] = [];
  for (const record of records) {
    const run = runs.get(record.key);
    // The grid's spec as checkGrid parses it (runIdentity; the report has no registry).
    const mismatch = run && recordMismatch(record, { parsedSpec: runIdentity(run.spec) as ExperimentSpec });
    if (!run) excluded.push({ key: record.key, reason: 'the grid has no such run' });
    else if (mismatch) excluded.push({ key: record.key, reason: `another spec than the grid makes: ${mismatch}` });
    else counted.push(record);
  }
  return { counted, excluded };
}

export interface ReportData {
  readonly grid: Grid;
  readonly datasets: readonly ReportDataset[];
  readonly models: readonly ReportModel[];
  readonly cells: ReadonlyMap<string, ReportCell>;
  readonly seeds: readonly number[];
  readonly expectedRuns: number;
  readonly records: readonly RunRecord[];
  /** Runs of the grid without a record. */
  readonly missing: readonly string[];
  /** The latest failure of each run that is still missing. */
  readonly failures: readonly ReportFailure[];
  /** Keys of failures.jsonl that are not runs of the grid (another grid's, or edited): not listed as failed runs. */
  readonly strayFailures: readonly string[];
  /** Records of results.jsonl left out because `--resume` would refuse them (see `recordsOfGrid`). */
  readonly excluded: readonly ExcludedRecord[];
  /** Lines of failures.jsonl and sessions.jsonl that were left out, with why. */
  readonly skippedLines: readonly SkippedLine[];
  /** Those of the two files that could not be read at all. */
  readonly unreadFiles: readonly UnreadFile[];
  readonly sessions: readonly ReportSession[];
  readonly torn: TornLine | undefined;
  /** Records of a run written more than once: the first counts. */
  readonly duplicates: readonly DuplicateLine[];
  /** Distinct `engine on backend` strings, with run counts. */
  readonly engines: Readonly<Record<string, number>>;
  /** Distinct values of each version across records. */
  readonly versions: Readonly<Record<string, readonly string[]>>;
  /** Whether, and through which cells, the seed study's comparison applies to this grid. */
  readonly seed: SeedComparison;
}

export const cellKey = (dataset: string, model: string) => `${dataset}/${model}`;

const percent = (values: readonly (number | null)[]) => stat(values.filter((v): v is number => v !== null).map((v) => 100 * v));

export function buildReportData(
  grid: Grid,
  records: readonly RunRecord[],
  extras: {
    failures?: readonly ReportFailure[];
    sessions?: readonly ReportSession[];
    torn?: TornLine;
    duplicates?: readonly DuplicateLine[];
    excluded?: readonly ExcludedRecord[];
    skippedLines?: readonly SkippedLine[];
    unreadFiles?: readonly UnreadFile[];
  } = {},
): ReportData {
  const byCell = new Map<string, RunRecord[]>();
  for (const record of records) {
    const key = cellKey(record.dataset, record.model);
    byCell.set(key, [...(byCell.get(key) ?? []), record]);
  }

  // A dataset without a label of its own is named by its class count, unless another dataset has the same count.
  const classesOf = (d: Grid['datasets'][number]) => records.find((r) => r.dataset === d.id)?.classes ?? datasetClasses(d);
  const countLabels = grid.datasets.flatMap((d) => (d.label === undefined ? [String(classesOf(d))] : []));
  const datasets: ReportDataset[] = grid.datasets.map((d) => {
    const own = records.filter((r) => r.dataset === d.id);
    // One Bayes score per seed: every model of a seed sees the same test split.
    const bayes = perSeed(own, (r) => r.metrics.bayes ?? undefined);
    // The class-mean baseline, too, depends on the data of a seed only.
    const classMean = perSeed(own, (r) => r.metrics.classMean);
    const classes = classesOf(d);
    const byCount = classes !== undefined && countLabels.filter((label) => label === String(classes)).length === 1;
    // Records from before the name was recorded are all the gaussian data's.
    const referenceNames = [...new Set(own.flatMap((r) => (r.metrics.bayes ? [r.metrics.reference ?? 'bayes-optimal'] : [])))];
    return {
      id: d.id,
      label: d.label ?? (byCount ? String(classes) : d.id),
      referenceName: referenceNames.length ? referenceNames.join(' / ') : null,
      classes,
      info: own[0]?.data,
      runs: own.length,
      bayesMacroF1: percent(bayes.map((s) => s.macroF1)),
      bayesAccuracy: percent(bayes.map((s) => s.accuracy)),
      classMeanMacroF1: percent(classMean.map((s) => s.macroF1)),
      classMeanAccuracy: percent(classMean.map((s) => s.accuracy)),
    };
  });
  // A model's label heads its column: where two models share one (e.g. "8" for two strategies at D = 8), both are
  // named by their ids, which are unique, so no column is ambiguous.
  const ownLabels = grid.models.map((m) => m.label ?? m.id);
  const models: ReportModel[] = grid.models.map((m, i) => ({
    id: m.id,
    label: ownLabels.filter((label) => label === ownLabels[i]).length === 1 ? ownLabels[i]! : m.id,
    head: headRef(m).name,
    headOptions: headRef(m).options,
    strategy: m.prototypes?.strategy,
    prototypeOptions: m.prototypes?.options,
    dims: m.prototypes?.dims,
    ...(m.trainer ? { trainer: m.trainer } : {}),
  }));

  const cells = new Map<string, ReportCell>();
  for (const d of datasets) {
    for (const m of models) {
      const own = (byCell.get(cellKey(d.id, m.id)) ?? []).slice().sort((a, b) => a.seed - b.seed);
      const entry = grid.models.find((gm) => gm.id === m.id)!;
      cells.set(cellKey(d.id, m.id), {
        dataset: d.id,
        model: m.id,
        seeds: own.map((r) => r.seed),
        plannedSeeds: modelRunsOn(entry, d) ? cellSeeds(grid, entry, d.id) : [],
        macroF1: percent(own.map((r) => r.metrics.macroF1)),
        accuracy: percent(own.map((r) => r.metrics.accuracy)),
        bestEpoch: stat(own.map((r) => r.bestEpoch)),
        epochs: stat(own.map((r) => r.epochs)),
        secondsPerEpoch: stat(own.map((r) => r.secondsPerEpoch)),
        totalSeconds: stat(own.map((r) => r.seconds.total)),
        peakResidentBytes: stat(own.flatMap((r) => (r.memory ? [r.memory.peakResidentBytes] : []))),
        firstRecord: own[0],
        records: own,
      });
    }
  }

  const have = new Set(records.map((r) => r.key));
  const planned = expandGrid(grid).map((r) => r.key);
  const inGrid = new Set(planned);
  const missing = planned.filter((key) => !have.has(key));
  const latestFailure = new Map<string, ReportFailure>();
  const strayFailures = new Set<string>();
  for (const failure of extras.failures ?? []) {
    if (!inGrid.has(failure.key)) strayFailures.add(failure.key);
    else if (!have.has(failure.key)) latestFailure.set(failure.key, failure);
  }

  const engines: Record<string, number> = {};
  const versions: Record<string, Set<string>> = {};
  const addVersion = (name: string, value: string | null | undefined) => {
    if (value) (versions[name] ??= new Set()).add(value);
  };
  for (const r of records) {
    const engine = `${r.engine.name} on ${r.engine.backend}`;
    engines[engine] = (engines[engine] ?? 0) + 1;
    addVersion('node', r.versions.node);
    for (const [name, version] of Object.entries(r.versions.hyperproto)) addVersion(name, version);
    for (const [name, version] of Object.entries(r.versions.other)) addVersion(name, version);
  }

  return {
    grid,
    datasets,
    models,
    cells,
    seeds: gridSeeds(grid),
    expectedRuns: planned.length,
    records,
    missing,
    failures: [...latestFailure.values()],
    strayFailures: [...strayFailures],
    excluded: extras.excluded ?? [],
    skippedLines: extras.skippedLines ?? [],
    unreadFiles: extras.unreadFiles ?? [],
    sessions: extras.sessions ?? [],
    torn: extras.torn,
    duplicates: extras.duplicates ?? [],
    engines,
    versions: Object.fromEntries(Object.entries(versions).map(([name, set]) => [name, [...set].sort()])),
    seed: seedComparison(grid),
  };
}

/**
 * The best network's test macro-F1 on a dataset when every network with records there scores below the
 * nearest-class-mean baseline (no network at all): then "best" ranks models that all lose to the baseline, and the
 * report says so. Undefined where some network reaches the baseline, or either side has no score.
 */
export function allBelowClassMean(data: ReportData, dataset: ReportDataset): { model: ReportModel; macroF1: Stat } | undefined {
  const baseline = dataset.classMeanMacroF1;
  if (!baseline) return undefined;
  const scored = data.models.flatMap((model) => {
    const macroF1 = data.cells.get(cellKey(dataset.id, model.id))?.macroF1;
    return macroF1 ? [{ model, macroF1 }] : [];
  });
  if (scored.length === 0) return undefined;
  const best = scored.reduce((a, b) => (b.macroF1.mean > a.macroF1.mean ? b : a));
  return best.macroF1.mean < baseline.mean ? best : undefined;
}

/** One score per seed (the first record of each seed that has one): references that depend on the data only. */
function perSeed<T>(records: readonly RunRecord[], pick: (record: RunRecord) => T | undefined): T[] {
  const bySeed = new Map<number, T>();
  for (const r of records) {
    const value = pick(r);
    if (value !== undefined && !bySeed.has(r.seed)) bySeed.set(r.seed, value);
  }
  return [...bySeed.values()];
}

/** One epoch of a curve over seeds: the mean, the smallest and largest value, and how many runs reached it. */
export interface CurvePoint {
  readonly epoch: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/**
 * A per-epoch value (validation accuracy, loss) over the runs of a cell: at each epoch, over the runs that reached
 * it (early stopping ends runs at different epochs, so the last epochs may rest on fewer seeds). Non-finite values
 * are left out.
 */
export function curveOverSeeds(
  records: readonly RunRecord[],
  pick: (epoch: RunRecord['history'][number]) => number | null | undefined,
): CurvePoint[] {
  const byEpoch = new Map<number, number[]>();
  for (const record of records) {
    for (const entry of record.history) {
      const value = pick(entry);
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      byEpoch.set(entry.epoch, [...(byEpoch.get(entry.epoch) ?? []), value]);
    }
  }
  return [...byEpoch]
    .sort(([a], [b]) => a - b)
    .map(([epoch, values]) => ({
      epoch,
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      min: Math.min(...values),
      max: Math.max(...values),
      n: values.length,
    }));
}
