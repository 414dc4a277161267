import {
  bindHeadParams,
  type DatasetSplit,
  headParamsFromWeights,
  ClassSampler,
  headClassSampleSize,
  type PluginContext,
  type Rng,
  startHeadParams,
  type TrainingJob,
} from '@hyperproto/core';
import { type MlpTrainingDriver, type MlpTrainingResult, type MlpTrainingSetup, runMlpTraining } from '@hyperproto/mlp';
import type { ComputeSessionOptions } from '@hyperproto/onnxruntime-session';
import { DropoutMasks } from './dropout-mask.js';
import type { GradientRules } from './gradient-rules.js';
import { InferenceSession } from './inference-session.js';
import { runOrExplain } from './run-failures.js';
import { createTrainedOnnxMlp, type TrainedOnnxMlp } from './trained-onnx-mlp.js';
import { type PackedBatches, TrainingSession } from './training-session.js';

export type OnnxTrainingResult = MlpTrainingResult<TrainedOnnxMlp>;

export interface OnnxTrainingOptions {
  /** onnxruntime execution providers in order of preference; `['cpu']` by default. */
  readonly executionProviders?: readonly string[];
  /** Gradient rules to differentiate with; the built-in registry by default. */
  readonly rules?: GradientRules;
}

/**
 * How long a run (several batches) should take: long enough to amortise handing the whole state (weights and
 * Adam's moments) in and out (the Scan copies it into the arrays a run returns), short enough for Ctrl-C to get
 * through soon. The target grows with the state: 0.25 s for the seed's 1,000 classes (6 MiB), 5 s at 100,000
 * (360 MiB).
 */
function targetSecondsPerRun(stateBytes: number): number {
  return Math.min(5, Math.max(0.25, (0.02 * stateBytes) / 2 ** 20));
}
const MAX_BATCHES_PER_RUN = 32;
/**
 * Bytes of a run's dropout masks, row indices and labels: wide hidden layers get fewer batches a run, so that what
 * a run is fed (and the next run's masks, drawn ahead) stays small beside the training split.
 */
const MAX_RUN_INPUT_BYTES = 64 * 2 ** 20;
/**
 * With row-sampled parameters a run hands in the rows of every class its batches sample, and each batch's lazy
 * Adam writes its rows back into that whole set (ScatterND copies it: onnxruntime does not scatter in place inside
 * the Scan). A few batches per run keep that set, and so the cost of a step, proportional to the sample rather
 * than to the classes (measured: 32 batches at 100,000 classes and 1,000 per sample cost 1.7x as much per step as 4).
 */
const ROW_SAMPLED_BATCHES_PER_RUN = 4;

/**
 * The batches of the next run, from those of the last and how many fit the time a run should take: doubled while
 * twice as many fit (at most doubling: one quick run on a busy machine must not commit the next to a long one),
 * halved once fewer than three quarters of them fit (a run takes at most a third more than its time), else kept.
 * Runs so keep one size: each new size is a new input shape for onnxruntime, which the thread trial runs on both
 * thread counts. Sized to the time alone, a softmax over 1,000 classes at batch 1,024 ran 3 to 18 batches a run and
 * took 1.44 s an epoch (epochs 2-4, mean of 4 trainings) where runs that keep their size take 1.02 s.
 */
export function nextBatchesPerRun(last: number, fitting: number, largest: number): number {
  if (fitting >= 2 * last) return Math.min(largest, 2 * last);
  if (4 * fitting < 3 * last) return Math.max(1, Math.floor(last / 2));
  return last;
}

/**
 * Trains the seed's MLP with the job's head in onnxruntime: the epoch loop of @hyperproto/mlp (the same shuffled
 * batches, validation, early stopping and kept epoch as the tfjs engine) driving one ONNX model that runs several
 * batches per call. Dropout masks come from the run's 'dropout' stream with the same distribution as tfjs', drawn
 * faster (see fillDropoutMask) and ahead, on a worker thread, while onnxruntime trains (DropoutMasks). Sessions get
 * `ctx.threads` intra-op threads; the training session also tries one and keeps it where it trains faster
 * (`tryOneThread`: the same numbers either way).
 */
export function trainOnnxMlp(ctx: PluginContext, job: TrainingJob, options: OnnxTrainingOptions = {}): Promise<OnnxTrainingResult> {
  const session: ComputeSessionOptions = {
    providers: [...(options.executionProviders ?? ['cpu'])] as ComputeSessionOptions['providers'],
    threads: ctx.threads,
  };
  return runMlpTraining(ctx, job, (setup) =>
    openOnnxTraining(setup, session, options.rules, { headParams: ctx.rng.fork('head-params'), classSample: ctx.rng.fork('class-sample') }),
  );
}

/**
 * The training model and the validation model in onnxruntime sessions: the engine's side of the epoch loop. The
 * head's parameters start from the run's 'head-params' stream and class samples come from its 'class-sample'
 * stream, as on every engine.
 */
