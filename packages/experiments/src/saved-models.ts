import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCode, fileErrorReason, HyperprotoError } from '@hyperproto/core';
import { writeFileAtomic } from '@hyperproto/npy';
import { removeCreatedDirectories } from './created-directories.js';
import { runKey } from './grid-expansion.js';
import { RESULTS_FILE } from './results-store.js';
import type { RunIdentity, RunRecord } from './run-record.js';
import { beats, validationScore, type ValidationScore } from './validation-score.js';

/** Which trained models a grid keeps: none, the best seed of each cell (by validation), or every run's. */
export type SaveModels = 'none' | 'best' | 'all';
export const SAVE_MODELS: readonly SaveModels[] = ['none', 'best', 'all'];

/** Under the results directory: models/<dataset>/<model>/s<seed>/, each a run directory as `train` writes it. */
export const MODELS_DIR = 'models';

/**
 * Under models/: the mode the directory's models were kept under (`{"saveModels": "all"}`), written by every session
 * that saves models (and by one with `none` where models/ exists), so that --resume keeps the directory's mode.
 */
export const SAVE_MODELS_FILE = 'save-models.json';

/** Where a worker writes a run's directory, and where it goes once settled. */
export interface ModelPlacement {
  readonly dir: string;
  readonly target: string;
}

export interface SavedModelsSummary {
  readonly dir: string;
  readonly mode: Exclude<SaveModels, 'none'>;
  /** Runs whose model this session moved into place (under `best`, a later seed may have replaced it since). */
  readonly saved: readonly string[];
  /** Runs whose saved model this session removed because a seed of the same cell beat it. */
  readonly removed: readonly string[];
  /** Every run with a saved model now. */
  readonly held: readonly string[];
}

// A run's directory being written (`.s<seed>.partial-<pid of the session that placed it>`), and an old one moved
// aside while a new one takes its place. Only the session holding the results lock moves models aside, so one found
// at start is a leftover; whether a staging directory is one is for `removesStaging` to decide.
const STAGING = /^\.s\d+\.partial-\d+$/;
const ASIDE = /^\.(s\d+)\.old-\d+$/;
const SAVED = /^s(\d+)$/;
// A saved model without a record (e.g. its line was lost): any run of its cell beats it.
const UNKNOWN: ValidationScore = { accuracy: -Infinity, loss: Infinity };

/**
 * Refuses a models directory that cannot be written, before the results directory is touched: creates what is
 * missing, makes a probe directory in it, then removes all it made, so a refusal leaves nothing behind.
 */
export async function checkModelsWritable(out: string): Promise<void> {
  const outStat = await stat(resolve(out)).catch(() => undefined);
  // An --out that is a file: the results store refuses it, with its own message.
  if (outStat && !outStat.isDirectory()) return;
  const dir = join(resolve(out), MODELS_DIR);
  const existing = await stat(dir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new HyperprotoError(ErrorCode.Io, `cannot save models into ${dir}: it exists and is not a directory`, {
      hint: 'Move it away, choose another --out, or pass --save-models none.',
    });
  }
  let created: string | undefined;
  try {
    created = await mkdir(dir, { recursive: true });
    await rmdir(await mkdtemp(join(dir, '.probe-')));
  } catch (error) {
    throw new HyperprotoError(ErrorCode.Io, `cannot save models into ${dir}: ${(error as Error).message}`, {
      cause: error,
      hint: 'Make it writable, choose another --out, or pass --save-models none.',
    });
  } finally {
    if (created) await removeCreatedDirectories(dir, created);
  }
}

/** A results directory's save mode, and the models it holds now (`dataset/model/s<seed>`). */
export interface DirectorySaveModels {
  /** As recorded; for a directory from before it was recorded, as its models show; undefined for one with no runs. */
  readonly mode: SaveModels | undefined;
  readonly held: readonly string[];
  /** Whether `mode` is what a session recorded, not read from what the directory holds. */
  readonly recorded: boolean;
}

/**
 * The mode the models of `out` were kept under. A directory from before the mode was recorded tells it by what it
 * holds: a cell with several seeds was `all`, one seed per cell `best`, records and no models/ `none`.
 */
