import {
  callPlugin,
  type DatasetPlugin,
  ErrorCode,
  type PrototypeStrategy,
  HyperprotoError,
  isHyperprotoError,
  parseExperimentSpec,
  planExperiment,
  refuseUnsupportedPrototypes,
  resolveOptions,
  TrainerSettingsSchema,
  type ExperimentSpec,
  type Registry,
  type z,
} from '@hyperproto/core';
import { expandGrid, headRef, modelRunsOn, modelTrainer, type PlannedRun } from './grid-expansion.js';
import type { Grid } from './grid-schema.js';
import { plannedRunCost } from './run-estimates.js';

/** A run whose spec has been validated, defaults filled. */
export interface CheckedRun extends PlannedRun {
  readonly parsedSpec: ExperimentSpec;
  /** Relative cost (estimated multiply-adds, {@link plannedRunCost}), for the ETA before any run of its cell has finished. */
  readonly cost: number;
}

/**
 * Validates a whole grid against the registry without running anything: every plugin name and option, every
 * prototype size each strategy is asked for. All problems are reported at once, each naming its grid entry.
 */
export function checkGrid(registry: Registry, grid: Grid, source = 'grid'): CheckedRun[] {
  const problems = new GridProblems();
  const attempt = <T>(where: string, fn: () => T): T | undefined => problems.attempt(where, fn);
  const { datasetEntry, modelEntry, datasetWhere, modelWhere } = entryNames(grid, source);

  // Entry by entry first, so that one bad model is reported once and not once per dataset and seed. The class
  // count, when the dataset can say it from its options, lets sizes a strategy cannot make fail before any run.
  const classesByDataset = grid.datasets.map((dataset, i) =>
    attempt(datasetWhere(i), () => {
      const plugin = registry.get('dataset', dataset.name);
      return callPlugin(plugin, 'describe', resolveOptions(plugin, dataset.options))?.classes;
    }),
  );
  const strategies = grid.models.map((model, i) =>
    attempt(modelWhere(i), () => {
      const head = headRef(model);
      resolveOptions(registry.get('head', head.name), head.options);
      return chooseStrategy(registry, model);
    }),
  );
  // Trainer settings: the grid's, then each model's merged over them; an unknown name is refused here, where the
  // spec's own schema would drop it silently.
  const checkTrainer = (where: string, settings: Record<string, unknown>) =>
    attempt(where, () => {
      const result = TrainerSettingsSchema.strict().safeParse(settings);
      if (!result.success)
        throw new HyperprotoError(ErrorCode.InvalidOptions, trainerIssues(result.error.issues), {
          hint: `Trainer settings: ${Object.keys(TrainerSettingsSchema.shape).join(', ')}.`,
        });
    });
  checkTrainer(`${source} trainer`, grid.trainer);
  grid.models.forEach((model, m) => {
    if (model.trainer) checkTrainer(`${modelWhere(m)}`, modelTrainer(grid, model));
  });
  if (grid.engine) attempt(`${source} engine`, () => registry.get('engine', grid.engine!));
  grid.evaluators?.forEach((ref, i) =>
    attempt(`${source} evaluators.${i}`, () => resolveOptions(registry.get('evaluator', ref.name), ref.options)),
  );

  checkPrototypeSizes(registry, grid, source, strategies, problems, (d) => {
    const classes = classesByDataset[d];
    return classes === undefined ? undefined : { classes };
  });

  const checked: CheckedRun[] = [];
  if (problems.none) {
    for (const run of expandGrid(grid)) {
      const where = `${source} run ${run.key} (${datasetEntry(run.datasetIndex)} x ${modelEntry(run.modelIndex)})`;
      const parsedSpec = attempt(where, () => {
        const spec = parseExperimentSpec(run.spec, 'spec');
        planExperiment(registry, spec);
        return spec;
      });
      if (parsedSpec) checked.push({ ...run, parsedSpec, cost: plannedRunCost(registry, parsedSpec) });
    }
  }

  problems.throwAny();
  return checked;
}

export interface ReadClassesCheck {
  readonly registry: Registry;
  readonly grid: Grid;
  /** Ids of the datasets this session will run more runs of: only they are read. */
  readonly datasets: ReadonlySet<string>;
  /** Where the grid came from, for messages (as for {@link checkGrid}). */
  readonly source?: string;
  readonly log?: (message: string) => void;
}

/**
 * The prototype-size check of {@link checkGrid} for datasets that can say their class count only by reading their
 * data (the files dataset without `classNames`): each dataset of `datasets` whose `describe` leaves the count
 * unknown, that has an `inspect` hook and that a model with prototypes runs on, is read once, and every cell whose
 * prototypes the strategy cannot make for that count is refused before any run, all at once, each naming the cell
 * and the count read. A dataset whose data `inspect` refuses stops the grid here too, with the dataset's error:
 * every run of it would fail the same way. Returns the class counts read, by dataset id.
 */
