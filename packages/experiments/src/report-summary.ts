import { TrainerSettingsSchema, type TrainerSettings } from '@hyperproto/core';
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
import { describeVersions, type Block, type ListItem, type ReportDocument } from './report-document.js';
import { clearDifference, PAR_POINTS } from './report-findings.js';
import { bytesText, peakMemoryNote } from './report-memory.js';
import { modelName, plot, type ReportPlot } from './report-plots.js';
import { modelSettings } from './report-test-trace.js';
import type { ChartSeries } from './svg-line-chart.js';

/** One study on the results page: a results directory and what the report reads from it. */
export interface SummaryStudy {
  /** The directory's name, e.g. `seed`. */
  readonly name: string;
  /** The results directory relative to the page, for links. */
  readonly path: string;
  readonly data: ReportData;
  /** Where the grid came from: the directory's grid.json, or the preset of the same name while the directory has none. */
  readonly gridSource: string;
  /** Whether the directory has a README.md (linked: it may hold what the records do not, e.g. projections). */
  readonly readme: boolean;
}

/** Heads grouped as the page compares them; a sampled share below 1 makes its own family. */
export interface HeadFamily {
  readonly key: string;
  readonly label: string;
  readonly color: string;
}

const FAMILIES: readonly HeadFamily[] = [
  { key: 'softmax', label: 'softmax', color: '#444' },
  { key: 'bottleneck-softmax', label: 'bottleneck softmax', color: '#8c564b' },
  { key: 'sampled-softmax', label: 'sampled softmax', color: '#9467bd' },
  { key: 'hpn', label: 'HPN', color: '#1f77b4' },
  { key: 'cosine-softmax', label: 'cosine-softmax', color: '#2ca02c' },
  { key: 'sampled-cosine-softmax', label: 'sampled cosine-softmax', color: '#17becf' },
  { key: 'margin', label: 'margin', color: '#d62728' },
];
const OTHER_COLORS = ['#e6550d', '#bcbd22', '#e377c2', '#7570b3'];
const STUDY_DASHES = [undefined, '6 3', '2 2', '9 3 2 3'];

export function headFamily(model: ReportModel): HeadFamily {
  const sampled = typeof model.headOptions.sampledShare === 'number' && model.headOptions.sampledShare < 1;
  let key = model.head;
  if (model.head === 'bottleneck-softmax') key = sampled ? 'sampled-softmax' : 'bottleneck-softmax';
  else if (model.head === 'cosine-softmax' && sampled) key = 'sampled-cosine-softmax';
  const known = FAMILIES.find((f) => f.key === key);
  if (known) return known;
  let hash = 0;
  for (const c of key) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return { key, label: key, color: OTHER_COLORS[hash % OTHER_COLORS.length]! };
}

const familyOrder = (family: HeadFamily) => {
  const i = FAMILIES.findIndex((f) => f.key === family.key);
  return i === -1 ? FAMILIES.length : i;
};

/** The configuration whose numbers stand for a head family on one dataset. */
export interface ChosenConfiguration {
  readonly model: ReportModel;
  readonly cell: ReportCell;
  /** Chosen by the mean validation macro-F1 when every candidate's records have it, else by the test macro-F1. */
  readonly by: 'validation' | 'test';
  /** The family's configurations with records on this dataset, among which it was chosen. */
  readonly candidates: number;
}

export interface FamilyEntry {
  readonly family: HeadFamily;
  /** Runs the grid plans for the family on this dataset (0: not in the grid here), and those with a record. */
  readonly plannedRuns: number;
  readonly finishedRuns: number;
  readonly chosen?: ChosenConfiguration;
}

/** One dataset of one study: each head family's chosen configuration, and which wins on macro-F1 and on cost. */
export interface SummaryRow {
  readonly study: SummaryStudy;
  readonly dataset: ReportDataset;
  /** Every family the study's grid has, in page order. */
  readonly families: readonly FamilyEntry[];
  /** The family with the highest test macro-F1, and those not clearly below it. */
  readonly best?: FamilyEntry;
  readonly onPar: readonly FamilyEntry[];
  /** The family with the lowest mean seconds per epoch, and the others that print the same (no visible difference). */
  readonly fastestEpoch?: FamilyEntry;
  readonly fastestEpochTies: readonly FamilyEntry[];
  readonly cheapestRun?: FamilyEntry;
  readonly cheapestRunTies: readonly FamilyEntry[];
  /** Where every network on the dataset scores below the nearest-class-mean baseline: the best of them. */
  readonly belowClassMean?: { readonly model: ReportModel; readonly macroF1: Stat };
}

