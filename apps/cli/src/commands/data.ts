import { callPlugin, createRng, type Dataset, type DatasetSplit, type Matrix, type Registry, resolveOptions } from '@hyperproto/core';
import { bayesOptimalPredictions, nearestClassMeanScan } from '@hyperproto/data-gaussian';
import type { GlobalOptions } from '../main.js';
import { interruptSignal } from '../interrupt.js';
import { datasetFromFlags, type DatasetFlags } from '../dataset-flags.js';
import { absentClassesNote, Output } from '../output.js';
import { buildRegistry } from '../plugin-loading.js';
import { threadBudget } from '../thread-budget.js';

export interface InspectDataOptions extends GlobalOptions, DatasetFlags {
  seed: number;
  split: 'validation' | 'test';
}

interface Scores {
  readonly accuracy: number;
  readonly macroF1: number;
}

/** What `data inspect` prints: the data a spec makes, and the rules every trained model is measured against. */
export interface DataInspection {
  readonly dataset: { readonly name: string; readonly options: Record<string, unknown>; readonly seed: number };
  readonly classes: number;
  readonly inputWidth: number;
  readonly rows: { readonly train: number; readonly validation: number; readonly test: number };
  readonly info: Readonly<Record<string, unknown>>;
  /** The split the scores are on. */
  readonly split: 'validation' | 'test';
  /** Classes with at least one row in the split: macro-F1 counts the others as 0 (gaussian's validationRows < classes). */
  readonly classesInSplit: number;
  /** The nearest class mean of the training rows: the baseline every run's record carries (`metrics.classMean`). */
  readonly classMean: Scores;
  /** The dataset's known-optimal rule (nearest true centre for gaussian); null when the dataset has none for the split. */
  readonly bayes: Scores | null;
  readonly chance: number;
  readonly seconds: { readonly data: number; readonly classMean: number; readonly bayes: number | null };
}

/**
 * Generates a dataset exactly as `train --seed N` would (the same options, the same random stream), and scores the
 * class-mean baseline and the Bayes-optimal rule on one split without training anything: what a noise level or a
 * data size should be chosen from. The validation split by default, so that no choice is made on the test split.
 */
export async function inspectDataCommand(options: InspectDataOptions): Promise<void> {
  const signal = interruptSignal();
  const output = new Output(options);
  const { registry } = await buildRegistry({ config: options.config, plugins: options.plugin });
  const threads = threadBudget();
  const chosen = datasetFromFlags(options, registry);
  const plugin = registry.get('dataset', chosen.name);
  const resolved = resolveOptions(plugin, chosen.options);

  const dataStarted = performance.now();
  // The pipeline's stream for the dataset: the same rows as a run of this seed.
  const dataset = await callPlugin(
    plugin,
    'generate',
    {
      seed: options.seed,
      rng: createRng(options.seed).fork('dataset'),
      signal,
      threads,
      progress: (done, total, label) => output.progress('data', done, total, label),
      // What the dataset says of the data as it reads it (the files dataset's warnings), as train shows it.
      log: (message) => output.log(message),
    },
    resolved,
  );
  const dataSeconds = (performance.now() - dataStarted) / 1000;
  output.done();
  const split = options.split === 'test' ? dataset.test : dataset.validation;
  const score = (predictions: Int32Array) => scores(registry, dataset.classes, split.labels, predictions);

  const classMeanStarted = performance.now();
  const classMean = score(
    await nearestClassMeanScan(dataset.train, split.features, dataset.classes, {
      threads,
      signal,
      progress: (done, total) => output.progress('class-mean', done, total),
    }),
  );
  const classMeanSeconds = (performance.now() - classMeanStarted) / 1000;
  output.done();

  const bayesStarted = performance.now();
  const bayesPredictions = await optimalPredictions(dataset, options.split, split, { threads, signal, output });
  const bayesSeconds = bayesPredictions ? (performance.now() - bayesStarted) / 1000 : null;
  output.done();

  const inspection: DataInspection = {
    dataset: { name: plugin.name, options: chosen.options, seed: options.seed },
    classes: dataset.classes,
    inputWidth: dataset.inputWidth,
    rows: { train: dataset.train.labels.length, validation: dataset.validation.labels.length, test: dataset.test.labels.length },
    info: dataset.info,
    split: options.split,
    classesInSplit: new Set(split.labels).size,
    classMean,
    bayes: bayesPredictions ? score(bayesPredictions) : null,
    chance: 1 / dataset.classes,
    seconds: { data: dataSeconds, classMean: classMeanSeconds, bayes: bayesSeconds },
  };
  output.result(inspection, () => describe(inspection));
}

/**
 * The known-optimal rule's predictions on the split: the dataset's own reference on the test split, and for a
 * dataset that carries its true class centres (gaussian) the nearest centre on any split.
 */
async function optimalPredictions(
  dataset: Dataset,
  name: 'validation' | 'test',
  split: DatasetSplit,
  { threads, signal, output }: { threads: number; signal: AbortSignal; output: Output },
): Promise<Int32Array | undefined> {
  if (name === 'test' && dataset.reference) return dataset.reference.testPredictions;
  const centres = (dataset as Dataset & { centres?: Matrix }).centres;
  if (!centres || centres.rows !== dataset.classes || centres.cols !== dataset.inputWidth) return undefined;
  return bayesOptimalPredictions(split.features, centres, {
    threads,
    signal,
    progress: (done, total) => output.progress('bayes', done, total),
  });
}

function scores(registry: Registry, classes: number, labels: Int32Array, predictions: Int32Array): Scores {
  const evaluator = registry.get('evaluator', 'classification');
  const { accuracy, macroF1 } = callPlugin(
    evaluator,
    'evaluate',
    { classes, labels, predictions },
    { perClass: false },
  ) as unknown as Scores;
  return { accuracy, macroF1 };
}

function describe(inspection: DataInspection): string {
  // Two decimals: near the ceiling, 99.99% and 100% are different answers.
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const line = (name: string, s: Scores | null, seconds: number | null) =>
    s
      ? `  ${name.padEnd(20)} macro-F1 ${pct(s.macroF1).padStart(7)}   accuracy ${pct(s.accuracy).padStart(7)}   (${seconds!.toFixed(1)} s)`
      : `  ${name.padEnd(20)} n/a (the dataset has no known-optimal rule for this split)`;
  const { rows } = inspection;
  const sigma = typeof inspection.info.sigma === 'number' ? `, sigma ${inspection.info.sigma}` : '';
  return [
    `${inspection.dataset.name}: ${inspection.classes} classes, ${inspection.inputWidth} features${sigma}, seed ${inspection.dataset.seed}`,
    `  rows: train ${rows.train}, validation ${rows.validation}, test ${rows.test} (made in ${inspection.seconds.data.toFixed(1)} s)`,
    `on the ${inspection.split} split:`,
    ...[absentClassesNote('it holds', inspection.classesInSplit, inspection.classes)].flatMap((note) => (note ? [`  ${note}`] : [])),
    line('Bayes-optimal', inspection.bayes, inspection.seconds.bayes),
    line('class-mean baseline', inspection.classMean, inspection.seconds.classMean),
    `  ${'chance'.padEnd(20)} accuracy ${(100 * inspection.chance).toPrecision(2)}%`,
  ].join('\n');
}
