import {
  classificationMetrics,
  createMatrix,
  createRegistry,
  type DatasetSplit,
  defineDataset,
  defineEngine,
  defineEvaluator,
  definePrototypeStrategy,
  MAX_SCORES_PER_PREDICT,
  type Matrix,
  runExperiment,
  type TrainedModel,
  z,
} from '@hyperproto/core';
import { hpnHead } from '@hyperproto/head-hpn';
import { engineTestDataset } from '@hyperproto/plugin-testing';
import { describe, expect, it } from 'vitest';
import { inferenceChunkRows } from './inference-session.js';
import { onnxruntimeEngine } from './onnxruntime-engine.js';

// Many classes for few rows: the test split's 500 x 20,000 scores (10^7) are more than one predict call may return
// when labels are predicted through predict (MAX_SCORES_PER_PREDICT), and more than one inference chunk.
const CLASSES = 20_000;
const ROWS = 1_000;

/** The rows of each predict call on the model without predictLabels. */
const scoresOnlyCalls: number[] = [];

function registry() {
  const blobs = defineDataset({
    name: 'many-class-blobs',
    summary: 'Gaussian blobs of many classes, few rows each',
    options: z.strictObject({}),
    generate(ctx) {
      const dataset = engineTestDataset(ctx.seed, { classes: CLASSES, rows: ROWS, sd: 0.3 });
      // A run needs a training row of every class: one each, at random (what is learnt does not matter here).
      const features = createMatrix(CLASSES, dataset.inputWidth);
      ctx.rng.fillNormal(features.data);
      return { ...dataset, train: { features, labels: Int32Array.from({ length: CLASSES }, (_, c) => c) } };
    },
  });
  const unitRows = definePrototypeStrategy({
    name: 'seeded-unit-rows',
    summary: 'seeded Gaussian directions',
    options: z.strictObject({}),
    generate(ctx, { classes, dims }) {
      const prototypes = createMatrix(classes, dims);
      ctx.rng.fillNormal(prototypes.data);
      for (let c = 0; c < classes; c++) {
        const row = prototypes.data.subarray(c * dims, (c + 1) * dims);
        const norm = Math.hypot(...row);
        for (let k = 0; k < dims; k++) row[k]! /= norm;
      }
      return prototypes;
    },
  });
  // The onnxruntime engine's training behind a model with predict alone, as a third-party engine may give.
  const scoresOnly = defineEngine({
    name: 'scores-only',
    summary: 'onnxruntime training, a model without predictLabels',
    priority: 0,
    options: z.strictObject({}),
    probe: () => onnxruntimeEngine.probe({ provider: 'cpu' }),
    async train(ctx, job) {
      const { model, history, bestEpoch, backend } = await onnxruntimeEngine.train(ctx, job, { provider: 'cpu' });
      const withoutLabels: TrainedModel = {
        inputWidth: model.inputWidth,
        classes: model.classes,
        trainer: model.trainer,
        head: model.head,
        weights: model.weights,
        predict: (features: Matrix) => (scoresOnlyCalls.push(features.rows), model.predict(features)),
        dispose: () => model.dispose(),
      };
      return { model: withoutLabels, history, bestEpoch, backend };
    },
  });
  const perClass = defineEvaluator({
    name: 'per-class',
    summary: 'accuracy, macro-F1 and every class',
    options: z.strictObject({}),
    evaluate: ({ classes, labels, predictions }) => classificationMetrics(classes, labels, predictions),
  });
  return createRegistry([blobs, unitRows, hpnHead, onnxruntimeEngine, scoresOnly, perClass]);
}

const spec = (engine: string) => ({
  seed: 4,
  dataset: { name: 'many-class-blobs' },
  head: { name: 'hpn' },
  prototypes: { strategy: 'seeded-unit-rows', dims: 8 },
  engine: { name: engine },
  trainer: { hiddenUnits: 16, hiddenLayers: 2, dropout: 0.1, batchSize: 32, learningRate: 0.01, patience: 2, maxEpochs: 3 },
  evaluators: [{ name: 'per-class' }],
});

describe('labels-only prediction in a run with many classes', () => {
  it('gives the metrics of predict with all scores kept, in bounded chunks, with and without predictLabels', async () => {
    expect(inferenceChunkRows(CLASSES)).toBeLessThan(ROWS / 2);
    const plugins = registry();
    const labelsOnly = await runExperiment(plugins, spec('onnxruntime'), { threads: 1 });
    const { model } = labelsOnly.training;
    try {
      // What the pipeline computed before: the labels of predict, every score of every row kept.
      const before = async (split: DatasetSplit) => {
        const { scores, labels } = await model.predict(split.features);
        expect(scores.data.length).toBe(split.labels.length * CLASSES);
        return { labels, metrics: classificationMetrics(CLASSES, split.labels, labels) };
      };
      const test = await before(labelsOnly.dataset.test);
      const validation = await before(labelsOnly.dataset.validation);
      expect(test.labels.length * CLASSES).toBeGreaterThan(MAX_SCORES_PER_PREDICT);
      // Hundreds of different labels: equal labels mean something.
      expect(new Set(test.labels).size).toBeGreaterThan(100);
      expect(labelsOnly.testPredictions).toEqual(test.labels);
      expect(labelsOnly.metrics['per-class']).toEqual(test.metrics);
      expect(labelsOnly.validationMetrics['per-class']).toEqual(validation.metrics);
      // The validation labels came from training (the kept epoch's), and are the kept model's.
      expect(labelsOnly.training.validationPredictions).toEqual(validation.labels);

      scoresOnlyCalls.length = 0;
      const throughPredict = await runExperiment(plugins, spec('scores-only'), { threads: 1 });
      try {
        expect(throughPredict.training.model.weights).toEqual(model.weights);
        expect(throughPredict.metrics).toEqual(labelsOnly.metrics);
        expect(throughPredict.validationMetrics).toEqual(labelsOnly.validationMetrics);
        // 500 rows a split, at most 2^22 / 20,000 = 209 rows (4.2 million scores) a call.
        expect(scoresOnlyCalls).toEqual([209, 209, 82, 209, 209, 82]);
      } finally {
        throughPredict.training.model.dispose();
      }
    } finally {
      model.dispose();
    }
  });
});
