import { existsSync } from 'node:fs';
import { runExperiment, type ExperimentOutcome, type ExperimentSpecInput } from '@hyperproto/core';
import { saveModel } from '@hyperproto/engine-tfjs';
import { readMatrixNpy, writeMatrixNpy } from '@hyperproto/npy';
import type { GlobalOptions } from '../main.js';
import { interruptSignal, removeOnExit } from '../interrupt.js';
import { parseKeyValues } from '../key-values.js';
import { Output } from '../output.js';
import { buildRegistry } from '../plugin-loading.js';
import { RunDirectory } from '../run-directory.js';

export interface TrainOptions extends GlobalOptions {
  classes: number;
  head: string;
  prototypes?: string;
  dims?: number;
  prototypeOption?: string[];
  seed: number;
  out?: string;
  force?: boolean;
  dataset: string;
  sigma?: number;
  trainPerClass?: number;
  validationPerClass?: number;
  testPerClass?: number;
  hiddenUnits?: number;
  hiddenLayers?: number;
  dropout?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  maxEpochs?: number;
  engine?: string;
}

interface Scores {
  accuracy: number;
  macroF1: number;
}

export async function trainCommand(options: TrainOptions): Promise<void> {
  const output = new Output(options);
  const { registry } = await buildRegistry({ config: options.config, plugins: options.plugin });
  const spec = specFromFlags(options, registry.get('head', options.head).usesPrototypes);
  const out = options.out ?? defaultOutDir(options);
  const directory = await RunDirectory.open(out, { force: options.force });
  const keep = removeOnExit(directory.staging);
  try {
    const outcome = await runExperiment(registry, spec, {
      loadPrototypeFile: readMatrixNpy,
      log: (message) => output.info(message),
      progress: (stage, done, total, label) => output.progress(stage, done, total, label),
      signal: interruptSignal(),
    });
    output.done();
    const summary = summarize(outcome, directory.target);
    // Class names travel with the model, so that `export` writes them into the ONNX file.
    const classNames = outcome.dataset.classNames ? { classNames: [...outcome.dataset.classNames] } : {};
    await saveModel(directory.path('model'), outcome.training.model, { spec: outcome.spec, engine: outcome.engine, ...classNames });
    if (outcome.prototypes) await writeMatrixNpy(directory.path('prototypes.npy'), outcome.prototypes);
    await directory.writeJson('spec.json', outcome.spec);
    await directory.writeJson('history.json', outcome.training.history);
    await directory.writeJson('metrics.json', { ...summary, evaluators: outcome.metrics, reference: outcome.referenceMetrics ?? null, dataset: outcome.dataset.info });
    await directory.commit();
    keep();
    outcome.training.model.dispose();
    output.result(summary, () => describe(summary));
  } catch (error) {
    output.done();
    await directory.discard();
    keep();
    throw error;
  }
}

function specFromFlags(options: TrainOptions, usesPrototypes: boolean): ExperimentSpecInput {
  const datasetOptions = dropUndefined({
    classes: options.classes,
    sigma: options.sigma,
    trainPerClass: options.trainPerClass,
    validationPerClass: options.validationPerClass,
    testPerClass: options.testPerClass,
  });
  const trainer = dropUndefined({
    hiddenUnits: options.hiddenUnits,
    hiddenLayers: options.hiddenLayers,
    dropout: options.dropout,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    patience: options.patience,
    maxEpochs: options.maxEpochs,
  });
  const wantsPrototypes = usesPrototypes || options.prototypes !== undefined || options.dims !== undefined;
  const source = options.prototypes ?? 'optimized';
  const isFile = source.endsWith('.npy') || existsSync(source);
  return {
    seed: options.seed,
    dataset: { name: options.dataset, options: datasetOptions },
    head: { name: options.head, options: {} },
    ...(wantsPrototypes
      ? {
          prototypes: isFile
            ? { file: source }
            : { strategy: source, dims: options.dims ?? options.classes, options: parseKeyValues(options.prototypeOption, '--prototype-option') },
        }
      : {}),
    trainer,
    ...(options.engine ? { engine: options.engine } : {}),
  };
}

function defaultOutDir(options: TrainOptions): string {
  const prototypes = options.prototypes && !options.prototypes.endsWith('.npy') ? `-${options.prototypes}${options.dims ?? options.classes}` : '';
  return `runs/${options.head}${prototypes}-c${options.classes}-s${options.seed}`;
}

function summarize(outcome: ExperimentOutcome, out: string) {
  const metrics = outcome.metrics.classification as (Scores & { epochs: number; secondsPerEpoch: number }) | undefined;
  const reference = outcome.referenceMetrics?.classification as Scores | undefined;
  const prototypes = outcome.spec.prototypes;
  return {
    test: { accuracy: metrics?.accuracy ?? null, macroF1: metrics?.macroF1 ?? null },
    bayes: reference ? { accuracy: reference.accuracy, macroF1: reference.macroF1 } : null,
    bestEpoch: outcome.training.bestEpoch,
    epochs: outcome.training.history.length,
    secondsPerEpoch: metrics?.secondsPerEpoch ?? null,
    backend: outcome.engine.backend,
    engine: outcome.engine.name,
    skipped: outcome.engine.skipped,
    seed: outcome.spec.seed,
    classes: outcome.dataset.classes,
    head: outcome.spec.head.name,
    prototypes: prototypes ? { ...prototypes, dims: outcome.prototypes?.cols } : null,
    seconds: outcome.seconds,
    out,
  };
}

function describe(summary: ReturnType<typeof summarize>): string {
  const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  const proto = summary.prototypes ? ` with ${'strategy' in summary.prototypes ? summary.prototypes.strategy : summary.prototypes.file} prototypes, D=${summary.prototypes.dims}` : '';
  return [
    `${summary.head}${proto}, ${summary.classes} classes, seed ${summary.seed} (${summary.engine} on ${summary.backend})`,
    `  test macro-F1 ${pct(summary.test.macroF1)}   accuracy ${pct(summary.test.accuracy)}`,
    summary.bayes ? `  Bayes-optimal macro-F1 ${pct(summary.bayes.macroF1)}   accuracy ${pct(summary.bayes.accuracy)}` : '',
    `  best epoch ${summary.bestEpoch} of ${summary.epochs}, ${summary.secondsPerEpoch?.toFixed(2) ?? 'n/a'} s/epoch, ${summary.seconds.total.toFixed(1)} s in all`,
    `  saved to ${summary.out}`,
  ]
    .filter(Boolean)
    .join('\n');
}

function dropUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