const validationMean = (cell: ReportCell) =>
  cell.records.reduce((sum, r) => sum + (r.validation?.macroF1 ?? Number.NaN), 0) / cell.records.length;

/** The family's configuration with the best mean validation macro-F1 (test macro-F1 when a record lacks validation scores). */
function choose(cells: readonly { model: ReportModel; cell: ReportCell }[]): ChosenConfiguration | undefined {
  const candidates = cells.filter((c) => c.cell.macroF1 !== null);
  if (candidates.length === 0) return undefined;
  const byValidation = candidates.every((c) => c.cell.records.every((r) => typeof r.validation?.macroF1 === 'number'));
  const value = (c: (typeof candidates)[number]) => (byValidation ? validationMean(c.cell) : c.cell.macroF1!.mean);
  const best = candidates.reduce((a, b) => (value(b) > value(a) ? b : a));
  return { model: best.model, cell: best.cell, by: byValidation ? 'validation' : 'test', candidates: candidates.length };
}

export function summaryRows(studies: readonly SummaryStudy[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const study of studies) {
    const { data } = study;
    const families = [...new Map(data.models.map((m) => [headFamily(m).key, headFamily(m)])).values()].sort(
      (a, b) => familyOrder(a) - familyOrder(b),
    );
    for (const dataset of data.datasets) {
      const entries: FamilyEntry[] = families.map((family) => {
        const cells = data.models
          .filter((m) => headFamily(m).key === family.key)
          .map((model) => ({ model, cell: data.cells.get(cellKey(dataset.id, model.id))! }));
        const chosen = choose(cells);
        return {
          family,
          plannedRuns: cells.reduce((sum, c) => sum + c.cell.plannedSeeds.length, 0),
          finishedRuns: cells.reduce((sum, c) => sum + c.cell.records.length, 0),
          ...(chosen ? { chosen } : {}),
        };
      });
      const scored = entries.filter((e): e is FamilyEntry & { chosen: ChosenConfiguration } => e.chosen !== undefined);
      const best = scored.reduce<(typeof scored)[number] | undefined>(
        (a, b) => (!a || b.chosen.cell.macroF1!.mean > a.chosen.cell.macroF1!.mean ? b : a),
        undefined,
      );
      const onPar = best
        ? scored.filter((e) => e !== best && !clearDifference(best.chosen.cell.macroF1!, e.chosen.cell.macroF1!).clear)
        : [];
      const cheapest = (pick: (cell: ReportCell) => Stat | null) =>
        scored
          .filter((e) => pick(e.chosen.cell) !== null)
          .reduce<(typeof scored)[number] | undefined>(
            (a, b) => (!a || pick(b.chosen.cell)!.mean < pick(a.chosen.cell)!.mean ? b : a),
            undefined,
          );
      // A cost is only a win where the page can show it: others that print the same seconds tie with it.
      const ties = (winner: FamilyEntry | undefined, pick: (cell: ReportCell) => Stat | null) =>
        winner
          ? scored.filter(
              (e) => e !== winner && pick(e.chosen.cell) && seconds(pick(e.chosen.cell)!.mean) === seconds(pick(winner.chosen!.cell)!.mean),
            )
          : [];
      const fastestEpoch = cheapest((c) => c.secondsPerEpoch);
      const cheapestRun = cheapest((c) => c.totalSeconds);
      const belowClassMean = allBelowClassMean(data, dataset);
      rows.push({
        study,
        dataset,
        families: entries,
        ...(best ? { best } : {}),
        onPar,
        ...(fastestEpoch ? { fastestEpoch } : {}),
        fastestEpochTies: ties(fastestEpoch, (c) => c.secondsPerEpoch),
        ...(cheapestRun ? { cheapestRun } : {}),
        cheapestRunTies: ties(cheapestRun, (c) => c.totalSeconds),
        ...(belowClassMean ? { belowClassMean } : {}),
      });
    }
  }
  // By class count, then in the order the studies were given.
  return rows
    .map((row, i) => ({ row, i }))
    .sort((a, b) => (a.row.dataset.classes ?? Number.POSITIVE_INFINITY) - (b.row.dataset.classes ?? Number.POSITIVE_INFINITY) || a.i - b.i)
    .map(({ row }) => row);
}

