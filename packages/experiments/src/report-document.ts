import { TrainerSettingsSchema } from '@hyperproto/core';
import {
  allBelowClassMean,
  cellKey,
  type ReportCell,
  type ReportData,
  type ReportDataset,
  type ReportModel,
  referenceLabel,
  type Stat,
} from './report-data.js';
import { calibration, COMPARABLE_SPEED_RATIO, evaluateFindings, PAR_POINTS, type Finding } from './report-findings.js';
import { SEED_CLASSES, SEED_MODELS } from './report-seed.js';
import { modelSettings } from './report-test-trace.js';
import {
  againstClassCountPlot,
  f1AgainstDimsPlot,
  modelName,
  secondsPerEpochPlot,
  validationCurvesPlot,
  type ReportPlot,
} from './report-plots.js';
import { explanationBlocks } from './report-explanations.js';
import { geometryBlocks } from './report-geometry.js';
import { bytesText, peakMemoryNote } from './report-memory.js';
import { phaseBlocks } from './report-phases.js';
import { testTraceBlocks, testTracePlots } from './report-test-trace.js';
import { describeDuplicates } from './results-store.js';

/** The report as blocks, rendered to Markdown and HTML alike so both always say the same. */
export type Block =
  | { readonly kind: 'heading'; readonly level: 1 | 2 | 3; readonly text: string }
  | { readonly kind: 'paragraph'; readonly text: string }
  | { readonly kind: 'list'; readonly items: readonly ListItem[] }
  | { readonly kind: 'table'; readonly header: readonly string[]; readonly rows: readonly (readonly string[])[]; readonly note?: string }
  | { readonly kind: 'plots'; readonly plots: readonly ReportPlot[] };

export interface ListItem {
  readonly strong?: string;
  readonly text: string;
  readonly sub?: readonly string[];
}

export interface ReportDocument {
  readonly title: string;
  readonly blocks: readonly Block[];
  readonly plots: readonly ReportPlot[];
  readonly findings: readonly Finding[];
}

export const DASH = '–';
/** A reference a dataset or its records do not have (no Bayes-optimal rule, records older than the baseline). */
export const NOT_AVAILABLE = 'n/a';
const pm = (s: Stat | null | undefined, digits = 1) =>
  s ? `${s.mean.toFixed(digits)}${s.sd !== null ? ` ± ${s.sd.toFixed(digits)}` : ''}` : DASH;
const num = (x: number | undefined, digits = 1) => (x === undefined ? DASH : x.toFixed(digits));
const duration = (seconds: number) =>
  seconds < 90 ? `${seconds.toFixed(0)} s` : seconds < 5400 ? `${(seconds / 60).toFixed(1)} min` : `${(seconds / 3600).toFixed(2)} h`;

