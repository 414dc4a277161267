import { availableParallelism } from 'node:os';
import { chooseEngine, ErrorCode, HyperprotoError, isHyperprotoError, type DatasetInput, type Registry } from '@hyperproto/core';
import type { GridChange } from './grid-difference.js';
import type { Grid } from './grid-schema.js';
import { checkGrid, checkReadClassCounts, type CheckedRun } from './grid-validation.js';
import { checkUnchangedInputs, warnOnChangedFinishedInputs } from './input-changes.js';
import { gitProvenance, modulePath, type GitProvenance } from './git-provenance.js';
import { localPool } from './local-pool.js';
import { ProgressTracker, type GridProgress } from './progress-tracker.js';
import { collectVersions, importRegistryModule, loadRegistry } from './registry-module.js';
import type { RunFailure, RunOrder } from './run-execution.js';
import { RunEstimates } from './run-estimates.js';
import { phaseTotals, type PhaseTotals } from './run-phases.js';
import { recordProblem, recordProblemAuthor, type RunRecord } from './run-record.js';
import type { RunEvents, RunScheduler, SchedulerFactory } from './run-scheduler.js';
import {
  checkModelsWritable,
  chooseSaveModels,
  recordSaveModels,
  SavedModels,
  type SavedModelsSummary,
  type SaveModels,
} from './saved-models.js';
import { planSession, recordMismatch, selectRuns } from './session-plan.js';
import { ResultsStore, type TornLine } from './results-store.js';

export { selectRuns };
export type { GridProgress, RunningRun } from './progress-tracker.js';

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
  /** Where the runs execute; default: this machine's worker threads (`localPool` with `workers` and `inline`). */
  readonly scheduler?: SchedulerFactory;
  /** Parallel runs of the default local pool; default one per core. */
  readonly workers?: number;
  /**
   * Continue a results directory: finished runs are skipped, unfinished ones run. The grid may grow (new models,
   * datasets, seeds) and change unfinished runs; every finished run must stay as it was.
   */
  readonly resume?: boolean;
  /** Run in this thread instead of worker threads (tests; registries that only exist in this thread). */
  readonly inline?: boolean;
  /**
   * Bytes of datasets, prototype sets and what is derived from them that each worker of the default local pool
   * keeps for its later runs (default 512 MiB, the least recently used dropped first); 0: every run makes its own.
   * The records are the same either way, only faster.
   */
  readonly inputStoreBytes?: number;
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
   * (replaced when a later seed, also of a resumed session, beats it), `all` every run's, `none` nothing. Unset:
   * the mode the directory's earlier sessions recorded, else `defaultSaveModels`. `best` where earlier sessions kept
   * models under `all` is refused (see `chooseSaveModels`).
   */
  readonly saveModels?: SaveModels;
  /** The mode when neither `saveModels` nor the results directory says one (a new directory); default `none`. */
  readonly defaultSaveModels?: SaveModels;
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
  /** Runs that executed at once (worker threads, or the queue's worker slots). */
  readonly workers: number;
  readonly wallSeconds: number;
  /** A cut-short last line that was found and removed (its run was run again). */
  readonly torn: TornLine | undefined;
  /** How the directory's grid changed into this one under `resume` (runs added, unfinished ones changed or dropped), or null. */
  readonly gridChange: GridChange | null;
  /** The saved models, unless `saveModels` was `none`. */
  readonly models: SavedModelsSummary | null;
  /** Where the time of this session's finished runs went: seconds per stage over the runs, inputs reused. */
  readonly phases: PhaseTotals;
}

/**
 * One session of a grid: runs every run that has no record yet on a scheduler, appending one record per finished
 * run. Everything that can be checked is checked before the first run starts: plugins, options, prototype sizes (for
 * a dataset that says its class count only by reading its data, once read), the results directory (lock, same grid,
 * same specs, unchanged data files).
 */
