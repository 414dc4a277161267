import { resolve } from 'node:path';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import {
  loadGridFile,
  loadPreset,
  runGrid,
  writeReport,
  type GridOutcome,
  type GridProgress,
  type SaveModels,
} from '@hyperproto/experiments';
import { errorJson } from '../exit-codes.js';
import { interruptSignal } from '../interrupt.js';
import { formatDuration, Output } from '../output.js';
import type { RegistryModuleOptions } from '../registry-module.js';

export interface ExperimentOptions {
  preset?: string;
  /** The grid file (for this command --config names the grid; its "plugins" load like hyperproto.config.json's). */
  config?: string;
  out?: string;
  resume?: boolean;
  workers?: number;
  only?: string[];
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  plugin?: string[];
  /** Which trained models to keep under <out>/models (commander fills the default, best). */
  saveModels?: SaveModels;
  /** Run on the workers of this job queue (`redis://HOST:PORT/DB`) instead of this machine's threads. */
  queue?: string;
}

export async function experimentCommand(options: ExperimentOptions): Promise<void> {
  if (Boolean(options.preset) === Boolean(options.config)) {
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      options.preset ? 'give --preset or --config, not both' : 'name the grid: --preset NAME or --config FILE',
      {
        hint: 'Presets: seed (the study, 150 runs), seed-quick (the same grid, small and fast), collapse and many-classes (see --help). A grid file has the form of a preset: a run of one writes its grid to <out>/grid.json (the presets are in the presets/ folder of @hyperproto/experiments).',
      },
    );
  }
  if (options.queue && options.workers) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, 'give --workers or --queue, not both', {
      hint: '--workers sets the threads of this machine; with --queue each `hyperproto worker` sets its own --concurrency.',
    });
  }
  // Parsed first: a malformed URL is refused before the grid is even read.
  const queue = options.queue ? (await import('@hyperproto/queue-bullmq')).queueScheduler({ url: options.queue }) : undefined;
  const output = new Output(options);
  const gridPath = options.config ? resolve(options.config) : undefined;
  const grid = gridPath ? await loadGridFile(gridPath) : await loadPreset(options.preset!);
  const gridSource = gridPath ?? `preset ${options.preset}`;
  const out = options.out ?? `runs/${grid.name}`;
  // Plain JSON: it is sent to every worker thread, which builds the same registry from it.
  const registryOptions: RegistryModuleOptions = {
    cwd: process.cwd(),
    ...(gridPath ? { config: gridPath } : {}),
    plugins: options.plugin ?? [],
  };
  const display = new GridDisplay(options, output);

  let outcome: GridOutcome;
  try {
    outcome = await runGrid({
      grid,
      gridSource,
      out,
      registryModule: new URL('../registry-module.js', import.meta.url).href,
      registryOptions,
      ...(options.workers ? { workers: options.workers } : {}),
      ...(queue ? { scheduler: queue } : {}),
      resume: Boolean(options.resume),
      ...(options.only?.length ? { only: options.only } : {}),
      signal: interruptSignal(),
      onProgress: (progress) => display.update(progress),
      onLog: (message) => display.log(message),
      command: ['hyperproto', ...process.argv.slice(2)].join(' '),
      saveModels: options.saveModels ?? 'best',
    });
  } finally {
    display.stop();
  }

  const report = outcome.ran + outcome.skipped > 0 ? await writeReport(outcome.out) : undefined;
  const [first] = outcome.failed;
  const failure = first
    ? new HyperprotoError(
        ErrorCode.TrainingFailed,
        `${outcome.failed.length} run(s) failed, first ${first.key}: ${first.failure.message.split('\n')[0]}`,
        {
          hint: `Each failure is in ${resolve(out, 'failures.jsonl')}; rerun with --resume to retry the failed runs only.`,
        },
      )
    : undefined;
  // With --json the failure rides in the result: stdout holds one object.
  const result = {
    ...outcome,
    ...(queue ? { queue: queue.address.display } : {}),
    report: report ? { markdown: report.markdown, html: report.html } : null,
    ...(failure ? errorJson(failure) : {}),
  };
  output.result(result, () =>
    [
      `${grid.name}: ${outcome.ran} run(s) done now, ${outcome.skipped} already finished, ${outcome.failed.length} failed, of ${outcome.total}${outcome.total < outcome.gridTotal ? ` selected by --only (the grid has ${outcome.gridTotal})` : ''}; ${formatSeconds(outcome.wallSeconds)} on ${outcome.workers} ${queue ? `worker slot(s) of ${queue.address.display}` : 'worker(s)'}`,
      `  results ${outcome.resultsFile}`,
      report ? `  report  ${report.markdown}\n          ${report.html}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
  );
  if (failure) throw failure;
}

/** The grid's progress: Output's one bar on a terminal; a line per finished run otherwise (unless --quiet or --json). */
class GridDisplay {
  private readonly lines: boolean;
  private stopped = false;

  constructor(
    options: { json?: boolean; quiet?: boolean },
    private readonly output: Output,
  ) {
    this.lines = !output.interactive && !options.json && !options.quiet;
  }

  update(progress: GridProgress): void {
    // A worker's last report may come after the grid ended: it must not start a second bar under the summary.
    if (this.stopped) return;
    // The runner's own estimate, with its unit: cli-progress' `eta` would replace it with its own.
    const eta = progress.etaSeconds === null ? '?' : formatDuration(progress.etaSeconds);
    const running = progress.running.map((r) => `${r.key} ${r.stage} ${r.total > 1 ? `${r.done}/${r.total}` : ''}`.trim()).join(', ');
    this.output.progress(
      'experiment',
      progress.done,
      progress.total,
      `${formatDuration(progress.elapsedSeconds)} elapsed${running ? ` | ${running}` : ''}`,
      progress.etaSeconds,
    );
    const event = progress.event;
    if (!event) return;
    const text =
      event.type === 'finished'
        ? `[${progress.done}/${progress.total}] ${event.record.key}: macro-F1 ${percent(event.record.metrics.macroF1)}, best epoch ${event.record.bestEpoch} of ${event.record.epochs}, ${formatSeconds(event.record.seconds.total)}; ETA ${eta}`
        : `[${progress.done}/${progress.total}] ${event.key} failed: ${event.failure.message.split('\n')[0]}`;
    if (this.lines) process.stderr.write(`${text}\n`);
    else if (event.type === 'failed') this.output.info(text);
  }

  log(message: string): void {
    this.output.log(message);
  }

  stop(): void {
    this.stopped = true;
    this.output.done();
  }
}

function percent(x: number | null): string {
  return x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`;
}

function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${seconds.toFixed(0)}s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)}m`;
  return `${(seconds / 3600).toFixed(1)}h`;
}