const DASH = '–';
const f1Text = (s: Stat) => `${s.mean.toFixed(1)}${s.sd !== null ? ` ± ${s.sd.toFixed(1)}` : ''}`;
const seeds = (n: number) => `${n} seed${n === 1 ? '' : 's'}`;
const seconds = (x: number) =>
  x < 10 ? `${x.toFixed(2)} s` : x < 90 ? `${x.toFixed(1)} s` : x < 5400 ? `${(x / 60).toFixed(1)} min` : `${(x / 3600).toFixed(2)} h`;
const count = (n: number) => n.toLocaleString('en-US');

/** The trainer settings a model changes from the defaults, e.g. `hiddenUnits=64`; empty for the defaults. */
function trainerChanges(trainer: TrainerSettings | undefined): string {
  if (!trainer) return '';
  const defaults = TrainerSettingsSchema.parse({}) as Record<string, unknown>;
  return Object.entries(trainer)
    .filter(([key, value]) => key !== 'traceTest' && value !== undefined && defaults[key] !== value)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(', ');
}

/** The data of a row as the records report it (the grid's options before any record). */
function dataFacts(dataset: ReportDataset, options: Readonly<Record<string, unknown>>): string {
  const info = dataset.info as { sigma?: unknown; perClass?: { train?: unknown }; rows?: { train?: unknown } } | undefined;
  const sigma = info?.sigma ?? options.sigma;
  const perClass = info?.perClass?.train ?? options.trainPerClass;
  return [
    typeof sigma === 'number' ? `sigma ${sigma}` : undefined,
    typeof perClass === 'number' ? `${perClass} training rows per class` : undefined,
  ]
    .filter(Boolean)
    .join(', ');
}

/** The study and dataset of a row, with its data and the trainer settings every model of the dataset changes. */
function rowTitle(row: SummaryRow): string {
  const { data } = row.study;
  const options = data.grid.datasets.find((d) => d.id === row.dataset.id)?.options ?? {};
  const planned = data.models.filter((m) => (data.cells.get(cellKey(row.dataset.id, m.id))?.plannedSeeds.length ?? 0) > 0);
  const changes = [...new Set(planned.map((m) => trainerChanges(modelSettings(data, m))))];
  const facts = [dataFacts(row.dataset, options), ...(changes.length === 1 && changes[0] ? [`every model with ${changes[0]}`] : [])];
  return `${row.study.name}, ${row.dataset.id}${facts.some(Boolean) ? ` (${facts.filter(Boolean).join('; ')})` : ''}`;
}

/** A uniform guess's test macro-F1 in points at C balanced classes: about 100 / C (its precision and recall per class). */
const chanceF1 = (classes: number | undefined): Stat | undefined => (classes ? { mean: 100 / classes, sd: null, n: 1 } : undefined);
const chanceText = (chance: Stat) => String(Number(chance.mean.toPrecision(2)));

const familyScore = (entry: FamilyEntry) =>
  `${entry.family.label} ${f1Text(entry.chosen!.cell.macroF1!)} (${seeds(entry.chosen!.cell.macroF1!.n)}${entry.chosen!.by === 'test' && entry.chosen!.candidates > 1 ? ', chosen on test' : ''})`;

/** What a family's cell says when it has no numbers: not in the grid here, or not run yet. */
function absence(entry: FamilyEntry): string {
  return entry.plannedRuns === 0
    ? 'not in the grid'
    : `not run yet (${entry.plannedRuns} run${entry.plannedRuns === 1 ? '' : 's'} planned)`;
}