export function buildReportDocument(data: ReportData): ReportDocument {
  const { grid } = data;
  const blocks: Block[] = [];
  // The study's numbers only where its comparison applies, and only for the cells that are the study's.
  const seed = data.seed.applies;
  const published = seed ? grid.published : undefined;
  const study = (table: 'macroF1' | 'convergenceEpochs', d: ReportDataset, m: ReportModel) =>
    data.seed.datasets.has(d.id) && data.seed.models.has(m.id) ? published?.[table][d.id]?.[m.id] : undefined;
  const findings = evaluateFindings(data);
  const plots: ReportPlot[] = [];

  blocks.push({ kind: 'heading', level: 1, text: `Experiment report: ${grid.name}` });
  if (grid.description) blocks.push({ kind: 'paragraph', text: grid.description });

  // What the numbers rest on.
  const done = data.records.length;
  const seedList = (seeds: readonly number[]) => (seeds.length === 1 ? `seed ${seeds[0]}` : `${seeds.length} seeds (${seeds.join(', ')})`);
  // Models may name their own seeds for some datasets (more where runs are cheap): say which other counts there are.
  const ownSeeds = [
    ...new Set(
      [...data.cells.values()]
        .filter((c) => c.plannedSeeds.length > 0 && c.plannedSeeds.join() !== data.seeds.join())
        .map((c) => seedList(c.plannedSeeds)),
    ),
  ];
  const seedsText = `${seedList(data.seeds)}${ownSeeds.length ? `, or the model's own seeds where it names them: ${ownSeeds.join('; ')}` : ''}`;
  const status: ListItem[] = [
    {
      strong: 'Runs',
      text: `${done} of ${data.expectedRuns} finished (${plural(grid.datasets.length, 'dataset')} x ${plural(grid.models.length, 'model')}${grid.models.some((m) => m.datasets) ? ', each model on the datasets it names,' : ''} x ${seedsText}).${data.missing.length ? ` Missing: ${summarizeMissing(data)}.` : ''}`,
    },
    {
      strong: 'Engines',
      text:
        Object.entries(data.engines)
          .map(([engine, n]) => `${engine} (${n} runs)`)
          .join(', ') || DASH,
    },
    { strong: 'Versions', text: describeVersions(data.versions) },
  ];
  const compute = data.records.reduce((sum, r) => sum + r.seconds.total, 0);
  const wall = data.sessions.reduce((sum, s) => sum + s.wallSeconds, 0);
  status.push({
    strong: 'Time',
    text: `${data.sessions.length === 0 ? 'no session has ended yet (or it was killed), so no wall time is recorded' : `${duration(wall)} wall time in ${data.sessions.length} session${data.sessions.length === 1 ? '' : 's'}`}${data.sessions.length ? ` (workers: ${[...new Set(data.sessions.map((s) => s.workers))].join(', ')}${data.sessions[0]?.cores ? `, ${data.sessions[0].cores} cores` : ''})` : ''}; the finished runs took ${duration(compute)} of run time in all.`,
    sub: data.sessions
      .filter((s) => s.command)
      .map((s) => `${s.startedAt}: \`${s.command}\` (${duration(s.wallSeconds)}, ${s.ran} runs${s.aborted ? ', interrupted' : ''})`),
  });
  if (data.torn)
    status.push({
      strong: 'Repaired',
      text: `line ${data.torn.line} of results.jsonl is cut short (${data.torn.reason}); ${data.torn.key ? `run ${data.torn.key}` : 'its run'} is not counted and is redone by --resume.`,
    });
  if (data.duplicates.length)
    status.push({
      strong: 'Repaired',
      text: `${describeDuplicates(data.duplicates)}; the first of each is counted, and --resume removes the later ones.`,
    });
  if (data.excluded.length) {
    const [first] = data.excluded;
    status.push({
      strong: 'Not counted',
      text: `${plural(data.excluded.length, 'record')} of results.jsonl ${data.excluded.length === 1 ? 'is' : 'are'} left out of every number here, as --resume refuses ${data.excluded.length === 1 ? 'it' : 'them'}: ${first!.key} (${first!.reason})${data.excluded.length > 1 ? ` and ${data.excluded.length - 1} more` : ''}.`,
    });
  }
  const skipped = skippedText(data);
  if (skipped) status.push({ strong: 'Skipped', text: skipped });
  blocks.push({ kind: 'list', items: status });

  // Findings: the study's, for grids that hold its cells.
  if (seed) {
    blocks.push({ kind: 'heading', level: 2, text: "The study's findings, checked against these numbers" });
    blocks.push({
      kind: 'paragraph',
      text: `Each verdict is computed from the tables below, from the cells that are the study's (the gaussian data with 10, 100 and 1,000 classes; softmax and HPNs): scores within ${PAR_POINTS} points of macro-F1 count as on par, larger gaps as a difference; speeds within a factor ${COMPARABLE_SPEED_RATIO} as comparable.${data.seeds.length < 3 ? ` With ${data.seeds.length === 1 ? 'one seed' : 'two seeds'} per cell there is no spread to judge these gaps against: treat the verdicts as indicative.` : ''}`,
    });
    blocks.push({ kind: 'list', items: findings.map((f) => ({ strong: f.status, text: f.claim, sub: f.evidence })) });
  } else if (grid.published || (data.seed.datasets.size > 0 && data.seed.models.size > 0)) {
    // Only a grid that holds some of the study's cells (one of its datasets with one of its models) or carries its
    // numbers is told what it lacks: a softmax on the user's own data has nothing to do with the study.
    blocks.push({
      kind: 'paragraph',
      text: `The seed study's comparison (its findings, published numbers and Table 3) is left out: it applies only to a grid that holds every cell of the study's Table 2, and this one lacks ${lacking(SEED_CLASSES.length - data.seed.datasets.size, SEED_CLASSES.length, 'datasets')}${SEED_CLASSES.length > data.seed.datasets.size && SEED_MODELS.length > data.seed.models.size ? ' and ' : ''}${lacking(SEED_MODELS.length - data.seed.models.size, SEED_MODELS.length, 'models')}: ${data.seed.missing.join('; ')}.`,
    });
  }
  const calibrated = calibration(data);
  if (calibrated) {
    blocks.push({
      kind: 'paragraph',
      text: `Calibration: the data sizes were chosen, on ${calibrated.model} alone and on its validation macro-F1 (never the test split), so that it lands within ${calibrated.tolerance} points of the study's; every other model runs with exactly the same settings. On the test split, over all seeds: ${calibrated.ok ? 'met' : 'not met'}: ${calibrated.lines.join('; ')}.`,
    });
  }

  // Table 2.
  const columns = data.models;
  const rowHeader = data.datasets.every((d) => d.classes !== undefined && d.label === String(d.classes)) ? 'classes' : 'dataset';
  /** A table's rows: one per dataset, its label, then what `show` makes of its cell of each model. */
  const rowPerDataset = (show: (cell: ReportCell | undefined) => string) =>
    data.datasets.map((d) => [d.label, ...columns.map((m) => show(data.cells.get(cellKey(d.id, m.id))))]);
  blocks.push({ kind: 'heading', level: 2, text: `${seed ? 'Table 2: test' : 'Test'} macro-F1 (%), mean ± sd over seeds` });
  const t2: string[][] = [];
  // Seeds with a record per cell of a dataset: a range where its cells differ (a model not yet run on every seed).
  const seedCounts = (d: ReportDataset) => {
    const counts = columns.flatMap((m) => {
      const n = data.cells.get(cellKey(d.id, m.id))?.seeds.length ?? 0;
      return n > 0 ? [n] : [];
    });
    return counts.length ? { low: Math.min(...counts), high: Math.max(...counts) } : { low: 0, high: 0 };
  };
  const seedCount = (d: ReportDataset) => {
    const { low, high } = seedCounts(d);
    return low === high ? `n=${high}` : `n=${low}-${high}`;
  };
  const seedRange = data.datasets.some((d) => seedCounts(d).low !== seedCounts(d).high);
  for (const d of data.datasets) {
    t2.push([
      d.label,
      published ? `ours (${seedCount(d)})` : seedCount(d),
      reference(d, d.bayesMacroF1),
      reference(d, d.classMeanMacroF1),
      ...columns.map((m) => pm(data.cells.get(cellKey(d.id, m.id))?.macroF1)),
    ]);
    const theirs = columns.map((m) => study('macroF1', d, m));
    if (theirs.some((x) => x !== undefined)) t2.push(['', 'study', DASH, DASH, ...theirs.map((x) => num(x))]);
  }
  // A best model that loses to the class-mean baseline is not a winner: say so beside the table, per dataset.
  const beaten = data.datasets.flatMap((d) => {
    const below = allBelowClassMean(data, d);
    return below
      ? [`${d.label} (best: ${below.model.label} ${below.macroF1.mean.toFixed(1)} against ${d.classMeanMacroF1!.mean.toFixed(1)})`]
      : [];
  });
  // The reference column is named after the datasets' optimal rule when they share one.
  const referenceNames = [...new Set(data.datasets.flatMap((d) => (d.referenceName ? [d.referenceName] : [])))];
  const referenceHeader = referenceNames.length === 1 ? referenceLabel(referenceNames[0]!) : 'reference';
  const referenceNote =
    referenceHeader === 'Bayes-optimal'
      ? "Bayes-optimal: the dataset's optimal rule (for the gaussian data the nearest true class centre)"
      : `${referenceHeader}: the dataset's optimal rule as the dataset names it${referenceNames.length > 1 ? ` (${data.datasets.flatMap((d) => (d.referenceName ? [`${d.label}: ${referenceLabel(d.referenceName)}`] : [])).join('; ')})` : ''}`;
  blocks.push({
    kind: 'table',
    header: [rowHeader, '', referenceHeader, 'class-mean', ...columns.map((m) => m.label)],
    rows: t2,
    note: `${columnLegend(columns)}. ${referenceNote}, the best any model can be expected to do on the same test split; ${NOT_AVAILABLE} for a dataset that has none. Class-mean: the nearest class mean of the training split, no network: the baseline a model should beat; ${NOT_AVAILABLE} for records written before it was recorded.${beaten.length ? ` Every model is below the class-mean baseline on ${beaten.join('; ')}: there the nearest class mean, with no network, beats the best model.` : ''}${seedRange ? ' n=k-m: the cells of a row rest on k to m seeds (some runs have no record yet).' : ''}${published ? ` Study: ${published.source}.` : ''}`,
  });

  // Which geometry measure orders the prototype sets as macro-F1 does.
  blocks.push(...geometryBlocks(data));
  // What the records say about each candidate explanation of the prototype heads' gap to softmax.
  blocks.push(...explanationBlocks(data));

  // Table 3: the study's rows (softmax and the HPN with D = classes) on the study's datasets.
  const stopping = stoppingNote(data);
  if (seed) {
    blocks.push({ kind: 'heading', level: 2, text: 'Table 3: epochs to convergence (epoch of the best validation accuracy), mean ± sd' });
    const seedDatasets = data.datasets.filter((d) => data.seed.datasets.has(d.id));
    const byKey = (key: string) => columns.find((m) => data.seed.models.get(m.id) === key);
    const isHpn = (m: ReportModel) => m.head === 'hpn' && Object.keys(m.headOptions).length === 0;
    const families: { label: string; pick: (classes: number) => ReportModel | undefined }[] = [
      { label: 'softmax', pick: () => byKey('softmax') },
    ];
    for (const strategy of [
      ...new Set(
        columns
          .filter(isHpn)
          .map((m) => m.strategy)
          .filter((s): s is string => s !== undefined),
      ),
    ]) {
      families.push({
        label: `HPN ${strategy}, D = classes`,
        pick: (classes) =>
          byKey(`${strategy}-${classes}`) ?? columns.find((m) => isHpn(m) && m.strategy === strategy && m.dims === classes),
      });
    }
    const t3Rows: string[][] = [];
    for (const family of families) {
      const row = [family.label];
      for (const d of seedDatasets) {
        const model = family.pick(data.seed.datasets.get(d.id)!);
        const ours = model ? data.cells.get(cellKey(d.id, model.id))?.bestEpoch : undefined;
        const theirs = model ? study('convergenceEpochs', d, model) : undefined;
        row.push(`${pm(ours)}${theirs !== undefined ? ` (study ${theirs})` : ''}`);
      }
      t3Rows.push(row);
    }
    blocks.push({ kind: 'table', header: ['model', ...seedDatasets.map((d) => `${d.label} classes`)], rows: t3Rows, note: stopping });
  }
  blocks.push({
    kind: 'heading',
    level: seed ? 3 : 2,
    text: seed
      ? 'Epochs to convergence and epochs run, every cell'
      : 'Epochs to convergence (epoch of the best validation accuracy) and epochs run',
  });
  blocks.push({
    kind: 'table',
    header: [rowHeader, ...columns.map((m) => m.label)],
    rows: rowPerDataset((cell) => (cell?.bestEpoch ? `${pm(cell.bestEpoch)} / ${num(cell.epochs?.mean, 0)}` : DASH)),
    note: `best epoch (mean ± sd) / epochs run (mean).${seed ? '' : ` ${stopping}`}`,
  });

  // Stopping, judged on the runs that logged their test scores every epoch.
  const tracePlots = testTracePlots(data);
  blocks.push(...testTraceBlocks(data, tracePlots));

  // Speed.
  blocks.push({ kind: 'heading', level: 2, text: 'Seconds per epoch, mean over seeds' });
  blocks.push({
    kind: 'table',
    header: [rowHeader, 'training rows', ...columns.map((m) => m.label)],
    rows: data.datasets.map((d) => [
      d.label,
      trainingRows(d.info),
      ...columns.map((m) => pm(data.cells.get(cellKey(d.id, m.id))?.secondsPerEpoch, 2)),
    ]),
    note: `Wall-clock seconds per training epoch (including the validation pass), measured with ${Math.max(1, ...data.sessions.map((s) => s.workers))} run(s) in parallel on the machine: compare within a table, not across machines.`,
  });
  // Records written before memory was measured would fill the table with dashes only: then it is left out.
  if (data.records.some((r) => r.memory)) {
    blocks.push({ kind: 'heading', level: 2, text: 'Peak memory, mean over seeds' });
    blocks.push({
      kind: 'table',
      header: [rowHeader, ...columns.map((m) => m.label)],
      rows: rowPerDataset((cell) => (cell?.peakResidentBytes ? bytesText(cell.peakResidentBytes.mean) : DASH)),
      note: peakMemoryNote(data.records),
    });
  }
  blocks.push(...phaseBlocks(data));
  const speedPlot = secondsPerEpochPlot(data);
  if (speedPlot) plots.push(speedPlot);
  const classCountPlots = [againstClassCountPlot(data, 'macroF1'), againstClassCountPlot(data, 'secondsPerEpoch')].filter(
    (p): p is ReportPlot => p !== undefined,
  );
  plots.push(...classCountPlots);

  // Plots.
  const f1Plots = data.datasets.map((d) => f1AgainstDimsPlot(data, d)).filter((p): p is ReportPlot => p !== undefined);
  // Accuracy and loss of each dataset side by side.
  const curvePairs = data.datasets
    .map((d) =>
      [validationCurvesPlot(data, d, 'accuracy'), validationCurvesPlot(data, d, 'loss')].filter((p): p is ReportPlot => p !== undefined),
    )
    .filter((pair) => pair.length > 0);
  plots.unshift(...f1Plots);
  plots.push(...curvePairs.flat(), ...tracePlots);
  if (f1Plots.length) {
    blocks.push({ kind: 'heading', level: 2, text: 'Macro-F1 against prototype dimension' });
    blocks.push({
      kind: 'paragraph',
      text: `One line per model family (head and prototype strategy, with their options) across its prototype dimensions: the mean over seeds, with a band (or, for a single dimension, a bar) of ± one standard deviation.${published ? ' Dashed, open markers: the study.' : ''} Horizontal lines: models without prototypes, the dataset's optimal rule (the ceiling) and the class-mean baseline.`,
    });
    blocks.push({ kind: 'plots', plots: f1Plots });
  }
  if (speedPlot) blocks.push({ kind: 'plots', plots: [speedPlot] });
  if (classCountPlots.length) {
    blocks.push({ kind: 'heading', level: 2, text: 'Against the number of classes' });
    blocks.push({
      kind: 'paragraph',
      text: 'Test macro-F1 and seconds per epoch against the class count (log scale), one line per model: the mean over seeds with a bar of ± one standard deviation. Where several datasets have the same class count, the first of each class count form one line, the second another, and so on (named in brackets).',
    });
    blocks.push({ kind: 'plots', plots: classCountPlots });
  }
  if (curvePairs.length) {
    blocks.push({ kind: 'heading', level: 2, text: 'Validation curves' });
    blocks.push({
      kind: 'paragraph',
      text: "Validation accuracy and, beside it, validation loss (log scale) after each epoch, one line per model: the mean over the seeds whose run reached that epoch (early stopping ends runs at different epochs), with the band from the lowest to the highest seed; the dot marks the mean epoch whose weights were kept. Colour: the model's head and prototype strategy; line style: its prototype dimension (solid: smallest). Each head has its own loss, so compare loss curves within a head, not across heads.",
    });
    for (const pair of curvePairs) blocks.push({ kind: 'plots', plots: pair });
  }

  // Settings.
  blocks.push({ kind: 'heading', level: 2, text: 'Data and settings' });
  blocks.push({
    kind: 'table',
    header: ['dataset', 'plugin', 'options', 'as generated'],
    rows: grid.datasets.map((d, i) => [
      d.label ?? d.id,
      d.name,
      JSON.stringify(d.options),
      data.datasets[i]?.info ? JSON.stringify(infoForTable(data.datasets[i]!.info!)) : DASH,
    ]),
  });
  blocks.push({
    kind: 'paragraph',
    text: `Trainer: ${JSON.stringify(data.records[0]?.spec.trainer ?? grid.trainer)}. Engine: ${grid.engine ?? 'the fastest available'}.`,
  });
  if (grid.notes.length) blocks.push({ kind: 'list', items: grid.notes.map((text) => ({ text })) });
  if (published?.notes.length) blocks.push({ kind: 'list', items: published.notes.map((text) => ({ strong: 'Study', text })) });

  if (data.missing.length || data.failures.length) {
    blocks.push({ kind: 'heading', level: 2, text: 'Missing runs' });
    blocks.push({
      kind: 'paragraph',
      text: `${data.missing.length} run(s) have no result: ${data.missing.slice(0, 60).join(', ')}${data.missing.length > 60 ? ', ...' : ''}.`,
    });
    if (data.failures.length)
      blocks.push({
        kind: 'list',
        items: data.failures.map((f) => ({ strong: f.key, text: `failed (${f.code}): ${f.message.split('\n')[0]}` })),
      });
  }

  return { title: `Experiment report: ${grid.name}`, blocks, plots, findings };
}

