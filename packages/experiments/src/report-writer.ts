import { mkdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { ErrorCode, fileErrorReason, HyperprotoError, hideUrlPassword } from '@hyperproto/core';
import { writeFileAtomic } from '@hyperproto/npy';
import { loadPreset, presetNames } from './grid-files.js';
import type { Grid } from './grid-schema.js';
import {
  buildReportData,
  cellKey,
  type ExcludedRecord,
  recordsOfGrid,
  type ReportData,
  type ReportFailure,
  type ReportSession,
  type SkippedLine,
  type Stat,
  type UnreadFile,
} from './report-data.js';
import { buildReportDocument } from './report-document.js';
import type { Finding } from './report-findings.js';
import { renderHtml } from './report-html.js';
import { renderMarkdown } from './report-markdown.js';
import type { ReportPlot } from './report-plots.js';
import { buildSummaryDocument, summaryRows, type FamilyEntry, type SummaryRow, type SummaryStudy } from './report-summary.js';
import {
  FAILURES_FILE,
  GRID_FILE,
  lineRanges,
  MAX_LINE_BYTES,
  readIfPresent,
  readResultsDirectory,
  SESSIONS_FILE,
} from './results-store.js';
import { BOOLEAN, type FieldRule, fieldsProblem, isJsonObject, NUMBER, optional, STRING } from './run-record.js';

export const REPORT_MARKDOWN = 'report.md';
export const REPORT_HTML = 'report.html';
export const PLOTS_DIR = 'plots';

export interface ReportCellSummary {
  readonly dataset: string;
  readonly model: string;
  readonly seeds: readonly number[];
  readonly macroF1: Stat | null;
  readonly bestEpoch: Stat | null;
  readonly secondsPerEpoch: Stat | null;
  /** Peak resident set of the runs' process, bytes, over the seeds whose records have it (`RunRecord.memory`). */
  readonly peakResidentBytes: Stat | null;
  readonly published: { readonly macroF1: number | null; readonly convergenceEpochs: number | null };
}

export interface WrittenReport {
  readonly dir: string;
  readonly markdown: string;
  readonly html: string;
  readonly plots: readonly string[];
  readonly runs: {
    readonly finished: number;
    readonly expected: number;
    readonly missing: readonly string[];
    /** Records left out because `--resume` would refuse them (a run the grid does not have, another spec). */
    readonly excluded: readonly ExcludedRecord[];
  };
  /** Bayes-optimal test macro-F1 (%) by dataset; null where its runs have none (or there are no runs yet). */
  readonly bayes: Readonly<Record<string, Stat | null>>;
  /** The nearest-class-mean baseline's test macro-F1 (%) by dataset; null where its records have none. */
  readonly classMean: Readonly<Record<string, Stat | null>>;
  /** Whether the seed study's comparison is in the report, and what the grid lacks for it when it is not. */
  readonly seedComparison: { readonly applies: boolean; readonly missing: readonly string[] };
  readonly cells: readonly ReportCellSummary[];
  readonly findings: readonly Finding[];
}

/**
 * Reads a results directory and writes report.md, report.html (self-contained) and plots/*.svg into it, or into
 * `outDir`, which is made if missing; its parent directory must exist, as for every file hyperproto writes. In
 * another directory than the results directory, an existing report.md or report.html is written over only when it is
 * a report this command wrote, or with `force` (the results directory's own are always the command's).
 */
export async function writeReport(dir: string, options: { outDir?: string; force?: boolean } = {}): Promise<WrittenReport> {
  const source = resolve(dir);
  const target = resolve(options.outDir ?? dir);
  if (options.outDir !== undefined) {
    await refuseMissingParent(target, 'the report into');
    // Before the files in it are judged: under a file they cannot be read, and --force cannot help.
    if (
      await stat(target).then(
        (s) => !s.isDirectory(),
        () => false,
      )
    ) {
      throw new HyperprotoError(ErrorCode.Io, `cannot write the report into ${target}: it is a file, not a directory`, {
        hint: `Choose a directory as --out (made if missing): the report writes ${REPORT_MARKDOWN}, ${REPORT_HTML} and ${PLOTS_DIR}/*.svg there.`,
      });
    }
  }
  if (target !== source && !options.force) await refuseUserReport(target);
  const data = await readReportData(source);
  const document = buildReportDocument(data);

  try {
    await mkdir(join(target, PLOTS_DIR), { recursive: true });
    const plots = await writePlots(document.plots, join(target, PLOTS_DIR));
    const markdown = join(target, REPORT_MARKDOWN);
    const html = join(target, REPORT_HTML);
    await writeFileAtomic(markdown, renderMarkdown(document, { plotsDir: PLOTS_DIR }));
    await writeFileAtomic(html, renderHtml(document));
    return { dir: target, markdown, html, plots, ...summarize(data), findings: document.findings };
  } catch (error) {
    throw writeError(error, target);
  }
}

/** A results directory's grid and records, with its failures and sessions, as the report reads them. */
async function readReportData(source: string, grid?: Grid): Promise<ReportData> {
  if (grid) return buildReportData(grid, []);
  const { grid: stored, records, torn, duplicates } = await readResultsDirectory(source);
  const { counted, excluded } = recordsOfGrid(stored, records);
  const failures = await readJsonLines(join(source, FAILURES_FILE), failureOf);
  const sessions = await readJsonLines(join(source, SESSIONS_FILE), sessionOf);
  return buildReportData(stored, counted, {
    failures: failures.values,
    sessions: sessions.values,
    ...(torn ? { torn } : {}),
    ...(duplicates.length ? { duplicates } : {}),
    ...(excluded.length ? { excluded } : {}),
    skippedLines: [...failures.skipped, ...sessions.skipped],
    unreadFiles: [failures.unread, sessions.unread].filter((f) => f !== undefined),
  });
}

/**
 * A failures.jsonl line as the report lists it, or why it cannot: the code and message are under `error` as the
 * runner writes them, on the line itself as earlier versions did. Lines written by earlier versions may hold a queue
 * URL's password: the report never shows it.
 */
function failureOf(line: Record<string, unknown>): ReportFailure | string {
  const error = isJsonObject(line.error) ? line.error : line;
  const problem =
    fieldsProblem(line, '', { key: STRING }) ?? fieldsProblem(error, error === line ? '' : 'error', { code: STRING, message: STRING });
  if (problem) return problem;
  return { key: line.key as string, code: error.code as string, message: hideUrlPassword(error.message as string) };
}

/** The fields of a sessions.jsonl line that the report reads. */
const SESSION_FIELDS = {
  startedAt: STRING,
  wallSeconds: NUMBER,
  workers: NUMBER,
  ran: NUMBER,
  aborted: optional(BOOLEAN),
  command: optional(STRING),
  cores: optional(NUMBER),
} satisfies Partial<Record<keyof ReportSession, FieldRule>>;

/** A sessions.jsonl line as the report reads it, or why it cannot; a queue URL's password hidden, as for failures. */
function sessionOf(line: Record<string, unknown>): ReportSession | string {
  const problem = fieldsProblem(line, '', SESSION_FIELDS);
  if (problem) return problem;
  const session = line as unknown as ReportSession;
  return session.command ? { ...session, command: hideUrlPassword(session.command) } : session;
}

async function writePlots(plots: readonly ReportPlot[], dir: string): Promise<string[]> {
  const paths: string[] = [];
  for (const plot of plots) {
    const path = join(dir, plot.file);
    await writeFileAtomic(path, `${plot.svg}\n`);
    paths.push(path);
  }
  return paths;
}

/**
 * E_IO unless the directory that holds `path` exists: like `prototypes --out` and `export --out`, the report makes no
 * parent directories (a typo in --out must not leave new directories at the root of the file system).
 */
async function refuseMissingParent(path: string, what: string): Promise<void> {
  const parent = dirname(path);
  const problem = await stat(parent).then(
    (s) => (s.isDirectory() ? undefined : `${parent} is not a directory`),
    (error: unknown) => {
      const reason = fileErrorReason(error);
      return reason === 'no such file or directory' ? `the directory ${parent} does not exist` : `${parent}: ${reason}`;
    },
  );
  if (problem === undefined) return;
  throw new HyperprotoError(ErrorCode.Io, `cannot write ${what} ${path}: ${problem}`, {
    hint: 'Create that directory first, or choose another --out.',
  });
}

function writeError(error: unknown, target: string): HyperprotoError {
  if (error instanceof HyperprotoError) return error;
  return new HyperprotoError(ErrorCode.Io, `cannot write the report into ${target}: ${(error as Error).message}`, { cause: error });
}

export const SUMMARY_PAGE = 'README.md';

export interface WrittenSummary {
  /** The page, and its plots beside it under plots/. */
  readonly page: string;
  readonly plots: readonly string[];
  /** The command that writes the page again, as the page states it. */
  readonly command: string;
  readonly studies: readonly {
    readonly name: string;
    readonly dir: string;
    readonly gridSource: string;
    readonly finished: number;
    readonly expected: number;
    /** Records left out because `--resume` would refuse them; the study's own report names them. */
    readonly excluded: number;
  }[];
  readonly rows: readonly SummaryRowJson[];
}

export interface SummaryRowJson {
  readonly study: string;
  readonly dataset: string;
  readonly classes: number | null;
  readonly best: string | null;
  readonly onPar: readonly string[];
  /** The lowest mean; the families in `...TiedWith` print the same seconds, so the page names no winner then. */
  readonly fastestPerEpoch: string | null;
  readonly fastestPerEpochTiedWith: readonly string[];
  readonly cheapestRun: string | null;
  readonly cheapestRunTiedWith: readonly string[];
  /** Whether every network on the dataset scores below the nearest-class-mean baseline. */
  readonly belowClassMean: boolean;
  readonly families: readonly {
    readonly family: string;
    readonly plannedRuns: number;
    readonly finishedRuns: number;
    readonly model: string | null;
    readonly chosenBy: 'validation' | 'test' | null;
    readonly macroF1: Stat | null;
    readonly secondsPerEpoch: Stat | null;
    readonly epochs: Stat | null;
    readonly secondsPerRun: Stat | null;
    readonly peakResidentBytes: Stat | null;
  }[];
}

/**
 * Reads several results directories and writes one page that answers, per class count, which head wins on macro-F1
 * and on cost (`out`, default README.md beside the first directory), with its plots under plots/ beside it. A
 * directory without grid.json yet (a study that has not started) is read as the preset of the same name, with no
 * records. An existing file there is written over only when it is a results page this command wrote, or with `force`.
 */
export async function writeSummaryPage(dirs: readonly string[], options: { out?: string; force?: boolean } = {}): Promise<WrittenSummary> {
  if (dirs.length === 0)
    throw new HyperprotoError(ErrorCode.InvalidOptions, 'the results page needs at least one results directory', {
      hint: 'e.g. hyperproto report docs/results/seed docs/results/collapse --summary --out docs/results/README.md',
    });
  const sources = dirs.map((dir) => resolve(dir));
  const names = sources.map((dir) => basename(dir));
  const repeated = names.find((name, i) => names.indexOf(name) !== i);
  if (repeated)
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `two results directories are named "${repeated}": the page names each study by its directory`,
      {
        hint: 'Give each study once, from directories with different names.',
      },
    );
  let page = resolve(options.out ?? join(dirname(sources[0]!), SUMMARY_PAGE));
  // A file --out names itself, or a page name this command chose (README.md beside the first directory, or in the
  // directory --out names): either may be the user's own file.
  let named = options.out !== undefined;
  if (await isDirectory(page)) {
    page = join(page, SUMMARY_PAGE);
    named = false;
  }
  await refuseMissingParent(page, 'the results page');
  if (!options.force) await refuseUserPage(page, named);
  const pageDir = dirname(page);

  const studies: SummaryStudy[] = [];
  for (const [i, dir] of sources.entries()) {
    if (!(await isDirectory(dir)))
      throw new HyperprotoError(ErrorCode.Io, `${dirs[i]} is not a directory`, {
        hint: 'Give the results directories of `hyperproto experiment` (its --out), e.g. docs/results/seed.',
      });
    const name = names[i]!;
    const hasGrid = await exists(join(dir, GRID_FILE));
    const preset = !hasGrid && presetNames().includes(name) ? await loadPreset(name) : undefined;
    const data = await readReportData(dir, preset);
    studies.push({
      name,
      path: relative(pageDir, dir).split(sep).join('/') || '.',
      data,
      gridSource: preset
        ? `the preset ${name} (no grid.json in the directory yet)`
        : `\`${relative(pageDir, join(dir, GRID_FILE)).split(sep).join('/')}\``,
      readme: await exists(join(dir, 'README.md')),
    });
  }
  const shown = (path: string) => relative(process.cwd(), path) || '.';
  // The command as the CLI names itself: how it is launched (a package script, npx, a global install) varies.
  const command = `hyperproto report ${sources.map(shown).join(' ')} --summary --out ${shown(page)}`;
  const document = buildSummaryDocument(studies, command);
  try {
    await mkdir(join(pageDir, PLOTS_DIR), { recursive: true });
    const plots = await writePlots(document.plots, join(pageDir, PLOTS_DIR));
    await writeFileAtomic(page, renderMarkdown(document, { plotsDir: PLOTS_DIR, links: true }));
    return {
      page,
      plots,
      command,
      studies: studies.map((s, i) => ({
        name: s.name,
        dir: sources[i]!,
        gridSource: s.gridSource,
        finished: s.data.records.length,
        expected: s.data.expectedRuns,
        excluded: s.data.excluded.length,
      })),
      rows: summaryRows(studies).map(rowJson),
    };
  } catch (error) {
    throw writeError(error, pageDir);
  }
}