function answerRow(row: SummaryRow): string[] {
  const classes = row.dataset.classes !== undefined ? count(row.dataset.classes) : row.dataset.label;
  if (!row.best) {
    const planned = row.families.reduce((sum, e) => sum + e.plannedRuns, 0);
    return [classes, rowTitle(row), `not run yet (${planned} runs planned)`, DASH, DASH, DASH];
  }
  const costOf = (entry: FamilyEntry | undefined, tied: readonly FamilyEntry[], pick: (cell: ReportCell) => Stat | null) => {
    if (!entry) return DASH;
    const own = pick(entry.chosen!.cell)!.mean;
    if (tied.length)
      return `no clear winner: ${[entry, ...tied].map((e) => e.family.label).join(', ')} ${seconds(own)} (equal at this precision)`;
    const bestCost = pick(row.best!.chosen!.cell);
    return `${entry.family.label} ${seconds(own)}${entry !== row.best && bestCost ? ` (${row.best!.family.label} ${seconds(bestCost.mean)})` : ''}`;
  };
  const waiting = row.families.filter((e) => !e.chosen && e.plannedRuns > 0).map((e) => e.family.label);
  // A best score that the page's own rule for "on par" cannot tell from a uniform guess answers nothing.
  const chance = chanceF1(row.dataset.classes);
  const best =
    chance && !clearDifference(row.best.chosen!.cell.macroF1!, chance).clear
      ? `no head clearly above chance (a uniform guess: ${chanceText(chance)}); highest: ${familyScore(row.best)}`
      : familyScore(row.best);
  // A best below the no-network baseline is only the least bad: the row says so beside it.
  const below = row.belowClassMean ? `; every network below the nearest class mean ${f1Text(row.dataset.classMeanMacroF1!)}` : '';
  return [
    classes,
    rowTitle(row),
    `${best}${below}${waiting.length ? `; not run yet: ${waiting.join(', ')}` : ''}`,
    row.onPar.length ? row.onPar.map(familyScore).join('; ') : 'none',
    costOf(row.fastestEpoch, row.fastestEpochTies, (c) => c.secondsPerEpoch),
    costOf(row.cheapestRun, row.cheapestRunTies, (c) => c.totalSeconds),
  ];
}

function detailRows(row: SummaryRow): string[][] {
  return row.families.map((entry) => {
    if (!entry.chosen) return [entry.family.label, absence(entry), DASH, DASH, DASH, DASH, DASH, DASH];
    const { model, cell, by, candidates } = entry.chosen;
    const planned = cell.plannedSeeds.length;
    return [
      entry.family.label,
      `${modelName(model)} (\`${model.id}\`; ${candidates === 1 ? 'the only one run' : `best of ${candidates} by ${by} macro-F1`})`,
      f1Text(cell.macroF1!),
      `${cell.records.length}${planned > cell.records.length ? ` of ${planned}` : ''}`,
      cell.secondsPerEpoch ? seconds(cell.secondsPerEpoch.mean) : DASH,
      cell.epochs ? cell.epochs.mean.toFixed(0) : DASH,
      cell.totalSeconds ? seconds(cell.totalSeconds.mean) : DASH,
      cell.peakResidentBytes ? bytesText(cell.peakResidentBytes.mean) : DASH,
    ];
  });
}

export type ClassCountMetric = 'macroF1' | 'secondsPerEpoch';

/**
 * One metric of the chosen configurations against the class count (log x): a line per study and head family through
 * the first dataset of each class count in that study; configurations with other trainer settings (e.g. a narrower
 * network) get their own line, so a line never joins two networks.
 */
