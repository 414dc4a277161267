import { writeReport } from '@hyperproto/experiments';
import { Output } from '../output.js';

export interface ReportOptions {
  out?: string;
  json?: boolean;
  quiet?: boolean;
}

export async function reportCommand(dir: string, options: ReportOptions): Promise<void> {
  const output = new Output(options);
  const report = await writeReport(dir, options.out ? { outDir: options.out } : {});
  output.result(report, () =>
    [
      `${report.runs.finished} of ${report.runs.expected} runs reported${report.runs.missing.length ? ` (${report.runs.missing.length} missing)` : ''}`,
      `  ${report.markdown}`,
      `  ${report.html}`,
      `  ${report.plots.length} plot(s) in ${report.dir}/plots`,
      // The seed study's findings exist only for grids that hold its cells.
      ...(report.findings.length ? ["The study's findings:", ...report.findings.map((f) => `  ${f.status.padEnd(12)} ${f.claim}`)] : []),
    ].join('\n'),
  );
}
