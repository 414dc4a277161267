// The files of a run directory, written by `train` and, for the models it keeps, by `experiment`: one writer, so
// that `export`, `predict` and `serve` read any of them alike.
import { join } from 'node:path';
import { prototypeGeometryAsync, type ExperimentOutcome, type PrototypeGeometry } from '@hyperproto/core';
import { saveModel } from '@hyperproto/engine-tfjs';
import { writeFileAtomic, writeMatrixNpy } from '@hyperproto/npy';
import { trainedLabelColumn } from './feature-files.js';

interface Scores {
  accuracy: number;
  macroF1: number;
}

export type RunSummary = ReturnType<typeof summarize>;

/**
 * What `train` prints and metrics.json starts with; `out` is where the run directory ends up, `prototypeGeometry`
 * the measures of the run's prototypes (null without prototypes), as every experiment record has them.
 */
export function summarize(outcome: ExperimentOutcome, out: string, prototypeGeometry: PrototypeGeometry | null) {
  const metrics = outcome.metrics.classification as (Scores & { epochs: number; secondsPerEpoch: number }) | undefined;
  const reference = outcome.referenceMetrics?.classification as Scores | undefined;
  const baseline = outcome.baselineMetrics.classification as Scores | undefined;
  const validation = outcome.validationMetrics.classification as Scores | undefined;
  const prototypes = outcome.spec.prototypes;
  const perClass = (outcome.metrics.classification as { perClass?: readonly { support: number }[] } | undefined)?.perClass;
  return {
    test: { accuracy: metrics?.accuracy ?? null, macroF1: metrics?.macroF1 ?? null },
    // Classes with rows in the test split (null when the evaluator left out per-class scores): macro-F1 counts the others as 0.
    classesInTest: perClass ? perClass.filter((c) => c.support > 0).length : null,
    validation: validation ? { accuracy: validation.accuracy, macroF1: validation.macroF1 } : null,
    bayes: reference ? { accuracy: reference.accuracy, macroF1: reference.macroF1 } : null,
    // What the dataset calls its optimal rule (the gaussian data: bayes-optimal).
    reference: outcome.dataset.reference?.name ?? null,
    classMean: baseline ? { accuracy: baseline.accuracy, macroF1: baseline.macroF1 } : null,
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
    prototypeGeometry,
    seconds: outcome.seconds,
    out,
  };
}

/**
 * Writes model/ (model.json + weights.bin), prototypes.npy (prototype heads), spec.json, history.json and
 * metrics.json into `dir`, an existing staging directory that the caller moves to `target` when it is whole.
 */
export async function writeRunFiles(
  dir: string,
  outcome: ExperimentOutcome,
  target: string,
  control: { readonly signal?: AbortSignal } = {},
): Promise<RunSummary> {
  const geometry = outcome.prototypes
    ? await prototypeGeometryAsync(outcome.prototypes, { source: "the run's prototypes", signal: control.signal })
    : null;
  const summary = summarize(outcome, target, geometry);
  const json = (name: string, value: unknown) => writeFileAtomic(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  // Class names, feature names and the label column travel with the model, so that `export` writes them into
  // the ONNX file and `predict` can check a CSV header against them.
  const classNames = outcome.dataset.classNames ? { classNames: [...outcome.dataset.classNames] } : {};
  // The dataset's full list, not `info`'s, which metrics.json holds and which names only the columns of a narrow file.
  const featureNames = outcome.dataset.featureNames ? [...outcome.dataset.featureNames] : undefined;
  const labelColumn = trainedLabelColumn(outcome.spec.dataset);
  await saveModel(join(dir, 'model'), outcome.training.model, {
    spec: outcome.spec,
    engine: outcome.engine,
    ...classNames,
    ...(featureNames ? { featureNames } : {}),
    ...(labelColumn === undefined ? {} : { labelColumn }),
  });
  if (outcome.prototypes) await writeMatrixNpy(join(dir, 'prototypes.npy'), outcome.prototypes);
  await json('spec.json', outcome.spec);
  await json('history.json', outcome.training.history);
  await json('metrics.json', {
    ...summary,
    evaluators: outcome.metrics,
    validationEvaluators: outcome.validationMetrics,
    reference: outcome.referenceMetrics ?? null,
    baseline: outcome.baselineMetrics,
    dataset: outcome.dataset.info,
    // Class i's name, for reading `perClass` (class i) without the model; absent when the labels were integers.
    ...classNames,
  });
  return summary;
}
