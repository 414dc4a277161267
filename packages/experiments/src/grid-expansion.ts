import type { ExperimentSpecInput } from '@hyperproto/core';
import { cellSeeds, gridSeeds, modelRunsOn, type Grid, type GridDataset, type GridModel } from './grid-schema.js';

export { modelRunsOn };

/** One training run of a grid: a cell (dataset x model) and a seed. */
export interface PlannedRun {
  /** `dataset/model/s<seed>`: unique within the grid, the identity of a record in the results store. */
  readonly key: string;
  readonly dataset: string;
  readonly model: string;
  readonly seed: number;
  /** Positions in the grid, for messages that name the entry. */
  readonly datasetIndex: number;
  readonly modelIndex: number;
  /** The experiment spec as the grid writes it (defaults are filled when it is validated). */
  readonly spec: ExperimentSpecInput;
}

export function runKey(dataset: string, model: string, seed: number): string {
  return `${dataset}/${model}/s${seed}`;
}

export function headRef(model: GridModel): { name: string; options: Record<string, unknown> } {
  return typeof model.head === 'string' ? { name: model.head, options: {} } : model.head;
}

/**
 * Every run of the grid, ordered so that complete tables appear early: dataset by dataset (as listed, usually
 * smallest first), then seed (the grid's, then those only some models add), then model.
 */
export function expandGrid(grid: Grid): PlannedRun[] {
  const runs: PlannedRun[] = [];
  const shared = gridSeeds(grid);
  // A set, not the list: a seed list of thousands looked up once per seed of every model is quadratic.
  const sharedSet = new Set(shared);
  grid.datasets.forEach((dataset, datasetIndex) => {
    const seedsOf = grid.models.map((model) => new Set(modelRunsOn(model, dataset) ? cellSeeds(grid, model, dataset.id) : []));
    const extra = [...new Set(seedsOf.flatMap((seeds) => [...seeds]))].filter((seed) => !sharedSet.has(seed));
    for (const seed of [...shared, ...extra.sort((a, b) => a - b)]) {
      grid.models.forEach((model, modelIndex) => {
        if (!seedsOf[modelIndex]!.has(seed)) return;
        runs.push({
          key: runKey(dataset.id, model.id, seed),
          dataset: dataset.id,
          model: model.id,
          seed,
          datasetIndex,
          modelIndex,
          spec: specFor(grid, dataset, model, seed),
        });
      });
    }
  });
  return runs;
}

function specFor(grid: Grid, dataset: GridDataset, model: GridModel, seed: number): ExperimentSpecInput {
  return {
    seed,
    dataset: { name: dataset.name, options: dataset.options },
    head: headRef(model),
    ...(model.prototypes ? { prototypes: model.prototypes } : {}),
    trainer: modelTrainer(grid, model),
    ...(grid.engine ? { engine: grid.engine } : {}),
    ...(grid.evaluators ? { evaluators: grid.evaluators } : {}),
  };
}

/** The trainer settings of a model's runs: its own over the grid's (each setting is one number, so a flat merge). */
export function modelTrainer(grid: Pick<Grid, 'trainer'>, model: Pick<GridModel, 'trainer'>): Record<string, unknown> {
  return model.trainer ? { ...grid.trainer, ...model.trainer } : grid.trainer;
}

/** Class count named in a dataset's options, when it names one. */
export function datasetClasses(dataset: Pick<GridDataset, 'options'>): number | undefined {
  const classes = dataset.options.classes;
  return typeof classes === 'number' && Number.isInteger(classes) ? classes : undefined;
}