/**
 * The line every results page states its origin in (see `buildSummaryDocument`): it marks a page this command wrote.
 * Earlier versions wrote "Generated from the committed records by `pnpm hyperproto report ...`".
 */
const GENERATED_PAGE = /^Generated from (?:the records in .+|the committed records) by `(?:pnpm )?hyperproto report .+ --summary\b/m;

/** The first line of a report of one results directory (see `buildReportDocument`): not a results page. */
const DIRECTORY_REPORT = /^# Experiment report: /;

/** The title of the HTML report of one results directory (see `renderHtml`). */
const DIRECTORY_REPORT_HTML = /^<title>Experiment report: /m;

/**
 * An existing file at the page's path, whether --out names it (`named`) or this command chose it, is written over
 * only when it is a results page this command wrote: anything else, a report of one results directory (report.md)
 * included, is refused unless --force is given.
 */
async function refuseUserPage(page: string, named: boolean): Promise<void> {
  await refuseUserFile(
    page,
    GENERATED_PAGE,
    (text) =>
      DIRECTORY_REPORT.test(text)
        ? 'is the report of one results directory (`hyperproto report DIR`), not a results page'
        : 'is not a results page that `hyperproto report --summary` wrote',
    named
      ? "Choose another --out, or pass --force to replace it (the page's plots go to plots/ beside it)."
      : 'Pass --out FILE to say where the page goes (its plots go to plots/ beside it), or --force to replace this file.',
  );
}

/**
 * The report.md and report.html in --out are written over only when they are a report this command wrote, by the
 * rule of the results page. Files under plots/ are not judged: beside the report's own report.md they are its plots.
 */
async function refuseUserReport(target: string): Promise<void> {
  for (const [file, generated] of [
    [REPORT_MARKDOWN, DIRECTORY_REPORT],
    [REPORT_HTML, DIRECTORY_REPORT_HTML],
  ] as const) {
    await refuseUserFile(
      join(target, file),
      generated,
      (text) =>
        GENERATED_PAGE.test(text)
          ? 'is a results page (`hyperproto report --summary`), not the report of one results directory'
          : 'is not a report that `hyperproto report DIR` wrote',
      `Choose another --out, or pass --force to replace it (the report writes ${REPORT_MARKDOWN}, ${REPORT_HTML} and ${PLOTS_DIR}/*.svg there).`,
    );
  }
}

/**
 * E_IO (exit 3) when `path` exists and `generated` does not find this command's mark in it, saying `why` (after
 * "exists and"): the user's file is left as it is, as `prototypes` and `export` refuse an existing --out. An
 * unreadable file counts as the user's.
 */
async function refuseUserFile(path: string, generated: RegExp, why: (text: string) => string, hint: string): Promise<void> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : ''));
  if (text === undefined || generated.test(text)) return;
  throw new HyperprotoError(ErrorCode.Io, `${path} exists and ${why(text)}: it is left as it is, and nothing was written`, { hint });
}

