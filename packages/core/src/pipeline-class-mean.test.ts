import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { h } from './head-graph.js';
import { createMatrix } from './matrix.js';
import { runExperiment } from './pipeline.js';
import { type Dataset, type DatasetPlugin, defineDataset, defineEngine, defineEvaluator, defineHead } from './plugins.js';
import { createRegistry } from './registry.js';

/** Four classes on a line, three rows each; row i has class i % 4 at x = class. */
function split() {
  const labels = new Int32Array(12).map((_, i) => i % 4);
  const features = createMatrix(12, 1);
  labels.forEach((label, i) => (features.data[i] = label));
  return { features, labels };
}

function registry(classMeanPredictions?: DatasetPlugin['classMeanPredictions']) {
  const dataset = defineDataset({
    name: 'line',
    summary: 'test dataset',
    options: z.strictObject({}),
    generate: () => ({ classes: 4, inputWidth: 1, train: split(), validation: split(), test: split(), info: {} }) satisfies Dataset,
    ...(classMeanPredictions ? { classMeanPredictions } : {}),
  });
  const head = defineHead({
    name: 'flat',
    summary: 'test head',
    usesPrototypes: false,
    options: z.strictObject({}),
    build: ({ classes }) => ({ outputUnits: classes, loss: h.mean(h.output()), scores: h.output(), scoresName: 'scores', constants: {} }),
  });
  const engine = defineEngine({
    name: 'fake',
    summary: 'test engine',
    priority: 1,
    options: z.strictObject({}),
    probe: async () => ({ ok: true as const, backend: 'fake/cpu', skipped: [] }),
    train: async (_ctx, job) => ({
      bestEpoch: 1,
      backend: 'fake/cpu',
      history: [{ epoch: 1, trainLoss: 1, validationLoss: 1, validationAccuracy: 1, seconds: 0 }],
      model: {
        inputWidth: 1,
        classes: 4,
        trainer: job.trainer,
        head: job.head,
        weights: [],
        predict: async (features) => ({ scores: createMatrix(features.rows, 4), labels: new Int32Array(features.rows) }),
        dispose() {},
      },
    }),
  });
  const evaluator = defineEvaluator({
    name: 'classification',
    summary: 'test evaluator',
    options: z.strictObject({}),
    evaluate: ({ labels, predictions }) => ({ accuracy: labels.filter((label, i) => label === predictions[i]).length / labels.length }),
  });
  return createRegistry([dataset, head, engine, evaluator]);
}

const spec = { dataset: { name: 'line' }, head: { name: 'flat' } };

describe('the class-mean baseline of a run', () => {
  it("is core's own rule when the dataset offers no faster route", async () => {
    const outcome = await runExperiment(registry(), spec);
    // Every test row sits on its class mean.
    expect(outcome.baselineMetrics.classification).toEqual({ accuracy: 1 });
  });

  it("comes from the dataset's classMeanPredictions when it has one, given the train split, the test rows and the thread budget", async () => {
    const seen: { rows?: number; trainRows?: number; classes?: number; threads?: number } = {};
    const outcome = await runExperiment(
      registry(async (ctx, train, features, classes) => {
        Object.assign(seen, { rows: features.rows, trainRows: train.labels.length, classes, threads: ctx.threads });
        // Every row one class off: accuracy 0, which core's rule would never give on these data.
        return Int32Array.from({ length: features.rows }, (_, i) => (i + 1) % 4);
      }),
      spec,
      { threads: 3 },
    );
    expect(outcome.baselineMetrics.classification).toEqual({ accuracy: 0 });
    expect(seen).toEqual({ rows: 12, trainRows: 12, classes: 4, threads: 3 });
  });

  it("tags a failure of the dataset's route with the dataset's id", async () => {
    const failing = registry(async () => {
      throw new Error('out of memory');
    });
    await expect(runExperiment(failing, spec)).rejects.toMatchObject({
      pluginId: 'dataset:line',
      message: expect.stringMatching(/out of memory/),
    });
  });
});