export async function directorySaveModels(out: string): Promise<DirectorySaveModels> {
  const dir = join(resolve(out), MODELS_DIR);
  const held = await savedRuns(dir).catch(() => []);
  const file = join(dir, SAVE_MODELS_FILE);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw new HyperprotoError(ErrorCode.Io, `cannot read ${file}: ${fileErrorReason(error)}`, { cause: error });
  });
  if (text !== undefined) {
    const mode = (() => {
      try {
        return (JSON.parse(text) as { saveModels?: unknown } | null)?.saveModels;
      } catch {
        return undefined;
      }
    })();
    if (SAVE_MODELS.includes(mode as SaveModels)) return { mode: mode as SaveModels, held: held.map((r) => r.key), recorded: true };
    throw new HyperprotoError(ErrorCode.InvalidInput, `${file} does not say a save mode: ${JSON.stringify(text.slice(0, 80))}`, {
      hint: `It holds {"saveModels": "none" | "best" | "all"}, as the sessions of the directory wrote it: restore it, or remove it and give --save-models.`,
    });
  }
  const seedsPerCell = new Map<string, number>();
  for (const run of held) seedsPerCell.set(`${run.dataset}/${run.model}`, (seedsPerCell.get(`${run.dataset}/${run.model}`) ?? 0) + 1);
  const mode =
    held.length > 0
      ? [...seedsPerCell.values()].some((n) => n > 1)
        ? 'all'
        : 'best'
      : existsSync(dir)
        ? undefined
        : (await stat(join(resolve(out), RESULTS_FILE)).catch(() => undefined))?.size
          ? 'none'
          : undefined;
  return { mode, held: held.map((r) => r.key), recorded: false };
}

/**
 * The save mode of this session: the one `asked` for, else the directory's (`directorySaveModels`), else `fallback`.
 * Asking for `best` where the models were kept under `all` (or a cell holds several seeds) is refused (E_INVALID_OPTIONS)
 * before anything is touched: `best` keeps one seed per cell and removes the others as soon as a run of the cell is
 * saved. `all` and `none` remove nothing (`none` leaves the saved models as they are).
 */
export async function chooseSaveModels(
  out: string,
  asked: SaveModels | undefined,
  fallback: SaveModels,
): Promise<{ readonly mode: SaveModels; readonly from: 'asked' | 'directory' | 'default' }> {
  const before = await directorySaveModels(out);
  if (asked === undefined) return before.mode ? { mode: before.mode, from: 'directory' } : { mode: fallback, from: 'default' };
  const cells = new Set(before.held.map((key) => key.replace(/\/s\d+$/, '')));
  if (asked === 'best' && before.held.length > 0 && (before.mode === 'all' || cells.size < before.held.length)) {
    const listed = before.held.slice(0, 10).join(', ') + (before.held.length > 10 ? `, ... and ${before.held.length - 10} more` : '');
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `--save-models best would remove models that earlier sessions of ${resolve(out)} kept${before.recorded && before.mode === 'all' ? ' under --save-models all' : ''}: best keeps one seed per cell and removes the others once a run of the cell is saved; ${before.held.length} model(s) under ${join(resolve(out), MODELS_DIR)}: ${listed}`,
      {
        hint: 'To keep them, give --save-models all (or leave --save-models out: --resume keeps the mode of the directory). To keep only the best seed of each cell from now on, move the saved models out of models/ first (best then starts afresh), or use a new --out.',
      },
    );
  }
  return { mode: asked, from: 'asked' };
}

/**
 * Records the session's mode under models/ before any model is placed. With `none` only where models/ exists (earlier
 * sessions saved models): a directory that never saved any has no models/, which says `none` by itself.
 */
