import { availableParallelism } from 'node:os';
import { chooseEngine, ErrorCode, HyperprotoError, type Registry } from '@hyperproto/core';
import { canonicalJson, differences } from './grid-difference.js';
import type { Grid } from './grid-schema.js';
import { checkGrid, type CheckedRun } from './grid-validation.js';
import { gitProvenance, modulePath, type GitProvenance } from './git-provenance.js';
import { collectVersions, importRegistryModule, loadRegistry } from './registry-module.js';
import type { RunFailure } from './run-execution.js';
import { RunEstimates } from './run-estimates.js';
import type { RunRecord } from './run-record.js';
import { checkModelsWritable, SavedModels, type SavedModelsSummary, type SaveModels } from './saved-models.js';
import { InlineSlot, RunFailedError, ThreadSlot, type RunSlot } from './run-slots.js';
import { ResultsStore, type TornLine } from './results-store.js';

export interface RunGridOptions {
  readonly grid: Grid;
  /** Where the grid came from, for messages (e.g. `preset seed` or a file path). */
  readonly gridSource?: string;
  /** Results directory. */
  readonly out: string;
  /** Module (URL or absolute path) exporting `buildRegistry(options)`; every worker imports it. */
  readonly registryModule: string;
  /** Passed to `buildRegistry` in every thread; plain JSON. */
  readonly registryOptions?: unknown;
  /** Parallel runs; default one per core. */
  readonly workers?: number;
  /** Continue a results directory of the same grid: finished runs are skipped, unfinished ones run. */
  readonly resume?: boolean;
  /** Run in this thread instead of worker threads (tests; registries that only exist in this thread). */
  readonly inline?: boolean;
  /**
   * Run only the runs whose key (`dataset/model/s<seed>`) matches one of these patterns: `*` matches within a part,
   * and a shorter pattern matches every run below it (`c10`, `c100/*\/s0`, `*\/softmax`). The grid stays whole, so a
   * later session without `only` completes it.
   */
  readonly only?: readonly string[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: GridProgress) => void;
  readonly onLog?: (message: string) => void;
  /** The command line, recorded with the session for the report. */
  readonly command?: string;
  /**
   * Which trained models to keep under `<out>/models/<dataset>/<model>/s<seed>/`, each a run directory as the
   * registry module's `writeRunDirectory` writes it: `best` the seed of each cell with the best validation score
   * (replaced when a later seed, also of a resumed session, beats it), `all` every run's, `none` (default) nothing.
   */
  readonly saveModels?: SaveModels;
}

export interface RunningRun {
  readonly key: string;
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  readonly seconds: number;
}

export interface GridProgress {
  /** Runs this session was asked for (the grid, or those `only` selected). */
  readonly total: number;
  /** Of those, runs with a record, including those finished before this session. */
  readonly done: number;
  /** Of those, runs found finished when this session started. */
  readonly skipped: number;
  readonly failed: number;
  readonly running: readonly RunningRun[];
  readonly elapsedSeconds: number;
  /** Estimated seconds until every run has finished; null until there is anything to estimate from. */
  readonly etaSeconds: number | null;
  /** The event that caused this report, when a run finished or failed. */
  readonly event?:
    | { readonly type: 'finished'; readonly record: RunRecord }
    | { readonly type: 'failed'; readonly key: string; readonly failure: RunFailure };
}

export interface GridOutcome {
  readonly out: string;
  readonly resultsFile: string;
  readonly grid: string;
  /** Runs this session was asked for: the whole grid, or those `only` selected. */
  readonly total: number;
  readonly gridTotal: number;
  readonly skipped: number;
  readonly ran: number;
  readonly failed: readonly { readonly key: string; readonly failure: RunFailure }[];
  readonly workers: number;
  readonly wallSeconds: number;
  /** A cut-short last line that was found and removed (its run was run again). */
  readonly torn: TornLine | undefined;
  /** The saved models, unless `saveModels` was `none`. */
  readonly models: SavedModelsSummary | null;
}

