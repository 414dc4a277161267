import {
  callPlugin,
  ErrorCode,
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
  const problems: HyperprotoError[] = [];
  const note = (where: string, error: unknown) => {
    if (!isHyperprotoError(error)) throw error;
    const message = `${where}: ${error.message}`;
    if (!problems.some((p) => p.message === message))
      problems.push(new HyperprotoError(error.code, message, { hint: error.hint, cause: error }));
  };
  const attempt = <T>(where: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (error) {
      note(where, error);
      return undefined;
    }
  };

  const datasetEntry = (i: number) => `datasets.${i} "${grid.datasets[i]!.id}"`;
  const modelEntry = (i: number) => `models.${i} "${grid.models[i]!.id}"`;
  const datasetWhere = (i: number) => `${source} ${datasetEntry(i)}`;
  const modelWhere = (i: number) => `${source} ${modelEntry(i)}`;

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
      if (!model.prototypes) return undefined;
      const strategy = registry.get('prototypes', model.prototypes.strategy);
      return { strategy, options: resolveOptions(strategy, model.prototypes.options) };
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

  // Sizes a strategy cannot make, per dataset x model.
  grid.models.forEach((model, m) => {
    const chosen = strategies[m];
    if (!chosen || !model.prototypes) return;
    grid.datasets.forEach((dataset, d) => {
      const classes = classesByDataset[d];
      if (classes === undefined || !modelRunsOn(model, dataset)) return;
      const request = { classes, dims: model.prototypes!.dims };
      attempt(`${modelWhere(m)} on ${datasetEntry(d)}`, () =>
        refuseUnsupportedPrototypes(registry, chosen.strategy, request, chosen.options),
      );
    });
  });

  const checked: CheckedRun[] = [];
  if (problems.length === 0) {
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

  if (problems.length > 0) {
    const [first] = problems;
    const shown = problems.slice(0, 12).map((p) => p.message);
    if (problems.length > shown.length) shown.push(`... and ${problems.length - shown.length} more`);
    throw new HyperprotoError(
      first!.code,
      problems.length === 1 ? first!.message : `the grid has ${problems.length} problems:\n  ${shown.join('\n  ')}`,
      {
        hint: first!.hint ?? 'Fix the named entries; nothing has been run.',
        cause: first,
      },
    );
  }
  return checked;
}

/** Each problem as `trainer.<setting>: message`; an unknown setting is named by its own path. */
function trainerIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => `trainer.${key}: unknown setting`)
        : [`trainer.${issue.path.join('.')}: ${issue.message}`],
    )
    .join('; ');
}