/**
 * How runs stop, and how many of the finished ones ran into the epoch cap or kept their last epoch: where most do,
 * the runs were cut short by maxEpochs rather than stopped by patience, and more epochs might still have helped.
 */
function stoppingNote(data: ReportData): string {
  const { grid } = data;
  const own = grid.models.some((m) => m.trainer?.patience !== undefined || m.trainer?.maxEpochs !== undefined)
    ? ' (models with their own patience or cap name it in brackets)'
    : '';
  const shared = TrainerSettingsSchema.safeParse(grid.trainer);
  const rule = !shared.success
    ? 'Training stops early when the validation accuracy stops improving, or at the epoch cap (maxEpochs)'
    : shared.data.patience >= shared.data.maxEpochs
      ? `Every run trains all ${shared.data.maxEpochs} epochs (maxEpochs; its patience, ${shared.data.patience}, is not below it, so it never stops early)`
      : `Training stops after ${shared.data.patience} epochs without a better validation accuracy, or at ${shared.data.maxEpochs} epochs (maxEpochs) at the latest`;
  let atCap = 0;
  let keptLast = 0;
  for (const model of data.models) {
    const cap = modelSettings(data, model)?.maxEpochs;
    for (const d of data.datasets)
      for (const r of data.cells.get(cellKey(d.id, model.id))?.records ?? []) {
        if (cap !== undefined && r.epochs >= cap) atCap++;
        if (r.bestEpoch === r.epochs) keptLast++;
      }
  }
  const runs = data.records.length;
  const counts = runs
    ? ` Of the ${plural(runs, 'finished run')}, ${atCap || 'none'} ran to the cap${keptLast ? `, and ${keptLast} kept their last epoch (validation accuracy still rising when training ended: more epochs might have helped)` : ''}.`
    : '';
  return `${rule}${own}; the weights of the best epoch are kept.${counts}`;
}