export async function runGrid(options: RunGridOptions): Promise<GridOutcome> {
  const started = performance.now();
  const log = options.onLog ?? (() => {});
  const runLog = onceEach(log);
  const source = options.gridSource ?? options.grid.name;
  const schedulerFactory =
    options.scheduler ?? localPool({ workers: options.workers, inline: options.inline, inputStoreBytes: options.inputStoreBytes });
  const remoteWorkers = options.scheduler?.remoteWorkers === true;

  // Before anything is touched: a refusal (best over models kept under all) leaves the directory as it is.
  const fallback = options.defaultSaveModels ?? 'none';
  const { mode: saveModels, from: saveModelsFrom } = await chooseSaveModels(options.out, options.saveModels, fallback);
  if (saveModelsFrom === 'directory' && saveModels !== fallback)
    log(`note: --save-models ${saveModels}, as the earlier sessions of ${options.out} ran (give --save-models to change it)`);
  const module = await importRegistryModule(options.registryModule);
  if (saveModels !== 'none' && typeof module.writeRunDirectory !== 'function') {
    throw new HyperprotoError(
      ErrorCode.Internal,
      `cannot save models: the registry module ${options.registryModule} exports no writeRunDirectory(dir, outcome, target)`,
    );
  }
  const { registry, plugins } = await loadRegistry(module, options.registryOptions);
  const runs = checkGrid(registry, options.grid, source);
  // Before the results directory is touched: a refusal must leave nothing behind.
  if (options.only?.length) selectRuns(runs, options.only);
  // Starting takes seconds on a busy machine (plugins, threads): Ctrl-C during it stops before the next step.
  const stopIfAborted = (done: number, total: number, where: string) => {
    if (!options.signal?.aborted) return;
    throw new HyperprotoError(ErrorCode.Aborted, `interrupted before any run started: ${done} of ${total} runs are finished${where}`, {
      hint: 'Run the same command (with --resume once it has a results directory) to continue.',
    });
  };
  stopIfAborted(0, runs.length, '; nothing was written');
  if (saveModels !== 'none') await checkModelsWritable(options.out);
  await schedulerFactory.check?.(options.grid);
  stopIfAborted(0, runs.length, '; nothing was written');

  let inputs: Readonly<Record<string, readonly DatasetInput[]>> = {};
  const store = await ResultsStore.open(options.out, {
    grid: options.grid,
    resume: options.resume,
    gridSource: source,
    log,
    // Runs to come must not mix other data into cells of finished runs: their datasets' files are checked first.
    // Then the datasets that only their data can say the class count of are read for it, so that a prototype size
    // the strategy cannot make is refused now and not run by run.
    checkRecords: async (records) => {
      const finished = new Set(records.map((record) => record.key));
      const selected = options.only?.length ? selectRuns(runs, options.only) : runs;
      const datasets = new Set(selected.filter((run) => !finished.has(run.key)).map((run) => run.dataset));
      inputs = await checkUnchangedInputs({ registry, grid: options.grid, records, datasets, target: options.out, log });
      await warnOnChangedFinishedInputs({ registry, grid: options.grid, records, datasets, target: options.out, log });
      await checkReadClassCounts({ registry, grid: options.grid, datasets, source, log });
    },
  });
  const startedAt = new Date().toISOString();
  const finishedNow: RunRecord[] = [];
  let scheduler: RunScheduler | undefined;
  let tracker: ProgressTracker | undefined;
  let models: SavedModels | undefined;
  let failed = false;
  try {
    await recordSaveModels(store.dir, saveModels);
    if (saveModels !== 'none') models = await SavedModels.open(store.dir, saveModels, store.records, { remoteWorkers });
    const estimates = new RunEstimates(runs, store.records);
    const plan = planSession({ runs, only: options.only, records: store.records, estimates, source: store.resultsPath });
    if (plan.pending.length > 0 && store.records.length > 0) await warnOnEngineChange(registry, options.grid.engine, store.records, log);
    const progress = (parallel: () => number) =>
      new ProgressTracker({
        total: plan.selected.length,
        skipped: plan.skipped,
        pending: plan.pending,
        estimates,
        parallel,
        onProgress: options.onProgress,
        startedAt: started,
      });
    // Staging directories no run settles any more go once the grid is complete (see SavedModels.removesStaging).
    const endModels = async () => {
      const removed = await models?.endSession(runs.every((run) => store.has(run.key))).catch((error: unknown) => {
        log(`could not remove the unfinished model directories under ${models?.dir}: ${(error as Error).message}`);
        return [];
      });
      if (removed?.length)
        log(`removed ${removed.length} model director${removed.length === 1 ? 'y' : 'ies'} no run will settle: ${removed.join(', ')}`);
    };
    if (plan.pending.length === 0) {
      await endModels();
      tracker = progress(() => 1);
      tracker.report();
      return summary(tracker, 1);
    }

    stopIfAborted(plan.skipped, plan.selected.length, ` and kept in ${store.resultsPath}`);
    const git = await codeCommit(options.registryModule);
    scheduler = await schedulerFactory({
      grid: options.grid,
      gridSource: source,
      runs,
      pending: plan.pending.length,
      weights: plan.weights,
      inputs,
      registryModule: options.registryModule,
      registryOptions: options.registryOptions ?? {},
      module,
      registry,
      provenance: { versions: await collectVersions(module), git, plugins },
      git,
      log,
      runLog,
      ...(options.signal ? { signal: options.signal } : {}),
    }).catch((error: unknown) => {
      // A scheduler stopped while it started (its threads ended) is an interruption, not a failure.
      if (options.signal?.aborted) return undefined;
      throw error;
    });
    stopIfAborted(plan.skipped, plan.selected.length, ` and kept in ${store.resultsPath}`);
    if (!scheduler) throw new HyperprotoError(ErrorCode.Internal, 'the scheduler started nothing');
    const active = scheduler;
    const session = (tracker = progress(() => active.parallel()));
    const selected = plan.selected.length < runs.length;
    log(
      `${selected ? `${plan.pending.length} runs to do: ${plan.selected.length} of the grid's ${runs.length} selected by --only, ${plan.skipped} of them already finished` : `${plan.pending.length} of ${runs.length} runs to do (${plan.skipped} already finished)`}, on ${scheduler.description}`,
    );
    session.report();

    const runsByKey = new Map(runs.map((run) => [run.key, run]));
    // What to do about a model not saved is the same for each run it concerns: said once.
    const hintsShown = new Set<string>();
    const events: RunEvents = {
      started: (key) => session.started(key),
      progress: (key, stage, done, total) => session.stage(key, stage, done, total),
      finished: async (order, record) => {
        // A queue can hand back a run twice (a worker thought dead finished after all): the first record counts.
        if (store.has(order.key)) return;
        const run = runsByKey.get(order.key);
        const mismatch = !run
          ? `the grid has no run ${order.key}`
          : record.key !== order.key
            ? `a record of ${record.key} came back for ${order.key}`
            : recordMismatch(record, run);
        if (mismatch) {
          await events.failed(order, {
            code: ErrorCode.InvalidInput,
            message: `the record that came back does not match the grid (${mismatch})`,
            hint: 'The worker runs other code than this session: give every machine the same hyperproto and plugin versions.',
          });
          return;
        }
        const unfit = unstorableRecord(record, options.registryModule);
        if (unfit) {
          await events.failed(order, unfit);
          return;
        }
        store.append(record);
        finishedNow.push(record);
        // The record first: a model on disk always has one (a crash in between leaves a staging directory, which a
        // later session removes). At the placement the order carried: a queue's job an earlier session queued
        // carries that session's.
        await models?.settle(order, record, order.save).catch((error: unknown) => {
          log(`the model of ${order.key} was not saved: ${(error as Error).message}`);
          const hint = isHyperprotoError(error) ? error.hint : undefined;
          if (hint && !hintsShown.has(hint)) {
            hintsShown.add(hint);
            log(`hint: ${hint}`);
          }
        });
        if (run) estimates.add(run, record.seconds.total);
        session.finish(record);
      },
      failed: async (order, failure) => {
        if (store.has(order.key) || session.failed.some((f) => f.key === order.key)) return;
        await models?.discard(order, order.save).catch(() => {});
        store.appendFailure({ key: order.key, error: failure });
        // A progress listener is told by the failure's event (the CLI's `[n/N] key failed` line): said once.
        if (!options.onProgress) log(`run ${order.key} failed: ${failure.message}`);
        session.fail(order.key, failure);
      },
      released: (key) => session.released(key),
    };
    await scheduler.execute(
      plan.pending.map((run) => orderFor(run, models)),
      events,
      options.signal,
    );
    if (options.signal?.aborted) {
      throw new HyperprotoError(
        ErrorCode.Aborted,
        `interrupted: ${session.done} of ${plan.selected.length} runs are finished and kept in ${store.resultsPath}${scheduler.interruptedNote ? `; ${scheduler.interruptedNote}` : ''}`,
        { hint: 'Run the same command with --resume to continue.' },
      );
    }
    await endModels();
    return summary(session, scheduler.parallel());

    function summary(done: ProgressTracker, workers: number): GridOutcome {
      return {
        out: store.dir,
        resultsFile: store.resultsPath,
        grid: options.grid.name,
        total: plan.selected.length,
        gridTotal: runs.length,
        skipped: plan.skipped,
        ran: done.ran,
        failed: done.failed,
        workers,
        wallSeconds: (performance.now() - started) / 1000,
        torn: store.torn,
        gridChange: store.gridChange ?? null,
        models: models?.summary() ?? null,
        phases: phaseTotals(finishedNow),
      };
    }
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // Every step runs whatever the ones before did, and the lock is always released. The error of the session is
    // the one that counts: a later one (the disk that failed a record is full for sessions.jsonl too) is only logged.
    const later: unknown[] = [];
    await scheduler?.close().catch((error: unknown) => later.push(error));
    if (scheduler && tracker) {
      try {
        store.appendSession({
          startedAt,
          endedAt: new Date().toISOString(),
          wallSeconds: (performance.now() - started) / 1000,
          workers: scheduler.parallel(),
          cores: availableParallelism(),
          ran: tracker.ran,
          failed: tracker.failed.length,
          aborted: Boolean(options.signal?.aborted),
          ...(options.command ? { command: options.command } : {}),
        });
      } catch (error) {
        later.push(error);
      }
    }
    try {
      store.close();
    } catch (error) {
      later.push(error);
    }
    if (later.length > 0 && !failed) {
      // biome-ignore lint/correctness/noUnsafeFinally: only when the session threw nothing, so no error is hidden
      throw later[0];
    }
    for (const error of later) log(`also failed while ending the session: ${(error as Error).message}`);
  }
}