async function openOnnxTraining(
  setup: MlpTrainingSetup,
  session: ComputeSessionOptions,
  rules: GradientRules | undefined,
  streams: { readonly headParams: Rng; readonly classSample: Rng },
): Promise<MlpTrainingDriver<TrainedOnnxMlp>> {
  // Per-batch buffers (masks, packed rows, class samples) are sized by the rows a batch has: never more than the split.
  const { dataset, trainer, shape, dropoutRng, batchRows } = setup;
  const head = startHeadParams(setup.head, streams.headParams);
  const classSample = headClassSampleSize(head, dataset.classes, batchRows);
  const sampler = classSample === undefined ? undefined : new ClassSampler(dataset.classes, classSample, streams.classSample);
  const training = await runOrExplain('allocating the network', { ...shape, classes: dataset.classes, rows: batchRows }, () =>
    TrainingSession.create({
      shape,
      head,
      learningRate: trainer.learningRate,
      dropout: trainer.dropout,
      rules,
      weights: setup.initialWeights(),
      session,
      batchSize: batchRows,
      tryOneThread: true,
      ...(classSample === undefined ? {} : { classSample }),
    }),
  );
  let validation: InferenceSession;
  try {
    validation = await InferenceSession.create(shape, head, dataset.classes, session);
  } catch (error) {
    await training.release();
    throw error;
  }
  // Buffers for the largest run this training can ask for, allocated and touched at the first run (page faults on
  // tens of MiB cost tens of milliseconds) rather than grown and first written run by run in later epochs.
  const fullBatches = Math.floor(dataset.train.labels.length / batchRows);
  const maxBatchesPerRun = training.model.rowStates.length ? ROW_SAMPLED_BATCHES_PER_RUN : MAX_BATCHES_PER_RUN;
  const batchInputBytes = 4 * batchRows * (2 + (trainer.dropout > 0 ? trainer.hiddenLayers * trainer.hiddenUnits : 0));
  const largestRun = Math.max(1, Math.min(maxBatchesPerRun, fullBatches, Math.floor(MAX_RUN_INPUT_BYTES / batchInputBytes)));
  const masks =
    trainer.dropout > 0
      ? new DropoutMasks(dropoutRng, trainer.hiddenLayers, trainer.hiddenUnits, batchRows, trainer.dropout, largestRun)
      : undefined;
  const packer = new BatchPacker(largestRun * batchRows);
  const secondsPerRun = targetSecondsPerRun(training.stateBytes);
  let batchesPerRun = 1;
  return {
    backend: `onnxruntime/${String(session.providers?.[0] ?? 'cpu')}`,
    batchesPerStep: () => batchesPerRun,
    async step(run) {
      const packed = packer.pack(dataset.train, run.rows, run.count, run.size, masks, sampler);
      // The next run's masks are drawn on another thread while this one trains.
      masks?.prefetch(batchesPerRun);
      const started = performance.now();
      const results = await training.run(packed);
      const perBatch = (performance.now() - started) / 1000 / run.count;
      batchesPerRun = nextBatchesPerRun(batchesPerRun, Math.round(secondsPerRun / Math.max(perBatch, 1e-6)), largestRun);
      return results;
    },
    // The state's own arrays, not a copy: nothing runs between this and the snapshot.
    evaluate: (split: DatasetSplit) => validation.evaluate(training.currentWeights(), split),
    snapshot: () => training.weights(),
    model: (weights) =>
      createTrainedOnnxMlp({
        inputWidth: dataset.inputWidth,
        classes: dataset.classes,
        trainer,
        // The trained parameters, snapshotted with the weights, become the head's own values.
        head: bindHeadParams(head, headParamsFromWeights(weights)),
        weights,
        session,
      }),
    async release() {
      await masks?.close();
      await training.release();
      await validation.release();
    },
  };
}

/**
 * The batches of one run: their rows' indices into the training split (onnxruntime gathers the features itself),
 * their labels and dropout masks, and class samples when sampling, in buffers reused from run to run.
 */
class BatchPacker {
  private labels = new Int32Array(0);
  private sampledClasses = new Int32Array(0);
  private sampledLabels = new Int32Array(0);

  constructor(
    /** Rows of the largest run expected. */
    private readonly capacity: number,
  ) {}

  /**
   * `count` batches of `size` rows, the rows of `split` listed in `order`, with the next masks of `masks` (none
   * without dropout) and each batch's class sample when sampling.
   */
  pack(
    split: DatasetSplit,
    order: Int32Array,
    count: number,
    size: number,
    masks: DropoutMasks | undefined,
    sampler?: ClassSampler,
  ): PackedBatches {
    const rows = count * size;
    if (this.labels.length < rows) this.labels = new Int32Array(Math.max(rows, this.capacity));
    const labels = this.labels.subarray(0, rows);
    for (let i = 0; i < rows; i++) labels[i] = split.labels[order[i]!]!;
    const batches = { count, rows: size, features: split.features.data, featureRows: order.subarray(0, rows), labels };
    const dropoutMasks = masks ? masks.take(count, size) : [];
    if (!sampler) return { ...batches, dropoutMasks };
    if (this.sampledLabels.length < rows) this.sampledLabels = new Int32Array(this.labels.length);
    if (this.sampledClasses.length < count * sampler.size) {
      this.sampledClasses = new Int32Array(Math.ceil(this.labels.length / size) * sampler.size);
    }
    const sample = { classes: this.sampledClasses.subarray(0, count * sampler.size), labels: this.sampledLabels.subarray(0, rows) };
    for (let k = 0; k < count; k++) {
      sampler.draw(labels.subarray(k * size, (k + 1) * size), sample.classes, sample.labels, k * sampler.size, k * size);
    }
    return { ...batches, dropoutMasks, sample };
  }
}
