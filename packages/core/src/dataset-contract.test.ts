import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode } from './errors.js';
import { h } from './head-graph.js';
import { createMatrix } from './matrix.js';
import { runExperiment } from './pipeline.js';
import { classNamesProblem, datasetSplitArraysProblem, missingTrainingClassesProblem } from './plugin-results.js';
import { type Dataset, defineDataset, defineHead } from './plugins.js';
import { createRegistry } from './registry.js';
import { emptyClassificationEvaluator, engineThatMustNotTrain, everyClassSplit, SPLIT_CLASSES } from './test-support/refusal-plugins.js';

const CLASSES = SPLIT_CLASSES;
const NAMES = ['cat', 'dog', 'owl'];

const split = everyClassSplit;

const good = (): Dataset => ({
  classes: CLASSES,
  inputWidth: 2,
  classNames: NAMES,
  train: split(),
  validation: split(),
  test: split(),
  info: {},
});

/** A dataset plugin whose generate returns the good dataset changed by `edit` (what the type does not allow, too). */
const dataset = (name: string, edit: (data: Dataset) => unknown = (data) => data) =>
  defineDataset({ name, summary: 'test dataset', options: z.strictObject({}), generate: (() => edit(good())) as () => Dataset });

/** The train split without rows of class `c` (its rows relabelled to the next class). */
const withoutTrainClass = (data: Dataset, ...missing: number[]): Dataset => ({
  ...data,
  train: { ...data.train, labels: data.train.labels.map((label) => (missing.includes(label) ? (label + 1) % CLASSES : label)) },
});

const registry = createRegistry([
  dataset('good'),
  dataset('unnamed', ({ classNames: _, ...rest }) => rest),
  dataset('float64-features', (data) => ({
    ...data,
    train: { ...data.train, features: { ...data.train.features, data: Float64Array.from(data.train.features.data) } },
  })),
  dataset('nested-features', (data) => ({ ...data, validation: { ...data.validation, features: [[0, 0]] } })),
  dataset('array-labels', (data) => ({ ...data, test: { ...data.test, labels: Array.from(data.test.labels) } })),
  dataset('no-owls', (data) => withoutTrainClass(data, 2)),
  dataset('unnamed-no-owls', ({ classNames: _, ...rest }) => withoutTrainClass(rest, 2)),
  dataset('repeated-names', (data) => ({ ...data, classNames: ['dog', 'cat', 'dog'] })),
  dataset('short-names', (data) => ({ ...data, classNames: ['cat', 'dog'] })),
  defineHead({
    name: 'plain',
    summary: 'test head',
    usesPrototypes: false,
    options: z.strictObject({}),
    build: ({ classes }) => ({ outputUnits: classes, loss: h.mean(h.output()), scores: h.output(), scoresName: 'scores', constants: {} }),
  }),
  engineThatMustNotTrain(),
  emptyClassificationEvaluator,
]);

const run = (name: string) => runExperiment(registry, { dataset: { name }, head: { name: 'plain' } });

/** The refusal of dataset `name`'s result: E_INVALID_PLUGIN naming the dataset, with the plugin's hint. */
const refusal = (name: string, message: string) => ({
  code: ErrorCode.InvalidPlugin,
  pluginId: `dataset:${name}`,
  message: `dataset:${name}: ${message}`,
  hint: `This is an error in the plugin dataset:${name}: fix what it returns (its conformance suite in @hyperproto/plugin-testing checks it).`,
});

const NO_TRAINING_ROWS =
  'expected at least one train row of every class, as a model cannot learn a class it never sees: a dataset plugin must refuse such data itself (E_INVALID_INPUT, as the files dataset does) or leave the class out';