function rowJson(row: SummaryRow): SummaryRowJson {
  const family = (entry: FamilyEntry | undefined) => entry?.family.key ?? null;
  return {
    study: row.study.name,
    dataset: row.dataset.id,
    classes: row.dataset.classes ?? null,
    best: family(row.best),
    onPar: row.onPar.map((e) => e.family.key),
    fastestPerEpoch: family(row.fastestEpoch),
    fastestPerEpochTiedWith: row.fastestEpochTies.map((e) => e.family.key),
    cheapestRun: family(row.cheapestRun),
    cheapestRunTiedWith: row.cheapestRunTies.map((e) => e.family.key),
    belowClassMean: row.belowClassMean !== undefined,
    families: row.families.map((e) => ({
      family: e.family.key,
      plannedRuns: e.plannedRuns,
      finishedRuns: e.finishedRuns,
      model: e.chosen?.model.id ?? null,
      chosenBy: e.chosen?.by ?? null,
      macroF1: e.chosen?.cell.macroF1 ?? null,
      secondsPerEpoch: e.chosen?.cell.secondsPerEpoch ?? null,
      epochs: e.chosen?.cell.epochs ?? null,
      secondsPerRun: e.chosen?.cell.totalSeconds ?? null,
      peakResidentBytes: e.chosen?.cell.peakResidentBytes ?? null,
    })),
  };
}

