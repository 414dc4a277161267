import {
  batchRows,
  classificationMetrics,
  type DatasetSplit,
  type EpochRecord,
  type NamedWeight,
  type PluginContext,
  type Rng,
  throwIfAborted,
  type TrainedModel,
  type TrainerSettings,
  type TrainingJob,
} from '@hyperproto/core';
import { EpochHistory } from './epoch-history.js';
import { type MlpShape, mlpShape } from './mlp-layers.js';
import { initialMlpWeights } from './mlp-weights.js';
import { checkTrainingJob } from './trainer-settings.js';
import { type MlpTrainingResult, TrainingFailedError } from './training-failed-error.js';

/** What an engine is given to start training: the checked job, the network and where its randomness comes from. */
export interface MlpTrainingSetup extends TrainingJob {
  /** The job's settings, checked and with defaults filled. */
  readonly trainer: TrainerSettings;
  readonly shape: MlpShape;
  /**
   * Rows of the largest batch: `trainer.batchSize`, or the whole training split where that is smaller (one batch
   * of the split, as Keras' `fit`). What an engine sizes its per-batch buffers by.
   */
  readonly batchRows: number;
  /**
   * Draws the starting weights from the 'weights' fork of the run's generator: the same for every engine. A
   * function, so that an engine can draw them where it explains allocation failures (a network too large).
   */
  readonly initialWeights: () => NamedWeight[];
  /** The 'dropout' fork of the run's generator; each engine draws its masks from it in its own way. */
  readonly dropoutRng: Rng;
}

/** Consecutive mini-batches of one size, for one step of the engine. */
export interface BatchRun {
  /** 1-based. */
  readonly epoch: number;
  /** 0-based position of the run's first batch within the epoch. */
  readonly firstBatch: number;
  /** Batches in the run. */
  readonly count: number;
  /** Rows per batch. */
  readonly size: number;
  /** `count * size` row indices into the training split, batch after batch. */
  readonly rows: Int32Array;
}

export interface BatchResults {
  /** Each batch's loss. */
  readonly losses: ArrayLike<number>;
  /** Each batch's sum of batch norm means and variances: not finite when the activations overflowed. */
  readonly statistics: ArrayLike<number>;
}

/** What an engine's evaluation of one split gives. */
export interface SplitScores {
  readonly loss: number;
  readonly accuracy: number;
  /** The predicted class of each row, in the split's order (macro-F1 is computed from them). */
  readonly predictions: Int32Array;
}

/** The part of training that is an engine's own: its steps, its evaluation and its weights. */
export interface MlpTrainingDriver<M extends TrainedModel> {
  /** Reported as the run's backend, e.g. `tfjs/wasm`. */
  readonly backend: string;
  /** Full batches the next step may take at once (an engine that amortises a call over several); 1 when absent. */
  batchesPerStep?(): number;
  /** One optimiser step per batch of the run, in order (Adam, then the batch norm moving averages). */
  step(run: BatchRun): Promise<BatchResults>;
  /**
   * The head's loss, the accuracy of the predicted labels and the labels themselves over a split, in inference mode.
   * The labels must be exactly those the trained model of the current weights predicts (`model(snapshot())`):
   * the validation split's labels of the kept epoch are returned as the result's `validationPredictions`.
   */
  evaluate(split: DatasetSplit): Promise<SplitScores>;
  /** A copy of the current weights, in the network's order. */
  snapshot(): NamedWeight[] | Promise<NamedWeight[]>;
  /** A trained model of these weights that outlives the driver. */
  model(weights: readonly NamedWeight[]): M;
  /** Frees what the engine holds; called once, however training ends. */
  release(): void | Promise<void>;
}

/** Timers and signal handlers get a turn about this often: on tfjs' wasm and cpu backends a step never waits. */
const YIELD_EVERY_MS = 100;

/**
 * The seed's training, the same for every engine: the job checked before anything is allocated, the starting
 * weights, then per epoch the training rows shuffled (the 'batch-order' fork), mini-batches in that order (a short
 * last batch on its own), validation (loss, accuracy, macro-F1), with `traceTest` the same scores on the test split
 * (recorded, never used to stop or to choose), progress and the stopping rule of {@link EpochHistory}; the best
 * epoch's weights are returned. A non-finite loss or batch statistic stops training with {@link TrainingFailedError}
 * carrying the best model so far; an aborted signal stops it between steps. `open` starts the engine's side.
 */