/**
 * Runs every run of a grid that has no record yet, in parallel, appending one record per finished run. Everything
 * that can be checked is checked before the first run starts: plugins, options, prototype sizes, the results
 * directory (lock, same grid, same specs).
 */
export async function runGrid(options: RunGridOptions): Promise<GridOutcome> {
  const started = performance.now();
  const log = options.onLog ?? (() => {});
  // Every run says the same things (e.g. which backends were skipped): say each once.
  const said = new Set<string>();
  const runLog = (message: string) => {
    const text = message.replace(/^\S+\/s\d+: /, '');
    if (said.has(text)) return;
    said.add(text);
    log(message);
  };
  const source = options.gridSource ?? options.grid.name;
  if (options.workers !== undefined && (!Number.isInteger(options.workers) || options.workers < 1)) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `workers must be a positive integer, got ${options.workers}`);
  }

  const saveModels = options.saveModels ?? 'none';
  const module = await importRegistryModule(options.registryModule);
  if (saveModels !== 'none' && typeof module.writeRunDirectory !== 'function') {
    throw new HyperprotoError(
      ErrorCode.Internal,
      `cannot save models: the registry module ${options.registryModule} exports no writeRunDirectory(dir, outcome, target)`,
    );
  }
  const { registry, plugins } = await loadRegistry(module, options.registryOptions);
  const runs = checkGrid(registry, options.grid, source);
  const selected = options.only?.length ? selectRuns(runs, options.only) : runs;
  // Before the results directory is touched: a refusal must leave nothing behind.
  if (saveModels !== 'none') await checkModelsWritable(options.out);

  const store = await ResultsStore.open(options.out, { grid: options.grid, resume: options.resume, gridSource: source, log });
  const slots: RunSlot[] = [];
  const startedAt = new Date().toISOString();
  let session: { workers: number; ran: () => number; failed: () => number } | undefined;
  let models: SavedModels | undefined;
  try {
    if (saveModels !== 'none') models = await SavedModels.open(store.dir, saveModels, store.records);
    const finished = finishedRuns(store.records, runs, store.resultsPath);
    if (hasPendingRuns(selected, finished) && store.records.length > 0)
      await warnOnEngineChange(registry, options.grid.engine, store.records, log);
    const pending = selected.filter((run) => !finished.has(run.key));
    const estimates = new RunEstimates(runs, store.records);
    const runsByKey = new Map(runs.map((run) => [run.key, run]));
    const workerCount = Math.max(1, Math.min(options.workers ?? availableParallelism(), pending.length || 1));
    // Each worker's native sessions get their share of the cores: pools as wide as the machine in every worker
    // would oversubscribe it.
    const threadsPerWorker = Math.max(1, Math.floor(availableParallelism() / workerCount));
    const failed: { key: string; failure: RunFailure }[] = [];
    const running = new Map<string, { stage: string; done: number; total: number; since: number }>();
    // Counted within the selected runs (all of them unless `only` narrows the session).
    const skipped = selected.filter((run) => finished.has(run.key)).length;
    let done = skipped;
    const queue = [...pending];

    const report = (event?: GridProgress['event']) => {
      const now = performance.now();
      const active = [...running].map(([key, r]) => ({
        key,
        stage: r.stage,
        done: r.done,
        total: r.total,
        seconds: (now - r.since) / 1000,
      }));
      options.onProgress?.({
        total: selected.length,
        done,
        skipped,
        failed: failed.length,
        running: active,
        elapsedSeconds: (now - started) / 1000,
        etaSeconds: estimates.remainingSeconds(queue, active, workerCount, runsByKey),
        ...(event ? { event } : {}),
      });
    };

    if (pending.length === 0) {
      report();
      return summary();
    }
    session = { workers: workerCount, ran: () => done - skipped, failed: () => failed.length };
    const scope =
      selected.length < runs.length
        ? `${pending.length} runs to do: ${selected.length} of the grid's ${runs.length} selected by --only, ${skipped} of them already finished`
        : `${pending.length} of ${runs.length} runs to do (${skipped} already finished)`;
    log(`${scope}, on ${workerCount} ${options.inline ? 'inline slot' : 'worker thread'}${workerCount > 1 ? 's' : ''}`);

    const git = await codeCommit(options.registryModule);
    if (options.inline) {
      const provenance = { versions: await collectVersions(module), git, plugins };
      for (let i = 0; i < workerCount; i++) slots.push(new InlineSlot(registry, provenance, module.writeRunDirectory));
    } else {
      const setup = { registryModule: options.registryModule, registryOptions: options.registryOptions ?? {}, git };
      const startups = await Promise.allSettled(
        Array.from({ length: workerCount }, () => ThreadSlot.start(setup, runLog, threadsPerWorker)),
      );
      for (const result of startups) if (result.status === 'fulfilled') slots.push(result.value);
      const failure = startups.find((result) => result.status === 'rejected');
      if (failure) startupFailure(failure.reason);
    }
    report();

    const onAbort = () => slots.forEach((slot) => slot.abort());
    options.signal?.addEventListener('abort', onAbort);
    let fatal: RunFailedError | undefined;
    try {
      await Promise.all(
        slots.map(async (initial, index) => {
          let slot = initial;
          for (let run = queue.shift(); run; run = queue.shift()) {
            if (options.signal?.aborted || fatal) {
              queue.unshift(run);
              return;
            }
            running.set(run.key, { stage: 'starting', done: 0, total: 1, since: performance.now() });
            const save = models?.placement(run);
            try {
              const order = {
                key: run.key,
                dataset: run.dataset,
                model: run.model,
                seed: run.seed,
                spec: run.parsedSpec,
                ...(save ? { save } : {}),
              };
              const record = await slot.run(order, (stage, d, t) => {
                running.set(run!.key, { ...running.get(run!.key)!, stage, done: d, total: t });
                report();
              });
              running.delete(run.key);
              store.append(record);
              // The record first: a model on disk always has one (a crash in between leaves a staging directory,
              // which the next session removes).
              await models
                ?.settle(run, record)
                .catch((error: unknown) => log(`the model of ${run!.key} was not saved: ${(error as Error).message}`));
              estimates.add(run, record.seconds.total);
              done++;
              report({ type: 'finished', record });
            } catch (error) {
              running.delete(run.key);
              await models?.discard(run).catch(() => {});
              if (!(error instanceof RunFailedError)) throw error;
              if (error.failure.code === ErrorCode.Aborted || options.signal?.aborted) {
                queue.unshift(run);
                return;
              }
              failed.push({ key: run.key, failure: error.failure });
              store.appendFailure({ key: run.key, error: error.failure });
              log(`run ${run.key} failed: ${error.failure.message}`);
              report({ type: 'failed', key: run.key, failure: error.failure });
              if (error.lost && !options.inline) {
                // The thread died (out of memory, a crash): start a fresh one for the remaining runs.
                await slot.close();
                slot = await ThreadSlot.start(
                  { registryModule: options.registryModule, registryOptions: options.registryOptions ?? {}, git },
                  runLog,
                  threadsPerWorker,
                ).catch((e: unknown) => {
                  fatal = e instanceof RunFailedError ? e : new RunFailedError({ code: ErrorCode.Internal, message: String(e) }, true);
                  return startupFailure(fatal);
                });
                slots[index] = slot;
              }
            }
          }
        }),
      );
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (options.signal?.aborted) {
      throw new HyperprotoError(
        ErrorCode.Aborted,
        `interrupted: ${done} of ${selected.length} runs are finished and kept in ${store.resultsPath}`,
        {
          hint: 'Run the same command with --resume to continue.',
        },
      );
    }
    return summary();

    function summary(): GridOutcome {
      return {
        out: store.dir,
        resultsFile: store.resultsPath,
        grid: options.grid.name,
        total: selected.length,
        gridTotal: runs.length,
        skipped,
        ran: done - skipped,
        failed,
        workers: workerCount,
        wallSeconds: (performance.now() - started) / 1000,
        torn: store.torn,
        models: models?.summary() ?? null,
      };
    }
  } finally {
    await Promise.all(slots.map((slot) => slot.close()));
    if (session) {
      store.appendSession({
        startedAt,
        endedAt: new Date().toISOString(),
        wallSeconds: (performance.now() - started) / 1000,
        workers: session.workers,
        cores: availableParallelism(),
        ran: session.ran(),
        failed: session.failed(),
        aborted: Boolean(options.signal?.aborted),
        ...(options.command ? { command: options.command } : {}),
      });
    }
    store.close();
  }
}