const isDirectory = (path: string) =>
  stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

function summarize(data: ReportData) {
  const published = data.seed.applies ? data.grid.published : undefined;
  const isSeedCell = (dataset: string, model: string) => data.seed.datasets.has(dataset) && data.seed.models.has(model);
  return {
    runs: { finished: data.records.length, expected: data.expectedRuns, missing: data.missing, excluded: data.excluded },
    bayes: Object.fromEntries(data.datasets.map((d) => [d.id, d.bayesMacroF1])),
    classMean: Object.fromEntries(data.datasets.map((d) => [d.id, d.classMeanMacroF1])),
    seedComparison: { applies: data.seed.applies, missing: data.seed.missing },
    cells: data.datasets.flatMap((d) =>
      data.models.map((m) => {
        const cell = data.cells.get(cellKey(d.id, m.id))!;
        return {
          dataset: d.id,
          model: m.id,
          seeds: cell.seeds,
          macroF1: cell.macroF1,
          bestEpoch: cell.bestEpoch,
          secondsPerEpoch: cell.secondsPerEpoch,
          peakResidentBytes: cell.peakResidentBytes,
          published: isSeedCell(d.id, m.id)
            ? { macroF1: published?.macroF1[d.id]?.[m.id] ?? null, convergenceEpochs: published?.convergenceEpochs[d.id]?.[m.id] ?? null }
            : { macroF1: null, convergenceEpochs: null },
        };
      }),
    ),
  };
}