/**
 * Lines of failures.jsonl and sessions.jsonl the report left out, those files when they could not be read, and
 * failures of runs the grid does not have.
 */
function skippedText(data: ReportData): string | undefined {
  const parts: string[] = data.unreadFiles.map((f) => `${f.file} could not be read (${f.reason}), so nothing of it is shown`);
  const lines = data.skippedLines;
  if (lines.length) {
    const shown = lines.slice(0, 5).map((l) => `${l.file} line ${l.line} (${l.reason})`);
    parts.push(
      `${plural(lines.length, 'line')} left out, not being what the runner writes: ${shown.join('; ')}${lines.length > shown.length ? `; and ${lines.length - shown.length} more` : ''}`,
    );
  }
  const stray = data.strayFailures;
  if (stray.length)
    parts.push(
      `failures.jsonl names ${plural(stray.length, 'run')} the grid does not have (${stray[0]}${stray.length > 1 ? ` and ${stray.length - 1} more` : ''}), not listed as failed`,
    );
  return parts.length ? `${parts.join('; ')}.` : undefined;
}

const lacking = (n: number, of: number, what: string) => (n === 0 ? '' : `${n} of its ${of} ${what}`);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Versions, with the @hyperproto packages folded into one entry when they all share a version. */
export function describeVersions(versions: Readonly<Record<string, readonly string[]>>): string {
  const entries = Object.entries(versions);
  const ours = entries.filter(([name]) => name.startsWith('@hyperproto/'));
  const shared = new Set(ours.flatMap(([, list]) => list));
  const folded = ours.length > 1 && shared.size === 1 ? [[`@hyperproto/* (${ours.length} packages)`, [...shared]] as const] : ours;
  const rest = entries.filter(([name]) => !name.startsWith('@hyperproto/'));
  return [...rest, ...folded].map(([name, list]) => `${name} ${list.join(' / ')}`).join(', ') || DASH;
}