export async function runMlpTraining<M extends TrainedModel>(
  ctx: PluginContext,
  job: TrainingJob,
  open: (setup: MlpTrainingSetup) => MlpTrainingDriver<M> | Promise<MlpTrainingDriver<M>>,
): Promise<MlpTrainingResult<M>> {
  const trainer = checkTrainingJob(job);
  const { dataset } = job;
  const shape = mlpShape(dataset.inputWidth, trainer, job.head);
  const rows = dataset.train.labels.length;
  const rowsPerBatch = batchRows(trainer.batchSize, rows);
  const orderRng = ctx.rng.fork('batch-order');
  const driver = await open({
    ...job,
    trainer,
    shape,
    batchRows: rowsPerBatch,
    initialWeights: () => initialMlpWeights(shape, ctx.rng.fork('weights')),
    dropoutRng: ctx.rng.fork('dropout'),
  });
  const epochs = new EpochHistory(ctx, trainer);
  const fail = (what: string): never => {
    throw new TrainingFailedError(
      what,
      epochs.result((weights) => driver.model(weights), driver.backend),
    );
  };
  let lastYield = performance.now();
  const letEventsIn = async () => {
    if (performance.now() - lastYield >= YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
    throwIfAborted(ctx.signal);
  };

  try {
    const order = new Int32Array(rows);
    const fullBatches = Math.floor(rows / rowsPerBatch);
    const totalBatches = Math.ceil(rows / rowsPerBatch);
    for (let epoch = 1; epoch <= trainer.maxEpochs; epoch++) {
      const started = performance.now();
      for (let i = 0; i < rows; i++) order[i] = i;
      orderRng.shuffle(order);
      let lossSum = 0;
      for (let batch = 0; batch < totalBatches; ) {
        await letEventsIn();
        // Batches of one step share their size: full batches together, the short last one alone.
        const count = batch < fullBatches ? Math.max(1, Math.min(driver.batchesPerStep?.() ?? 1, fullBatches - batch)) : 1;
        const size = Math.min(rowsPerBatch, rows - batch * rowsPerBatch);
        const start = batch * rowsPerBatch;
        const { losses, statistics } = await driver.step({
          epoch,
          firstBatch: batch,
          count,
          size,
          rows: order.subarray(start, start + count * size),
        });
        for (let k = 0; k < count; k++) {
          const value = losses[k]!;
          if (!Number.isFinite(value)) fail(`training loss became ${value} at epoch ${epoch}, batch ${batch + k + 1}`);
          // Batch norm absorbs overflowing activations (an infinite variance scales them to 0) and would go on
          // training a network that outputs a constant; that is a failure too.
          if (!Number.isFinite(statistics[k]!)) fail(`batch normalization statistics overflowed at epoch ${epoch}, batch ${batch + k + 1}`);
          lossSum += value * size;
        }
        batch += count;
      }
      await letEventsIn();
      const scored = await driver.evaluate(dataset.validation);
      if (!Number.isFinite(scored.loss)) fail(`validation loss became ${scored.loss} at epoch ${epoch}`);
      const seconds = (performance.now() - started) / 1000;
      const record: EpochRecord = {
        epoch,
        trainLoss: lossSum / rows,
        validationLoss: scored.loss,
        validationAccuracy: scored.accuracy,
        validationMacroF1: macroF1(dataset.validation, scored.predictions, dataset.classes),
        seconds,
        // The test scores are logged only: the record's validation fields alone decide stopping and the kept epoch.
        ...(trainer.traceTest ? await testTrace(driver, dataset) : {}),
      };
      // The kept epoch's validation labels come with its weights: the trained model's own predictions of the split.
      if (await epochs.add(record, () => driver.snapshot(), scored.predictions)) break;
    }
  } finally {
    await driver.release();
  }
  // maxEpochs >= 1 and every epoch either records a best or throws, so there is a result here.
  return epochs.result((weights) => driver.model(weights), driver.backend)!;
}

/** Macro-F1 of an engine's predictions on a split: the classification evaluator's own count (core's classificationMetrics). */
function macroF1(split: DatasetSplit, predictions: Int32Array, classes: number): number {
  return classificationMetrics(classes, split.labels, predictions, { perClass: false }).macroF1;
}

/** The test split scored with the current weights, for the history only. */
async function testTrace(
  driver: Pick<MlpTrainingDriver<TrainedModel>, 'evaluate'>,
  dataset: TrainingJob['dataset'],
): Promise<Pick<EpochRecord, 'testLoss' | 'testAccuracy' | 'testMacroF1' | 'testSeconds'>> {
  const started = performance.now();
  const scored = await driver.evaluate(dataset.test);
  return {
    testLoss: scored.loss,
    testAccuracy: scored.accuracy,
    testMacroF1: macroF1(dataset.test, scored.predictions, dataset.classes),
    testSeconds: (performance.now() - started) / 1000,
  };
}
