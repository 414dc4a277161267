import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { writeReport, writeSummaryPage } from '@hyperproto/experiments';
import { Output } from '../output.js';

export interface ReportOptions {
  out?: string;
  summary?: boolean;
  /** Write over an existing --out file (with --summary) or report.md/report.html in --out that this command did not write. */
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export async function reportCommand(dirs: readonly string[], options: ReportOptions): Promise<void> {
  if (options.summary) return summaryCommand(dirs, options);
  if (dirs.length !== 1)
    throw new HyperprotoError(ErrorCode.InvalidOptions, `report takes one results directory, got ${dirs.length}`, {
      hint: 'Several directories make one results page with --summary, e.g. hyperproto report docs/results/seed docs/results/collapse --summary.',
    });
  const output = new Output(options);
  const report = await writeReport(dirs[0]!, {
    ...(options.out ? { outDir: options.out } : {}),
    ...(options.force ? { force: true } : {}),
  });
  output.result(report, () =>
    [
      `${report.runs.finished} of ${report.runs.expected} runs reported${report.runs.missing.length ? ` (${report.runs.missing.length} missing)` : ''}`,
      // Records --resume refuses are left out of the numbers: the report says which.
      ...(report.runs.excluded.length
        ? [
            `  ${report.runs.excluded.length} record(s) not counted (--resume refuses them), e.g. ${report.runs.excluded[0]!.key}: see the report`,
          ]
        : []),
      `  ${report.markdown}`,
      `  ${report.html}`,
      `  ${report.plots.length} plot(s) in ${report.dir}/plots`,
      // The seed study's findings exist only for grids that hold its cells.
      ...(report.findings.length ? ["The study's findings:", ...report.findings.map((f) => `  ${f.status.padEnd(12)} ${f.claim}`)] : []),
    ].join('\n'),
  );
}

async function summaryCommand(dirs: readonly string[], options: ReportOptions): Promise<void> {
  const output = new Output(options);
  const page = await writeSummaryPage(dirs, { ...(options.out ? { out: options.out } : {}), ...(options.force ? { force: true } : {}) });
  output.result(page, () =>
    [
      `${page.page} (${page.plots.length} plot(s) beside it in plots/)`,
      ...page.studies.map(
        (s) =>
          `  ${s.name}: ${s.finished} of ${s.expected} runs recorded${s.excluded ? ` (${s.excluded} record(s) not counted: --resume refuses them; see its report)` : ''}`,
      ),
      ...page.rows.map(
        (r) =>
          `  ${String(r.classes ?? '?').padStart(7)} classes, ${r.study}/${r.dataset}: ${r.best ? `best ${r.best}${r.onPar.length ? ` (on par: ${r.onPar.join(', ')})` : ''}, ${r.fastestPerEpochTiedWith.length ? `no clear fastest per epoch (${[r.fastestPerEpoch, ...r.fastestPerEpochTiedWith].join(', ')} equal)` : `fastest per epoch ${r.fastestPerEpoch}`}` : 'not run yet'}`,
      ),
    ].join('\n'),
  );
}
