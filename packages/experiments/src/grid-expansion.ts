import type { ExperimentSpecInput } from '@hyperproto/core';
import { gridSeeds, type Grid, type GridDataset, type GridModel } from './grid-schema.js';

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
  /** Relative cost (estimated multiply-adds), for the ETA before any run of the same cell has finished. */
  readonly cost: number;
}

export function runKey(dataset: string, model: string, seed: number): string {
  return `${dataset}/${model}/s${seed}`;
}

export function headRef(model: GridModel): { name: string; options: Record<string, unknown> } {
  return typeof model.head === 'string' ? { name: model.head, options: {} } : model.head;
}

/**
 * Every run of the grid, ordered so that complete tables appear early: dataset by dataset (as listed, usually
 * smallest first), then seed, then model.
 */
export function expandGrid(grid: Grid): PlannedRun[] {
  const runs: PlannedRun[] = [];
  grid.datasets.forEach((dataset, datasetIndex) => {
    for (const seed of gridSeeds(grid)) {
      grid.models.forEach((model, modelIndex) => {
        runs.push({
          key: runKey(dataset.id, model.id, seed),
          dataset: dataset.id,
          model: model.id,
          seed,
          datasetIndex,
          modelIndex,
          spec: specFor(grid, dataset, model, seed),
          cost: estimatedCost(grid, dataset, model),
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
    trainer: grid.trainer,
    ...(grid.engine ? { engine: grid.engine } : {}),
    ...(grid.evaluators ? { evaluators: grid.evaluators } : {}),
  };
}

/** Class count named in a dataset's options, when it names one. */
export function datasetClasses(dataset: Pick<GridDataset, 'options'>): number | undefined {
  const classes = dataset.options.classes;
  return typeof classes === 'number' && Number.isInteger(classes) ? classes : undefined;
}

function estimatedCost(grid: Grid, dataset: GridDataset, model: GridModel): number {
  const classes = datasetClasses(dataset) ?? 10;
  const perClass = typeof dataset.options.trainPerClass === 'number' ? dataset.options.trainPerClass : 500;
  const hidden = typeof grid.trainer.hiddenUnits === 'number' ? grid.trainer.hiddenUnits : 300;
  const outputs = model.prototypes?.dims ?? classes;
  // Multiply-adds: forward and backward through 300 -> hidden -> hidden -> outputs, for about 50 epochs ...
  const training = 3 * 50 * classes * perClass * (300 * hidden + hidden * hidden + hidden * outputs);
  // ... plus iterative prototype optimisation, which compares every pair of prototypes at every step.
  const steps = typeof model.prototypes?.options.steps === 'number' ? model.prototypes.options.steps : 0;
  const prototypes = 3 * steps * classes * classes * (model.prototypes?.dims ?? 0);
  return training + prototypes;
}
