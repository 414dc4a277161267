import { RECORD_FORMAT, type RunRecord } from '../run-record.js';

/** The finished run `c4/softmax/s<seed>` of a grid over the fake registry (blobs with 4 classes, softmax). */
export function softmaxRecord(seed: number, changes: Partial<RunRecord> = {}): RunRecord {
  return {
    format: RECORD_FORMAT,
    key: `c4/softmax/s${seed}`,
    dataset: 'c4',
    model: 'softmax',
    seed,
    classes: 4,
    head: 'softmax',
    prototypes: null,
    spec: { seed } as RunRecord['spec'],
    metrics: { accuracy: 0.5, macroF1: 0.5, bayes: { accuracy: 1, macroF1: 1 } },
    bestEpoch: 2,
    epochs: 3,
    secondsPerEpoch: 0.1,
    history: [],
    engine: { name: 'fake', backend: 'fake/cpu' },
    versions: { node: process.version, hyperproto: {}, tfjs: null, other: {} },
    seconds: { data: 0, prototypes: 0, training: 0.3, total: 0.3 },
    data: {},
    evaluators: {},
    finishedAt: '2026-01-01T00:00:00.000Z',
    ...changes,
  };
}

/** Epochs of a fake history: validation (and, when given, test) macro-F1 per epoch as fractions. */
export interface FakeEpochs {
  readonly validationMacroF1: readonly number[];
  readonly testMacroF1?: readonly number[];
}

/** A finished run of `model` on `dataset` with the given test macro-F1 (a fraction), for report tests. */
export function gridRecord(
  dataset: string,
  model: { readonly id: string; readonly head: string; readonly strategy?: string; readonly dims?: number },
  seed: number,
  macroF1: number,
  changes: Partial<RunRecord> & { readonly curves?: FakeEpochs } = {},
): RunRecord {
  const { curves, ...rest } = changes;
  const validation = curves?.validationMacroF1 ?? [macroF1];
  const history = validation.map((value, i) => ({
    epoch: i + 1,
    trainLoss: 1 - value,
    validationLoss: 1 - value,
    validationAccuracy: value,
    validationMacroF1: value,
    ...(curves?.testMacroF1
      ? { testLoss: 1 - curves.testMacroF1[i]!, testAccuracy: curves.testMacroF1[i]!, testMacroF1: curves.testMacroF1[i]! }
      : {}),
    seconds: 0.1,
  }));
  return softmaxRecord(seed, {
    key: `${dataset}/${model.id}/s${seed}`,
    dataset,
    model: model.id,
    head: model.head,
    prototypes: model.strategy ? { strategy: model.strategy, dims: model.dims! } : null,
    metrics: { accuracy: macroF1, macroF1, bayes: null },
    bestEpoch: history.length,
    epochs: history.length,
    history,
    ...rest,
  });
}
