import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCode, HyperprotoError, hideUrlPasswords } from '@hyperproto/core';
import {
  loadGridFile,
  loadPreset,
  runGrid,
  writeReport,
  type GridOutcome,
  type GridProgress,
  type SavedModelsSummary,
  type SaveModels,
} from '@hyperproto/experiments';
import { errorJson } from '../exit-codes.js';
import { interruptSignal } from '../interrupt.js';
import { formatDuration, Output, terminalText } from '../output.js';
import type { RegistryModuleOptions } from '../registry-module.js';

export interface ExperimentOptions {
  preset?: string;
  /** The grid file; its "plugins" load after the config's. */
  grid?: string;
  /** A config file, as for every command; false (--no-config) loads none. A grid here is the deprecated --config grid. */
  config?: string | false;
  out?: string;
  resume?: boolean;
  workers?: number;
  only?: string[];
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  plugin?: string[];
  /** Which trained models to keep under <out>/models; unset: the results directory's mode, or best for a new one. */
  saveModels?: SaveModels;
  /**
   * Run on the workers of this job queue (`redis://HOST:PORT/DB`) instead of this machine's threads: --queue, or
   * HYPERPROTO_QUEUE_URL without it (commander reads the variable).
   */
  queue?: string;
  /** Where `queue` came from, as refusals name it: --queue (the default) or HYPERPROTO_QUEUE_URL. */
  queueFrom?: string;
}

export async function experimentCommand(options: ExperimentOptions): Promise<void> {
  const { gridPath, config } = await chooseGrid(options);
  // `--queue ""` (an unset variable) is refused below, never taken for "no queue".
  const queued = options.queue !== undefined;
  const source = options.queueFrom ?? '--queue';
  // An empty --queue is the first thing to say: with it, --workers would be no conflict.
  if (queued && options.workers && options.queue!.trim() !== '') {
    throw source === '--queue'
      ? new HyperprotoError(ErrorCode.InvalidOptions, 'give --workers or --queue, not both', {
          hint: '--workers sets the threads of this machine; with --queue each `hyperproto worker` sets its own --concurrency.',
        })
      : new HyperprotoError(ErrorCode.InvalidOptions, `give --workers or a job queue (${source} is set), not both`, {
          hint: `--workers sets the threads of this machine: to run on them, unset ${source} (env -u ${source} hyperproto experiment ...); with a queue each \`hyperproto worker\` sets its own --concurrency.`,
        });
  }
  // Parsed first: a malformed URL is refused before the grid is even read, naming where it came from.
  const queueModule = queued ? await import('@hyperproto/queue-bullmq') : undefined;
  queueModule?.parseQueueAddress(options.queue!, source);
  const queue = queueModule?.queueScheduler({ url: options.queue! });
  const args = process.argv.slice(2);
  const output = new Output(options);
  const grid = gridPath ? await loadGridFile(gridPath) : await loadPreset(options.preset!);
  const gridSource = gridPath ?? `preset ${options.preset}`;
  const out = options.out ?? `runs/${grid.name}`;
  // Plain JSON: it is sent to every worker thread, which builds the same registry from it. --no-config reaches the
  // threads as HYPERPROTO_NO_CONFIG, set by the command before this.
  const registryOptions: RegistryModuleOptions = {
    cwd: process.cwd(),
    ...(config ? { config: resolve(config) } : {}),
    ...(gridPath ? { grid: gridPath } : {}),
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
      // Stored in sessions.jsonl and shown in the report: the queue URL's password must not be.
      command: ['hyperproto', ...hideUrlPasswords(args)].join(' '),
      ...(options.saveModels ? { saveModels: options.saveModels } : {}),
      defaultSaveModels: 'best',
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
      outcome.models ? describeModels(outcome.models) : '',
    ]
      .filter(Boolean)
      .join('\n'),
  );
  if (failure) throw failure;
}

/** The saved models in the summary; removed ones always named, as they are gone from disk. */
function describeModels({ dir, mode, held, removed }: SavedModelsSummary): string {
  const lines = [`  models  ${dir} (--save-models ${mode}): ${held.length} held`];
  if (removed.length > 0) {
    lines.push(
      `          removed ${removed.length}, each replaced by a better seed of its cell: ${removed.map((key) => join(dir, key)).join(', ')}`,
    );
  }
  return lines.join('\n');
}

const PRESETS_HINT =
  'Presets: seed (the study, 150 runs), seed-quick (the same grid, small and fast), collapse and many-classes (see --help). A grid file has the form of a preset: a run of one writes its grid to <out>/grid.json (the presets are in the presets/ folder of @hyperproto/experiments).';

/**
 * The grid file (absolute; none for --preset) and the config file to load plugins from. --config used to name the
 * grid: a --config file that is a grid, with no --grid or --preset, still runs as the grid (with a note), and the
 * directory's own config then loads as it would with --grid.
 */
async function chooseGrid(options: ExperimentOptions): Promise<{ gridPath?: string; config?: string }> {
  const { preset, grid, config } = options;
  if (preset && grid) throw new HyperprotoError(ErrorCode.InvalidOptions, 'give --preset or --grid, not both', { hint: PRESETS_HINT });
  if (preset || grid) return { ...(grid ? { gridPath: resolve(grid) } : {}), ...(typeof config === 'string' ? { config } : {}) };
  if (typeof config === 'string' && (await isGridFile(config))) {
    if (!options.quiet) process.stderr.write(`note: --config for a grid file is deprecated: use --grid ${config}\n`);
    return { gridPath: resolve(config) };
  }
  const why =
    config === false
      ? // Commander gives --config and --no-config one value, the last: a grid given as --config is gone.
        'If the grid came with --config FILE, --no-config cancelled it (--config names the plugin config file): give the grid as --grid FILE. '
      : typeof config === 'string'
        ? `${config} is not a grid (a JSON file with "datasets" and "models"): --config names the plugin config file, --grid FILE the grid. `
        : '';
  throw new HyperprotoError(ErrorCode.InvalidOptions, 'name the grid: --preset NAME or --grid FILE', { hint: `${why}${PRESETS_HINT}` });
}

/** Whether `file` reads as a grid (a JSON object with "datasets" and "models"), not a plugin config. */
async function isGridFile(file: string): Promise<boolean> {
  try {
    const raw: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof raw === 'object' && raw !== null && 'datasets' in raw && 'models' in raw;
  } catch {
    return false; // unreadable or not JSON (a .mjs config): not a grid
  }
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
        : `[${progress.done}/${progress.total}] ${event.key} failed: ${event.failure.message}`;
    if (this.lines) process.stderr.write(`${terminalText(text)}\n`);
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