function orderFor(run: CheckedRun, models: SavedModels | undefined): RunOrder {
  const save = models?.placement(run);
  return { key: run.key, dataset: run.dataset, model: run.model, seed: run.seed, spec: run.parsedSpec, ...(save ? { save } : {}) };
}

/**
 * Why a record that came back (from this machine's threads or a queue's workers) cannot be stored, as the run's
 * failure; undefined when it can. The check is the one --resume and the report make of each line (on the record as
 * JSON writes it: a non-finite number becomes null), so that no session writes a line that would stop the next one.
 */
function unstorableRecord(record: RunRecord, registryModule: string): RunFailure | undefined {
  const problem = recordProblem(JSON.parse(JSON.stringify(record)));
  if (!problem) return undefined;
  const author = recordProblemAuthor(problem, record);
  const message = `the record of ${record.key} cannot be stored: ${problem}`;
  if (author === 'the registry module') {
    return {
      code: ErrorCode.InvalidPlugin,
      message: `${message}, as the registry module ${registryModule} reports it`,
      hint: 'Its versions() must return an object of package name -> version string: fix the module, then run again with --resume.',
    };
  }
  if (author) {
    return {
      code: ErrorCode.InvalidPlugin,
      message: `${message}, as ${author} made it`,
      hint: `${author} returned what its contract does not allow: update or fix the plugin, then run again with --resume.`,
    };
  }
  return {
    code: ErrorCode.Internal,
    message,
    hint: 'A worker that runs other code than this session (a queue worker of another version) can send such a record: give every machine the same hyperproto and plugin versions; otherwise report it as a bug.',
  };
}

/** Every run says the same things (e.g. which backends were skipped): say each once. */
function onceEach(log: (message: string) => void): (message: string) => void {
  const said = new Set<string>();
  return (message) => {
    const text = message.replace(/^\S+\/s\d+: /, '');
    if (said.has(text)) return;
    said.add(text);
    log(message);
  };
}

/**
 * The commit of the code that runs: the checkout holding the registry module's package (for the CLI, the CLI's own
 * checkout), not the results directory's, which may belong to another project or to none.
 */
async function codeCommit(registryModule: string): Promise<GitProvenance | null> {
  const file = modulePath(registryModule);
  return file ? gitProvenance(file) : null;
}

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