export async function checkReadClassCounts(check: ReadClassesCheck): Promise<ReadonlyMap<string, number>> {
  const { registry, grid, source = 'grid' } = check;
  const { datasetWhere, modelWhere } = entryNames(grid, source);
  const problems = new GridProblems();
  const strategies = grid.models.map((model, m) => problems.attempt(modelWhere(m), () => chooseStrategy(registry, model)));
  const read = new Map<string, number>();
  for (const [d, entry] of grid.datasets.entries()) {
    if (!check.datasets.has(entry.id)) continue;
    if (!grid.models.some((model) => model.prototypes && modelRunsOn(model, entry))) continue;
    try {
      const plugin: DatasetPlugin = registry.get('dataset', entry.name);
      const options = resolveOptions(plugin, entry.options);
      if (typeof plugin.inspect !== 'function' || callPlugin(plugin, 'describe', options)?.classes !== undefined) continue;
      check.log?.(`reading the data of dataset "${entry.id}" for its class count, to check the prototype sizes before any run`);
      const classes = (await callPlugin(plugin, 'inspect', options))?.classes;
      if (classes !== undefined) read.set(entry.id, classes);
    } catch (error) {
      problems.note(datasetWhere(d), error);
    }
  }
  checkPrototypeSizes(registry, grid, source, strategies, problems, (d) => {
    const classes = read.get(grid.datasets[d]!.id);
    return classes === undefined ? undefined : { classes, note: `${classes} classes in its data` };
  });
  problems.throwAny();
  return read;
}

/** What to do about a prototype size a strategy cannot make, said after the strategies that can. */
const PROTOTYPE_SIZE_FIX = 'Give the model more "dims", another strategy, or a "datasets" list without that dataset; nothing has been run.';

/** A model's prototype strategy with its options resolved; undefined for a model without prototypes. */
interface ChosenStrategy {
  readonly strategy: PrototypeStrategy;
  readonly options: unknown;
}

function chooseStrategy(registry: Registry, model: Grid['models'][number]): ChosenStrategy | undefined {
  if (!model.prototypes) return undefined;
  const strategy = registry.get('prototypes', model.prototypes.strategy);
  return { strategy, options: resolveOptions(strategy, model.prototypes.options) };
}

/**
 * Refuses (into `problems`) every cell, model with prototypes x dataset it runs on, whose dataset's class count
 * is known (`known(d)`) and whose strategy (`strategies[m]`, undefined where none or already refused) cannot make
 * that many prototypes in the model's dims. The cell is named with the dataset entry and, when given, the note
 * saying where the count came from.
 */
function checkPrototypeSizes(
  registry: Registry,
  grid: Grid,
  source: string,
  strategies: readonly (ChosenStrategy | undefined)[],
  problems: GridProblems,
  known: (datasetIndex: number) => { readonly classes: number; readonly note?: string } | undefined,
): void {
  const { datasetEntry, modelWhere } = entryNames(grid, source);
  grid.models.forEach((model, m) => {
    const chosen = strategies[m];
    if (!chosen || !model.prototypes) return;
    grid.datasets.forEach((dataset, d) => {
      const size = known(d);
      if (size === undefined || !modelRunsOn(model, dataset)) return;
      const request = { classes: size.classes, dims: model.prototypes!.dims };
      problems.attempt(
        `${modelWhere(m)} on ${datasetEntry(d)}${size.note ? ` (${size.note})` : ''}`,
        () => refuseUnsupportedPrototypes(registry, chosen.strategy, request, chosen.options),
        PROTOTYPE_SIZE_FIX,
      );
    });
  });
}

/** How messages name a grid's entries: `datasets.0 "c10"`, and with the grid's source first. */
function entryNames(grid: Grid, source: string) {
  const datasetEntry = (i: number) => `datasets.${i} "${grid.datasets[i]!.id}"`;
  const modelEntry = (i: number) => `models.${i} "${grid.models[i]!.id}"`;
  return {
    datasetEntry,
    modelEntry,
    datasetWhere: (i: number) => `${source} ${datasetEntry(i)}`,
    modelWhere: (i: number) => `${source} ${modelEntry(i)}`,
  };
}

/** The problems of a grid, each naming its entry, refused together: one session reports them all. */
class GridProblems {
  private readonly list: HyperprotoError[] = [];

  get none(): boolean {
    return this.list.length === 0;
  }

  /** Adds a HyperprotoError as a problem of `where` (once); anything else is a bug and is thrown. */
  note(where: string, error: unknown, fix?: string): void {
    if (!isHyperprotoError(error)) throw error;
    const message = `${where}: ${error.message}`;
    const hint = fix ? [error.hint, fix].filter(Boolean).join(' ') : error.hint;
    if (!this.list.some((p) => p.message === message)) this.list.push(new HyperprotoError(error.code, message, { hint, cause: error }));
  }

  /** `fn`'s result, or undefined after noting what it threw as a problem of `where`. */
  attempt<T>(where: string, fn: () => T, fix?: string): T | undefined {
    try {
      return fn();
    } catch (error) {
      this.note(where, error, fix);
      return undefined;
    }
  }

  /** Throws the problems as one error (the first one's code and hint), if there are any. */
  throwAny(): void {
    const [first] = this.list;
    if (!first) return;
    const shown = this.list.slice(0, 12).map((p) => p.message);
    if (this.list.length > shown.length) shown.push(`... and ${this.list.length - shown.length} more`);
    throw new HyperprotoError(
      first.code,
      this.list.length === 1 ? first.message : `the grid has ${this.list.length} problems:\n  ${shown.join('\n  ')}`,
      { hint: first.hint ?? 'Fix the named entries; nothing has been run.', cause: first },
    );
  }
}

/**
 * Each problem as `trainer.<setting>: message`; unknown settings as `trainer: unknown setting "hiddenUnit" (did you
 * mean "hiddenUnits"?); ...`, the trainer schema's own wording.
 */
function trainerIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => `${['trainer', ...issue.path].join('.')}: ${issue.message}`).join('; ');
}