export async function recordSaveModels(out: string, mode: SaveModels): Promise<void> {
  const dir = join(resolve(out), MODELS_DIR);
  if (mode === 'none' && !(await stat(dir).catch(() => undefined))?.isDirectory()) return;
  try {
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(dir, SAVE_MODELS_FILE), `${JSON.stringify({ saveModels: mode })}\n`);
  } catch (error) {
    throw new HyperprotoError(ErrorCode.Io, `cannot record the save mode in ${join(dir, SAVE_MODELS_FILE)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** The saved runs under a models directory (`<dataset>/<model>/s<seed>`), staging and moved-aside ones left out. */
async function savedRuns(dir: string): Promise<{ dataset: string; model: string; seed: number; key: string }[]> {
  const runs: { dataset: string; model: string; seed: number; key: string }[] = [];
  for (const dataset of await subdirectories(dir)) {
    for (const model of await subdirectories(join(dir, dataset))) {
      for (const name of await readdir(join(dir, dataset, model))) {
        const seed = SAVED.exec(name)?.[1];
        if (seed !== undefined) runs.push({ dataset, model, seed: Number(seed), key: runKey(dataset, model, Number(seed)) });
      }
    }
  }
  return runs.sort((a, b) => a.key.localeCompare(b.key, 'en'));
}

/**
 * The models of one results directory. Workers write each run's directory into a hidden staging directory beside
 * its target; once the run's record is stored, `settle` renames it into place (atomic) or removes it. Settling is
 * serial, so two seeds of one cell finishing together cannot both win under `best`.
 */
export class SavedModels {
  /** Cell (`dataset/model`) -> seed -> validation score, of the models on disk. */
  private readonly cells = new Map<string, Map<number, ValidationScore>>();
  private readonly saved: string[] = [];
  private readonly removed: string[] = [];
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly mode: Exclude<SaveModels, 'none'>,
    private readonly remoteWorkers: boolean,
  ) {}

  /**
   * Opens `<out>/models`: puts back or removes what an interrupted session left half-done, and learns what is saved.
   * `remoteWorkers`: the runs execute in processes of their own (a job queue's workers) that go on without this
   * session; staging directories are then kept (see `removesStaging`), and a missing model may be a mount problem.
   */
  static async open(
    out: string,
    mode: Exclude<SaveModels, 'none'>,
    records: readonly RunRecord[],
    { remoteWorkers = false }: { readonly remoteWorkers?: boolean } = {},
  ): Promise<SavedModels> {
    const models = new SavedModels(join(resolve(out), MODELS_DIR), mode, remoteWorkers);
    try {
      await mkdir(models.dir, { recursive: true });
      const scores = new Map(records.map((r) => [r.key, validationScore(r)]));
      for (const dataset of await subdirectories(models.dir)) {
        for (const model of await subdirectories(join(models.dir, dataset))) {
          const cellDir = join(models.dir, dataset, model);
          const entries = await readdir(cellDir);
          for (const name of entries) {
            const aside = ASIDE.exec(name);
            if (aside && !entries.includes(aside[1]!)) await rename(join(cellDir, name), join(cellDir, aside[1]!));
            else if (aside || (STAGING.test(name) && models.removesStaging('start')))
              await rm(join(cellDir, name), { recursive: true, force: true });
          }
        }
      }
      for (const run of await savedRuns(models.dir)) models.cell(run.dataset, run.model).set(run.seed, scores.get(run.key) ?? UNKNOWN);
    } catch (error) {
      throw new HyperprotoError(ErrorCode.Io, `cannot prepare the models directory ${models.dir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return models;
  }

  /** Where this session has the run's directory written. */
  placement(run: RunIdentity): ModelPlacement {
    const cellDir = join(this.dir, run.dataset, run.model);
    return { dir: join(cellDir, `.s${run.seed}.partial-${process.pid}`), target: join(cellDir, `s${run.seed}`) };
  }

  /**
   * Whether `placement` is one that a session of this directory makes for the run: the session's own, or an earlier
   * one's (another pid), as a job an earlier coordinator queued carries it. Nothing else is settled or removed.
   */
  owns(run: RunIdentity, placement: ModelPlacement): boolean {
    const { dir, target } = this.placement(run);
    // The run comes back from a queue too: a dataset or model that names a path ("../x") would lead out of models/.
    const cellDir = dirname(dir);
    if (dirname(dirname(cellDir)) !== this.dir || [run.dataset, run.model].some((name) => name !== basename(name) || name.startsWith('.')))
      return false;
    return (
      placement.target === target &&
      dirname(placement.dir) === dirname(dir) &&
      new RegExp(`^\\.s${run.seed}\\.partial-\\d+$`).test(basename(placement.dir))
    );
  }

  /**
   * Call after the run's record is stored, with the placement its order carried (undefined: the order asked for no
   * model). `all` moves every run's directory into place; `best` only a run whose validation score beats every saved
   * seed of its cell (ties keep the earlier one), and then removes the others. Returns whether the run's model was kept.
   */
  settle(run: RunIdentity, record: RunRecord, placement: ModelPlacement | undefined): Promise<boolean> {
    return this.serial(async () => {
      if (!placement) {
        throw new HyperprotoError(ErrorCode.Io, 'its job was queued by an earlier session that saved no models (--save-models none)');
      }
      if (!this.owns(run, placement)) {
        throw new HyperprotoError(
          ErrorCode.Io,
          `its run was asked to write it at ${placement.dir}, outside ${this.dir}, so it was left there`,
          {
            hint: 'Its job was queued by an earlier session with another --out: move the directory into place by hand if it is wanted.',
          },
        );
      }
      const { dir, target } = placement;
      if (!existsSync(dir)) {
        // Only a worker on another machine can write where this one does not look: the mount hint is for queues alone.
        throw new HyperprotoError(
          ErrorCode.Io,
          `no model was written at ${dir}`,
          this.remoteWorkers
            ? {
                hint: 'The queue workers write models there: unless every worker runs on this machine, it must be a file system every worker mounts at the same path.',
              }
            : {},
        );
      }
      const cell = this.cell(run.dataset, run.model);
      const score = validationScore(record);
      if (this.mode === 'best' && [...cell].some(([seed, other]) => seed !== run.seed && !beats(score, other))) {
        await rm(dir, { recursive: true, force: true });
        return false;
      }
      await moveIntoPlace(dir, target);
      cell.set(run.seed, score);
      this.saved.push(run.key);
      if (this.mode === 'best') {
        for (const seed of [...cell.keys()].filter((s) => s !== run.seed)) {
          await rm(join(dirname(target), `s${seed}`), { recursive: true, force: true });
          cell.delete(seed);
          this.removed.push(runKey(run.dataset, run.model, seed));
        }
      }
      return true;
    });
  }

  /** Removes what a run that produced no record may have written at the placement its order carried, if it is ours. */
  discard(run: RunIdentity, placement: ModelPlacement | undefined): Promise<void> {
    return this.serial(async () => {
      if (placement && this.owns(run, placement)) await rm(placement.dir, { recursive: true, force: true });
    });
  }

  /**
   * Removes every staging directory left (none is settled any more) once `removesStaging` allows it; returns what it
   * removed. Call after the session's last run has its outcome.
   */
  endSession(gridComplete: boolean): Promise<string[]> {
    return this.serial(async () => {
      const removed: string[] = [];
      if (!this.removesStaging(gridComplete ? 'complete' : 'incomplete')) return removed;
      for (const dataset of await subdirectories(this.dir)) {
        for (const model of await subdirectories(join(this.dir, dataset))) {
          const cellDir = join(this.dir, dataset, model);
          for (const name of (await readdir(cellDir)).filter((n) => STAGING.test(n))) {
            await rm(join(cellDir, name), { recursive: true, force: true });
            removed.push(join(cellDir, name));
          }
        }
      }
      return removed;
    });
  }

  /**
   * The one place that decides when staging directories that this session has not settled go. Local threads end with
   * their session, so at the start of the next one (which holds the results lock) whatever they left is a leftover. A
   * job queue's workers go on without the coordinator: a staging directory found at start may hold the model of a run
   * that finished while no coordinator ran, or still be written for a job an earlier session queued, and its record
   * settles it when it comes back. What no record will settle then (its run recorded by a session killed before the
   * model was settled, or written twice by a worker thought dead) goes only when a session ends with every run of the
   * grid recorded: nothing of the grid is queued any more. A session that is interrupted, or leaves runs undone
   * (failed, or not selected by --only), leaves them for --resume.
   */
  private removesStaging(moment: 'start' | 'complete' | 'incomplete'): boolean {
    if (moment === 'start') return !this.remoteWorkers;
    return moment === 'complete';
  }

  summary(): SavedModelsSummary {
    const held = [...this.cells].flatMap(([cell, seeds]) => [...seeds.keys()].map((seed) => `${cell}/s${seed}`)).sort();
    return { dir: this.dir, mode: this.mode, saved: [...this.saved], removed: [...this.removed], held };
  }

  private cell(dataset: string, model: string): Map<number, ValidationScore> {
    const key = `${dataset}/${model}`;
    let cell = this.cells.get(key);
    if (!cell) this.cells.set(key, (cell = new Map()));
    return cell;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.chain.then(task);
    this.chain = result.catch(() => {});
    return result;
  }
}

async function subdirectories(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
}

/** Renames a finished directory onto its target; an existing one is moved aside first and removed only after. */
async function moveIntoPlace(staging: string, target: string): Promise<void> {
  if (!existsSync(target)) {
    await rename(staging, target);
    return;
  }
  const aside = join(dirname(target), `.${basename(target)}.old-${process.pid}`);
  await rename(target, aside);
  await rename(staging, target);
  await rm(aside, { recursive: true, force: true });
}