/** A reference score of a dataset: mean ± sd, "n/a" when its runs have none, a dash before any run. */
function reference(dataset: ReportDataset, score: Stat | null): string {
  return score ? pm(score) : dataset.runs > 0 ? NOT_AVAILABLE : DASH;
}

function columnLegend(models: readonly ReportModel[]): string {
  return `Columns: ${models.map((m) => `${m.label} = ${modelName(m)}`).join('; ')}`;
}

function trainingRows(info: Readonly<Record<string, unknown>> | undefined): string {
  const rows = (info?.rows as { train?: unknown } | undefined)?.train;
  return typeof rows === 'number' ? rows.toLocaleString('en-US') : DASH;
}

function summarizeMissing(data: ReportData): string {
  const byDataset = new Map<string, number>();
  for (const key of data.missing) {
    const dataset = key.split('/')[0]!;
    byDataset.set(dataset, (byDataset.get(dataset) ?? 0) + 1);
  }
  return [...byDataset].map(([id, n]) => `${n} of ${id}`).join(', ');
}

/** A dataset's info for the settings table: the fingerprints of its files (`inputs`) shortened to a prefix each. */
function infoForTable(info: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  if (!Array.isArray(info.inputs)) return info;
  const inputs = info.inputs.map((input: { path?: unknown; bytes?: unknown; sha256?: unknown }) =>
    typeof input?.sha256 === 'string' ? `${String(input.path)} (${String(input.bytes)} bytes, sha256 ${input.sha256.slice(0, 12)})` : input,
  );
  return { ...info, inputs };
}