describe('the dataset contract, checked where the run receives the splits', () => {
  it('passes a well-formed dataset, named or not, on to the engine', async () => {
    // The fake engine is reached, and its own failure is what comes back.
    await expect(run('good')).rejects.toMatchObject({ code: ErrorCode.PluginFailed, pluginId: 'engine:fake' });
    await expect(run('unnamed')).rejects.toMatchObject({ code: ErrorCode.PluginFailed, pluginId: 'engine:fake' });
  });

  it('refuses features that are not a float32 matrix and labels that are not an Int32Array, naming the split', async () => {
    await expect(run('float64-features')).rejects.toMatchObject(
      refusal('float64-features', 'train.features is a matrix whose data is a Float64Array; expected a Float32Array'),
    );
    await expect(run('nested-features')).rejects.toMatchObject(
      refusal(
        'nested-features',
        'validation.features is an array of 1 item; expected a Matrix { rows, cols, data: Float32Array } (build one with createMatrix)',
      ),
    );
    await expect(run('array-labels')).rejects.toMatchObject(
      refusal(
        'array-labels',
        'test.labels is an array of 6 items; expected an Int32Array of class indices (Int32Array.from(labels) makes one)',
      ),
    );
  });

  it('refuses a class without training rows, by its name when it has one', async () => {
    await expect(run('no-owls')).rejects.toMatchObject(refusal('no-owls', `class 2 ("owl") has no training rows; ${NO_TRAINING_ROWS}`));
    await expect(run('unnamed-no-owls')).rejects.toMatchObject(
      refusal('unnamed-no-owls', `class 2 has no training rows; ${NO_TRAINING_ROWS}`),
    );
  });

  it('refuses class names that repeat or do not match the classes', async () => {
    await expect(run('repeated-names')).rejects.toMatchObject(
      refusal('repeated-names', 'classNames repeats "dog" at 0 and 2; expected a different name for each class'),
    );
    await expect(run('short-names')).rejects.toMatchObject(
      refusal('short-names', 'classNames has 2 names for 3 classes; expected one per class, in class order'),
    );
  });
});

describe('the dataset contract checks themselves', () => {
  it('says what is wrong with the arrays of a split', () => {
    expect(datasetSplitArraysProblem(split(), 'train')).toBeUndefined();
    expect(datasetSplitArraysProblem(undefined, 'validation')).toBe(
      'validation is undefined; expected a split { features: Matrix, labels: Int32Array }',
    );
    expect(datasetSplitArraysProblem({ ...split(), features: new Float64Array(12) }, 'train')).toBe(
      'train.features is a Float64Array; expected a Matrix { rows, cols, data: Float32Array } (build one with createMatrix)',
    );
    expect(datasetSplitArraysProblem({ ...split(), labels: new Float32Array(6) }, 'test')).toBe(
      'test.labels is a Float32Array; expected an Int32Array of class indices (Int32Array.from(labels) makes one)',
    );
  });

  it('names the classes without training rows, at most five of them', () => {
    const train = (labels: number[]) => ({ features: createMatrix(labels.length, 1), labels: Int32Array.from(labels) });
    expect(missingTrainingClassesProblem({ classes: 3, train: train([2, 0, 1]) })).toBeUndefined();
    // Labels out of range are the range check's to refuse; they count for no class here.
    expect(missingTrainingClassesProblem({ classes: 2, train: train([0, 1, 5, -1]) })).toBeUndefined();
    const names = Array.from({ length: 10 }, (_, c) => `c${c}`);
    expect(missingTrainingClassesProblem({ classes: 10, classNames: names, train: train([0, 1, 2, 4]) })).toBe(
      `6 of the 10 classes have no training rows: class 3 ("c3"), class 5 ("c5"), class 6 ("c6"), class 7 ("c7"), class 8 ("c8"), ...; ${NO_TRAINING_ROWS}`,
    );
    expect(missingTrainingClassesProblem({ classes: 4, train: train([0, 2]) })).toBe(
      `2 of the 4 classes have no training rows: class 1, class 3; ${NO_TRAINING_ROWS}`,
    );
  });

  it('says what is wrong with class names, and accepts none', () => {
    expect(classNamesProblem({ classes: 3 })).toBeUndefined();
    expect(classNamesProblem({ classes: 3, classNames: NAMES })).toBeUndefined();
    const of = (classNames: unknown) => classNamesProblem({ classes: 3, classNames: classNames as string[] });
    expect(of('cat,dog,owl')).toBe(
      'classNames is "cat,dog,owl"; expected an array of 3 strings, one per class in class order (or no classNames)',
    );
    expect(of(['cat', 7, 'owl'])).toBe('classNames[1] is 7; expected a string');
    expect(of(['cat', 'owl', 'owl'])).toBe('classNames repeats "owl" at 1 and 2; expected a different name for each class');
    expect(of(['a', 'b', 'c', 'd'])).toBe('classNames has 4 names for 3 classes; expected one per class, in class order');
  });
});