/** The runs whose key matches a pattern; a pattern that matches nothing is an error (a typo would run nothing). */
export function selectRuns<R extends { key: string }>(runs: readonly R[], patterns: readonly string[]): R[] {
  const matchers = patterns.map((pattern) => ({
    pattern,
    regex: new RegExp(
      `^${pattern
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*')}(/.*)?$`,
    ),
  }));
  for (const { pattern, regex } of matchers) {
    if (!runs.some((run) => regex.test(run.key))) {
      throw new HyperprotoError(ErrorCode.InvalidOptions, `--only ${pattern} matches no run of the grid`, {
        hint: `Run keys look like ${runs[0]?.key ?? 'dataset/model/s0'}; * matches within one part and a shorter pattern matches all below it, e.g. ${runs[0]?.key.split('/')[0] ?? 'c10'} or */softmax.`,
      });
    }
  }
  return runs.filter((run) => matchers.some(({ regex }) => regex.test(run.key)));
}

/**
 * The commit of the code that runs: the checkout holding the registry module's package (for the CLI, the CLI's own
 * checkout), not the results directory's, which may belong to another project or to none.
 */
async function codeCommit(registryModule: string): Promise<GitProvenance | null> {
  const file = modulePath(registryModule);
  return file ? gitProvenance(file) : null;
}

