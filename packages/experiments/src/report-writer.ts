import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { writeFileAtomic } from '@hyperproto/npy';
import { buildReportData, cellKey, type ReportData, type ReportFailure, type ReportSession, type Stat } from './report-data.js';
import { buildReportDocument } from './report-document.js';
import type { Finding } from './report-findings.js';
import { renderHtml } from './report-html.js';
import { renderMarkdown } from './report-markdown.js';
import { FAILURES_FILE, readResultsDirectory, SESSIONS_FILE } from './results-store.js';

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
  readonly published: { readonly macroF1: number | null; readonly convergenceEpochs: number | null };
}

export interface WrittenReport {
  readonly dir: string;
  readonly markdown: string;
  readonly html: string;
  readonly plots: readonly string[];
  readonly runs: { readonly finished: number; readonly expected: number; readonly missing: readonly string[] };
  /** Bayes-optimal test macro-F1 (%) by dataset; null where its runs have none (or there are no runs yet). */
  readonly bayes: Readonly<Record<string, Stat | null>>;
  /** The nearest-class-mean baseline's test macro-F1 (%) by dataset; null where its records have none. */
  readonly classMean: Readonly<Record<string, Stat | null>>;
  /** Whether the seed study's comparison is in the report, and what the grid lacks for it when it is not. */
  readonly seedComparison: { readonly applies: boolean; readonly missing: readonly string[] };
  readonly cells: readonly ReportCellSummary[];
  readonly findings: readonly Finding[];
}

/** Reads a results directory and writes report.md, report.html (self-contained) and plots/*.svg into it. */
export async function writeReport(dir: string, options: { outDir?: string } = {}): Promise<WrittenReport> {
  const source = resolve(dir);
  const target = resolve(options.outDir ?? dir);
  const { grid, records, torn, duplicates } = await readResultsDirectory(source);
  const failures = await readJsonLines<ReportFailure & { error?: { code: string; message: string } }>(join(source, FAILURES_FILE));
  const sessions = await readJsonLines<ReportSession>(join(source, SESSIONS_FILE));
  const data = buildReportData(grid, records, {
    failures: failures.map((f) => ({ key: f.key, code: f.error?.code ?? f.code, message: f.error?.message ?? f.message })),
    sessions,
    ...(torn ? { torn } : {}),
    ...(duplicates.length ? { duplicates } : {}),
  });
  const document = buildReportDocument(data);

  try {
    await mkdir(join(target, PLOTS_DIR), { recursive: true });
    const plots: string[] = [];
    for (const plot of document.plots) {
      const path = join(target, PLOTS_DIR, plot.file);
      await writeFileAtomic(path, `${plot.svg}\n`);
      plots.push(path);
    }
    const markdown = join(target, REPORT_MARKDOWN);
    const html = join(target, REPORT_HTML);
    await writeFileAtomic(markdown, renderMarkdown(document, PLOTS_DIR));
    await writeFileAtomic(html, renderHtml(document));
    return { dir: target, markdown, html, plots, ...summarize(data), findings: document.findings };
  } catch (error) {
    if (error instanceof HyperprotoError) throw error;
    throw new HyperprotoError(ErrorCode.Io, `cannot write the report into ${target}: ${(error as Error).message}`, { cause: error });
  }
}

function summarize(data: ReportData) {
  const published = data.seed.applies ? data.grid.published : undefined;
  const isSeedCell = (dataset: string, model: string) => data.seed.datasets.has(dataset) && data.seed.models.has(model);
  return {
    runs: { finished: data.records.length, expected: data.expectedRuns, missing: data.missing },
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
          published: isSeedCell(d.id, m.id)
            ? { macroF1: published?.macroF1[d.id]?.[m.id] ?? null, convergenceEpochs: published?.convergenceEpochs[d.id]?.[m.id] ?? null }
            : { macroF1: null, convergenceEpochs: null },
        };
      }),
    ),
  };
}

/** Lines that parse; anything else (a torn last line) is skipped: these files only inform the report. */
async function readJsonLines<T>(path: string): Promise<T[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // ignored
    }
  }
  return out;
}
