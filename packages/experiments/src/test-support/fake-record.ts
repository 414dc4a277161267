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