const hasPendingRuns = (runs: readonly CheckedRun[], finished: ReadonlyMap<string, RunRecord>) =>
  runs.some((run) => !finished.has(run.key));

/** Resumed results were made by another engine than this session's: the tables would mix them, so say so. */
async function warnOnEngineChange(
  registry: Registry,
  engine: string | undefined,
  records: readonly RunRecord[],
  log: (message: string) => void,
): Promise<void> {
  const now = await chooseEngine(registry, engine).catch(() => undefined);
  if (!now) return;
  const before = new Set(records.map((r) => r.engine.name));
  if (before.size === 1 && before.has(now.engine.name)) return;
  log(
    `note: the results so far were trained by ${[...before].join(', ')}; this session trains on ${now.engine.name} (${now.backend}), so the tables will mix engines. Name one with "engine" in the grid to keep them apart.`,
  );
}

function startupFailure(error: unknown): never {
  const failure = error instanceof RunFailedError ? error.failure : { code: ErrorCode.Internal, message: String(error) };
  throw new HyperprotoError(
    failure.code as ErrorCode,
    `a worker thread could not start: ${failure.message}`,
    failure.hint ? { hint: failure.hint } : {},
  );
}

/**
 * Records that belong to the grid's runs, by key. A record whose spec differs from what the grid now asks for
 * (e.g. changed defaults) is refused with the difference rather than silently counted as finished.
 */
function finishedRuns(records: readonly RunRecord[], runs: readonly CheckedRun[], source: string): Map<string, RunRecord> {
  const byKey = new Map(runs.map((run) => [run.key, run]));
  const finished = new Map<string, RunRecord>();
  for (const record of records) {
    const run = byKey.get(record.key);
    if (!run) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `${source} holds run ${record.key}, which the grid does not have`, {
        hint: 'These results come from another grid: use a new --out.',
      });
    }
    if (canonicalJson(record.spec) !== canonicalJson(run.parsedSpec)) {
      const first = differences(record.spec, run.parsedSpec).slice(0, 3);
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `${source}: run ${record.key} was made with a different spec (${first.map((d) => `${d.path}: ${JSON.stringify(d.before)} there, ${JSON.stringify(d.after)} now`).join('; ')})`,
        { hint: 'The defaults or the grid changed since these results were made: use a new --out.' },
      );
    }
    finished.set(record.key, record);
  }
  return finished;
}