export function summaryClassCountPlot(rows: readonly SummaryRow[], metric: ClassCountMetric): ReportPlot | undefined {
  const series: ChartSeries[] = [];
  const studies = [...new Set(rows.map((r) => r.study))];
  let skipped = false;
  studies.forEach((study, index) => {
    const firstOfCount = new Map<number, SummaryRow>();
    for (const row of rows.filter((r) => r.study === study && r.best && r.dataset.classes !== undefined)) {
      if (firstOfCount.has(row.dataset.classes!)) skipped = true;
      else firstOfCount.set(row.dataset.classes!, row);
    }
    const lane = [...firstOfCount.values()];
    const lines = new Map<
      string,
      { family: HeadFamily; changes: string; points: { x: number; y: number; low?: number; high?: number }[] }
    >();
    for (const row of lane) {
      for (const entry of row.families) {
        const value = entry.chosen?.cell[metric];
        if (!value) continue;
        const changes = trainerChanges(modelSettings(study.data, entry.chosen!.model));
        const key = JSON.stringify([entry.family.key, changes]);
        const line = lines.get(key) ?? { family: entry.family, changes, points: [] };
        line.points.push({
          x: row.dataset.classes!,
          y: value.mean,
          ...(value.sd !== null ? { low: value.mean - value.sd, high: value.mean + value.sd } : {}),
        });
        lines.set(key, line);
      }
    }
    for (const line of [...lines.values()].sort((a, b) => familyOrder(a.family) - familyOrder(b.family))) {
      series.push({
        label: `${line.family.label}, ${study.name}${line.changes ? ` [${line.changes}]` : ''}`,
        color: line.family.color,
        dash: STUDY_DASHES[index % STUDY_DASHES.length],
        points: line.points,
      });
    }
  });
  if (series.length === 0) return undefined;
  const classCounts = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const f1 = metric === 'macroF1';
  return plot(
    f1 ? 'f1-vs-classes.svg' : 'seconds-per-epoch-vs-classes.svg',
    f1 ? 'Test macro-F1 against class count' : 'Seconds per epoch against class count',
    {
      title: f1 ? 'Test macro-F1 vs number of classes, each head at its chosen configuration' : 'Seconds per epoch vs number of classes',
      xLabel: 'classes (log scale)',
      yLabel: f1 ? 'test macro-F1 (%)' : 'seconds per epoch (log scale)',
      xLog: true,
      xTicks: classCounts,
      ...(f1 ? { yMax: 100 } : { yLog: true }),
      series,
      notes: [
        'colour: head family; line style: study; mean over seeds, bar: ± sd',
        ...(skipped ? ['a study with several datasets of one class count: its first is drawn (the tables list all)'] : []),
        ...(f1 ? [] : ["wall-clock under each study's own load, over each dataset's training rows: compare within a study"]),
      ],
      width: 640,
      height: 280,
    },
  );
}

/** Provenance of a study: its results file, the commits, versions and engines of its records, its sessions' wall time. */
function sourceItem(study: SummaryStudy): ListItem {
  const { data } = study;
  const records = data.records;
  const commits = new Map<string, number>();
  let unrecorded = 0;
  for (const r of records) {
    if (!r.git) unrecorded++;
    else {
      const key = `${r.git.commit.slice(0, 7)}${r.git.dirty ? ' (with uncommitted changes)' : ''}`;
      commits.set(key, (commits.get(key) ?? 0) + 1);
    }
  }
  const times = records.map((r) => r.finishedAt).sort();
  const wall = data.sessions.reduce((sum, s) => sum + s.wallSeconds, 0);
  const compute = records.reduce((sum, r) => sum + r.seconds.total, 0);
  const sub = [
    `grid: ${study.gridSource}; ${count(records.length)} of ${count(data.expectedRuns)} planned runs recorded`,
    ...(records.length
      ? [
          `commits: ${[
            ...[...commits].map(([c, n]) => `${c} (${n} run${n === 1 ? '' : 's'})`),
            ...(unrecorded ? [`not recorded by ${unrecorded} record${unrecorded === 1 ? '' : 's'} (written before records kept it)`] : []),
          ].join('; ')}`,
          `versions: ${describeVersions(data.versions)}`,
          `engines: ${Object.entries(data.engines)
            .map(([engine, n]) => `${engine} (${n} runs)`)
            .join(', ')}`,
          `finished between ${times[0]} and ${times[times.length - 1]}; ${seconds(compute)} of run time in all${data.sessions.length ? `, ${seconds(wall)} of wall time in ${data.sessions.length} recorded session${data.sessions.length === 1 ? '' : 's'} (workers: ${[...new Set(data.sessions.map((s) => s.workers))].join(', ')})` : ', no session recorded its wall time'}`,
        ]
      : []),
  ];
  const links = [
    records.length ? `[\`${study.path}/results.jsonl\`](${study.path}/results.jsonl)` : `\`${study.path}/results.jsonl\` (none yet)`,
    ...(records.length ? [`report: [\`${study.path}/report.md\`](${study.path}/report.md)`] : []),
    ...(study.readme ? [`notes and commands: [\`${study.path}/README.md\`](${study.path}/README.md)`] : []),
  ];
  return { strong: study.name, text: links.join('; '), sub };
}

