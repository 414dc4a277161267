import {
  createMatrix,
  createRng,
  type Dataset,
  type DatasetSplit,
  type EpochRecord,
  ErrorCode,
  h,
  type NamedWeight,
  type TrainedModel,
} from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import {
  type BatchRun,
  initialMlpWeights,
  type MlpTrainingDriver,
  type MlpTrainingSetup,
  runMlpTraining,
  type TrainerSettings,
  TrainingFailedError,
} from './index.js';

const ROWS = 10;
const split = (rows: number): DatasetSplit => ({
  features: createMatrix(
    rows,
    3,
    Float32Array.from({ length: rows * 3 }, (_, i) => i % 7),
  ),
  labels: Int32Array.from({ length: rows }, (_, i) => i % 2),
});
const dataset: Dataset = { classes: 2, inputWidth: 3, train: split(ROWS), validation: split(4), test: split(4), info: {} };
const head = { outputUnits: 2, loss: h.mean(h.output()), scores: h.output(), scoresName: 'scores', constants: {} };
const trainer: TrainerSettings = {
  hiddenUnits: 4,
  hiddenLayers: 1,
  dropout: 0,
  batchSize: 4,
  learningRate: 0.01,
  patience: 2,
  maxEpochs: 6,
};

interface Script {
  /** Validation accuracy after each epoch. */
  readonly accuracies: readonly number[];
  /** Test accuracy after each epoch (when the loop asks for it). */
  readonly testAccuracies?: readonly number[];
  /** A loss for a batch; 0.5 unless given. */
  readonly loss?: (epoch: number, batch: number) => number;
  readonly statistic?: (epoch: number, batch: number) => number;
  readonly batchesPerStep?: number;
}

/** A driver whose weights are one number, the epoch count, so the kept model says which epoch it came from. */
function scriptedDriver(script: Script) {
  const runs: BatchRun[] = [];
  const evaluations: string[] = [];
  /** The validation labels each epoch's evaluation returned. */
  const validationLabels: Int32Array[] = [];
  let epoch = 0;
  let released = 0;
  let setup: MlpTrainingSetup | undefined;
  const weights = (): NamedWeight[] => [{ name: 'epoch', shape: [1], data: Float32Array.of(epoch) }];
  const open = (given: MlpTrainingSetup): MlpTrainingDriver<TrainedModel & { readonly epoch: number }> => {
    setup = given;
    return {
      backend: 'script/cpu',
      ...(script.batchesPerStep ? { batchesPerStep: () => script.batchesPerStep! } : {}),
      async step(run) {
        runs.push({ ...run, rows: run.rows.slice() });
        const batches = Array.from({ length: run.count }, (_, k) => run.firstBatch + k);
        return {
          losses: batches.map((b) => script.loss?.(run.epoch, b) ?? 0.5),
          statistics: batches.map((b) => script.statistic?.(run.epoch, b) ?? 1),
        };
      },
      async evaluate(evaluated) {
        // Every row predicted as class 0: on the alternating labels, macro-F1 (2/3 + 0) / 2 = 1/3.
        const predictions = new Int32Array(evaluated.labels.length);
        if (evaluated === dataset.test) {
          evaluations.push('test');
          return { loss: 100 - epoch, accuracy: script.testAccuracies![epoch - 1]!, predictions };
        }
        expect(evaluated).toBe(dataset.validation);
        evaluations.push('validation');
        validationLabels.push(predictions);
        epoch += 1;
        // The validation loss grows: a tie in accuracy is never a gain.
        return { loss: epoch, accuracy: script.accuracies[epoch - 1]!, predictions };
      },
      snapshot: weights,
      model: (kept) => ({
        ...({} as TrainedModel),
        weights: kept,
        epoch: kept[0]!.data[0]!,
      }),
      release() {
        released += 1;
      },
    };
  };
  return { open, runs, evaluations, validationLabels, released: () => released, setup: () => setup };
}

const ctx = (seed = 3, signal?: AbortSignal) => ({ seed, rng: createRng(seed), ...(signal ? { signal } : {}) });

