// The data and network of the CLI's test runs: 3 well-separated gaussian classes (sigma 0.5), 16 hidden units.
// Small enough that a run takes about a second, real enough that it learns.

/** Samples per class of the train, validation and test splits. */
export type PerClass = readonly [train: number, validation: number, test: number];

const PER_CLASS: PerClass = [40, 20, 20];

export interface TinyTraining {
  readonly perClass?: PerClass;
  readonly maxEpochs: number;
  /** The engine's default (128, one batch at these sizes) when not given. */
  readonly batchSize?: number;
  /** The engine's default (10) when not given. */
  readonly patience?: number;
}

/** `hyperproto train` flags of a tiny run. */
export function tinyTrainFlags({ perClass = PER_CLASS, maxEpochs, batchSize, patience }: TinyTraining): string[] {
  const [train, validation, test] = perClass;
  return [
    ...['--classes', '3', '--sigma', '0.5'],
    ...['--train-per-class', `${train}`, '--validation-per-class', `${validation}`, '--test-per-class', `${test}`],
    ...['--hidden-units', '16', '--max-epochs', `${maxEpochs}`],
    ...(batchSize === undefined ? [] : ['--batch-size', `${batchSize}`]),
    ...(patience === undefined ? [] : ['--patience', `${patience}`]),
  ];
}

/** A grid (`hyperproto experiment --grid`) of tiny runs: the one dataset `c3`, `models`, `seeds` seeds each. */
export function tinyGrid<M>(name: string, seeds: number, models: readonly M[], { perClass = PER_CLASS, ...trainer }: TinyTraining) {
  const [trainPerClass, validationPerClass, testPerClass] = perClass;
  return {
    name,
    seeds,
    datasets: [{ id: 'c3', options: { classes: 3, sigma: 0.5, trainPerClass, validationPerClass, testPerClass } }],
    models,
    trainer: { hiddenUnits: 16, ...trainer },
  };
}