/**
 * The lines of a file that `read` makes something of (it says why not in a string). Anything else (a torn last line,
 * a line edited by hand, one too long to decode) is skipped and listed, and a file that cannot be read is named, so
 * the report says what it left out: these files only inform the report, and a bad line in them must not stop it.
 * `maxLineBytes` is MAX_LINE_BYTES but for tests.
 */
export async function readJsonLines<T extends object>(
  path: string,
  read: (line: Record<string, unknown>) => T | string,
  maxLineBytes = MAX_LINE_BYTES,
): Promise<{ values: T[]; skipped: SkippedLine[]; unread?: UnreadFile }> {
  const file = basename(path);
  let buffer: Buffer;
  try {
    buffer = (await readIfPresent(path)) ?? Buffer.alloc(0);
  } catch (error) {
    return { values: [], skipped: [], unread: { file, reason: fileErrorReason((error as Error).cause ?? error) } };
  }
  const values: T[] = [];
  const skipped: SkippedLine[] = [];
  for (const { line, start, end } of lineRanges(buffer)) {
    if (end - start > maxLineBytes) {
      skipped.push({ file, line, reason: `${end - start} bytes long, more than is read as one line (${maxLineBytes} bytes)` });
      continue;
    }
    const text = buffer.subarray(start, end).toString('utf8');
    if (!text.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      skipped.push({ file, line, reason: `not valid JSON (${(error as Error).message})` });
      continue;
    }
    const result = isJsonObject(value) ? read(value) : 'not a JSON object';
    if (typeof result === 'string') skipped.push({ file, line, reason: result });
    else values.push(result);
  }
  return { values, skipped };
}