describe('runMlpTraining (the epoch loop every engine drives)', () => {
  it('hands the engine the checked settings, the shared starting weights and the dropout stream', async () => {
    const driver = scriptedDriver({ accuracies: [0.5] });
    await runMlpTraining(ctx(3), { dataset, head, trainer: { ...trainer, maxEpochs: 1 } }, driver.open);
    const setup = driver.setup()!;
    expect(setup.shape).toEqual({ inputWidth: 3, hiddenUnits: 4, hiddenLayers: 1, outputUnits: 2 });
    expect(setup.initialWeights()).toEqual(initialMlpWeights(setup.shape, createRng(3).fork('weights')));
    expect(setup.dropoutRng.uint32()).toBe(createRng(3).fork('dropout').uint32());
  });

  it('steps through every training row once an epoch, in the seeded order, the short last batch alone', async () => {
    const driver = scriptedDriver({ accuracies: [0.5, 0.6], batchesPerStep: 3 });
    const result = await runMlpTraining(ctx(3), { dataset, head, trainer: { ...trainer, maxEpochs: 2 } }, driver.open);
    // 10 rows in batches of 4: two full batches in one step (the engine takes up to 3), then 2 rows alone.
    expect(driver.runs.map((r) => [r.epoch, r.firstBatch, r.count, r.size])).toEqual([
      [1, 0, 2, 4],
      [1, 2, 1, 2],
      [2, 0, 2, 4],
      [2, 2, 1, 2],
    ]);
    const order = createRng(3).fork('batch-order');
    for (const epoch of [1, 2]) {
      const expected = order.shuffle(Int32Array.from({ length: ROWS }, (_, i) => i));
      const seen = driver.runs.filter((r) => r.epoch === epoch).flatMap((r) => [...r.rows]);
      expect(seen).toEqual([...expected]);
    }
    expect(result.history.map((r) => [r.epoch, r.trainLoss, r.validationAccuracy])).toEqual([
      [1, 0.5, 0.5],
      [2, 0.5, 0.6],
    ]);
    expect(result.backend).toBe('script/cpu');
    expect(driver.released()).toBe(1);
  });

  it('weights the training loss by batch size and stops after `patience` epochs without gain, keeping the best', async () => {
    const driver = scriptedDriver({ accuracies: [0.5, 0.8, 0.7, 0.8, 0.9], loss: (epoch, batch) => (batch === 2 ? 2 : epoch) });
    const result = await runMlpTraining(ctx(), { dataset, head, trainer }, driver.open);
    // Best at epoch 2; epochs 3 and 4 are no better (4 ties at a higher loss): patience 2 stops after epoch 4.
    expect(result.history).toHaveLength(4);
    expect(result.bestEpoch).toBe(2);
    expect(result.model.epoch).toBe(2);
    // The kept epoch's own validation labels (the same array), not the last epoch's.
    expect(driver.validationLabels).toHaveLength(4);
    expect(result.validationPredictions).toBe(driver.validationLabels[1]);
    // Epoch 1: 8 rows at loss 1 and 2 rows at loss 2.
    expect(result.history[0]!.trainLoss).toBeCloseTo((8 * 1 + 2 * 2) / 10, 12);
    expect(driver.released()).toBe(1);
  });

  it("records every epoch's validation macro-F1, and the test split's scores only with traceTest", async () => {
    const plain = scriptedDriver({ accuracies: [0.5, 0.6] });
    const result = await runMlpTraining(ctx(), { dataset, head, trainer: { ...trainer, maxEpochs: 2 } }, plain.open);
    expect(result.history.map((r) => r.validationMacroF1)).toEqual([1 / 3, 1 / 3]);
    expect(result.history.every((r) => !('testAccuracy' in r) && !('testMacroF1' in r) && !('testLoss' in r))).toBe(true);
    expect(plain.evaluations).toEqual(['validation', 'validation']);

    const traced = scriptedDriver({ accuracies: [0.5, 0.6], testAccuracies: [0.25, 0.75] });
    const withTest = await runMlpTraining(ctx(), { dataset, head, trainer: { ...trainer, maxEpochs: 2, traceTest: true } }, traced.open);
    expect(withTest.history.map((r) => [r.testLoss, r.testAccuracy, r.testMacroF1])).toEqual([
      [99, 0.25, 1 / 3],
      [98, 0.75, 1 / 3],
    ]);
    expect(withTest.history.every((r) => typeof r.testSeconds === 'number' && r.testSeconds >= 0)).toBe(true);
    expect(traced.evaluations).toEqual(['validation', 'test', 'validation', 'test']);
  });

  it('keeps the same epoch and weights with and without the test trace, however the test scores move', async () => {
    // The test split peaks at epoch 4, where validation is no better than epoch 2: only validation may decide.
    const script = { accuracies: [0.5, 0.8, 0.7, 0.8, 0.9], testAccuracies: [0.1, 0.2, 0.3, 0.99, 0.5] };
    const without = await runMlpTraining(ctx(), { dataset, head, trainer }, scriptedDriver(script).open);
    const traced = await runMlpTraining(ctx(), { dataset, head, trainer: { ...trainer, traceTest: true } }, scriptedDriver(script).open);
    expect(traced.bestEpoch).toBe(2);
    expect(traced.bestEpoch).toBe(without.bestEpoch);
    expect(traced.model.epoch).toBe(without.model.epoch);
    expect(traced.model.weights).toEqual(without.model.weights);
    expect(traced.history).toHaveLength(without.history.length);
    const validationOnly = (r: EpochRecord) => [r.epoch, r.trainLoss, r.validationLoss, r.validationAccuracy, r.validationMacroF1];
    expect(traced.history.map(validationOnly)).toEqual(without.history.map(validationOnly));
    expect(traced.history.map((r) => r.testAccuracy)).toEqual([0.1, 0.2, 0.3, 0.99]);
  });

  it('refuses a broken test split before the engine starts, only when the test trace reads it', async () => {
    const broken = { ...dataset, test: { ...dataset.test, labels: Int32Array.of(0, 1, 2, 0) } };
    const refused = scriptedDriver({ accuracies: [0.5] });
    await expect(
      runMlpTraining(ctx(), { dataset: broken, head, trainer: { ...trainer, maxEpochs: 1, traceTest: true } }, refused.open),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/^test split/) });
    expect(refused.setup()).toBeUndefined();
    const untraced = await runMlpTraining(
      ctx(),
      { dataset: broken, head, trainer: { ...trainer, maxEpochs: 1 } },
      scriptedDriver({ accuracies: [0.5] }).open,
    );
    expect(untraced.history).toHaveLength(1);
  });

  it('fails on a non-finite loss or batch statistic with the best model so far, naming epoch and batch', async () => {
    const nan = scriptedDriver({ accuracies: [0.5, 0.6], loss: (epoch, batch) => (epoch === 2 && batch === 1 ? Number.NaN : 0.5) });
    const error = await runMlpTraining(ctx(), { dataset, head, trainer }, nan.open).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingFailedError);
    expect(error).toMatchObject({
      code: ErrorCode.TrainingFailed,
      message: 'training loss became NaN at epoch 2, batch 2; lower the learning rate or check the features for extreme values',
      hint: expect.stringContaining('model of epoch 1'),
    });
    expect((error as TrainingFailedError).partial).toMatchObject({ bestEpoch: 1, backend: 'script/cpu', model: { epoch: 1 } });
    expect((error as TrainingFailedError).partial!.validationPredictions).toBe(nan.validationLabels[0]);
    expect(nan.released()).toBe(1);

    const overflow = scriptedDriver({ accuracies: [], statistic: () => Number.POSITIVE_INFINITY });
    const first = await runMlpTraining(ctx(), { dataset, head, trainer }, overflow.open).catch((e: unknown) => e);
    expect(first).toMatchObject({
      message: expect.stringMatching(/^batch normalization statistics overflowed at epoch 1, batch 1;/),
      hint: 'No epoch finished, so there is no model to keep.',
      partial: undefined,
    });
  });

  it('refuses a bad job before the engine starts, and stops between steps once aborted', async () => {
    const refused = scriptedDriver({ accuracies: [] });
    await expect(runMlpTraining(ctx(), { dataset, head, trainer: { ...trainer, batchSize: 0 } }, refused.open)).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringMatching(/^trainer settings: batchSize/),
    });
    expect(refused.setup()).toBeUndefined();

    const controller = new AbortController();
    const aborted = scriptedDriver({ accuracies: [0.5, 0.6, 0.7], loss: (epoch) => (epoch === 2 && controller.abort(), 0.5) });
    await expect(runMlpTraining(ctx(3, controller.signal), { dataset, head, trainer }, aborted.open)).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
    expect(aborted.runs.filter((r) => r.epoch === 2)).toHaveLength(1);
    expect(aborted.released()).toBe(1);
  });
});