/** The results page: the answer by class count, its plots, each dataset's numbers and where every number comes from. */
export function buildSummaryDocument(studies: readonly SummaryStudy[], command: string): ReportDocument {
  const sources = studies.map((s) => `\`${s.path}\``).join(', ');
  const rows = summaryRows(studies);
  const plots = [summaryClassCountPlot(rows, 'macroF1'), summaryClassCountPlot(rows, 'secondsPerEpoch')].filter(
    (p): p is ReportPlot => p !== undefined,
  );
  const blocks: Block[] = [
    { kind: 'heading', level: 1, text: 'Results: softmax and prototype heads by number of classes' },
    {
      kind: 'paragraph',
      text: `Generated from the records in ${sources} by \`${command}\` (run it again when records land; do not edit this page by hand). Every number is a mean, ± the standard deviation over seeds, of records in the results files listed under [Sources](#sources), as the studies' own reports compute them.`,
    },
    { kind: 'heading', level: 2, text: 'The answer' },
    {
      kind: 'table',
      header: [
        'classes',
        'study, dataset',
        'best test macro-F1',
        `on par with it (within ${PAR_POINTS} points or the seeds' spread)`,
        'fastest per epoch',
        'cheapest run',
      ],
      rows: rows.map(answerRow),
      note: `Each head family (softmax; the bottleneck softmax, a learned classifier over a D-wide layer; sampled softmax, the same trained on a sampled share of the classes per step; HPN; cosine-softmax, also sampled) stands for itself with one configuration per dataset: of its configurations with records there (prototype set, D, hidden width, stopping rule), the one with the best mean validation macro-F1, or the best test macro-F1 where the records have no validation scores (the seed study's, which favours families with more configurations). Another family is on par with the best when its mean is within ${PAR_POINTS} points or within the sum of the two standard deviations. Costs are those of the chosen configurations: seconds per training epoch (with the validation pass) and seconds per run (data, prototypes, training, evaluation and references), wall-clock under the load each study ran with (see Sources): compare within a row. Where the best cannot be told from a uniform guess by the same rule (about 100 / C points of macro-F1 at C balanced classes), or every network is below the nearest class mean (no network), the row says so; where costs print the same, no winner is named. The tables [by dataset](#by-dataset) add the peak memory of the chosen configurations where their records measured it.`,
    },
    ...(plots.length ? [{ kind: 'plots', plots } as Block] : []),
    {
      kind: 'paragraph',
      text: 'Where a study has no run of a head at a class count, its row says "not run yet" (planned in its grid) or "not in the grid"; a study\'s README may give projected costs for such cells from a benchmark, which are not records and are not on this page.',
    },
    { kind: 'heading', level: 2, text: 'By dataset' },
    {
      kind: 'paragraph',
      text: peakMemoryNote(studies.flatMap((s) => s.data.records)),
    },
  ];
  for (const row of rows) {
    blocks.push({
      kind: 'heading',
      level: 3,
      text: `${row.dataset.classes !== undefined ? `${count(row.dataset.classes)} classes` : row.dataset.label}, ${rowTitle(row)}`,
    });
    const bayes = row.dataset.bayesMacroF1;
    const classMean = row.dataset.classMeanMacroF1;
    const chance = chanceF1(row.dataset.classes);
    const references = [
      ...(bayes || classMean
        ? [
            `${referenceLabel(row.dataset.referenceName ?? 'optimal rule')} ${bayes ? f1Text(bayes) : 'n/a'}`,
            `nearest class mean ${classMean ? f1Text(classMean) : 'n/a'}`,
          ]
        : []),
      ...(chance ? [`a uniform guess about ${chanceText(chance)}`] : []),
    ];
    blocks.push({
      kind: 'table',
      header: ['head', 'chosen configuration', 'test macro-F1', 'seeds', 's / epoch', 'epochs', 's / run', 'peak memory'],
      rows: detailRows(row),
      ...(references.length ? { note: `On the same test splits: ${references.join(', ')}.` } : {}),
    });
  }
  blocks.push({ kind: 'heading', level: 2, text: 'Sources' });
  blocks.push({ kind: 'list', items: studies.map(sourceItem) });
  return { title: 'Results', blocks, plots, findings: [] };
}
