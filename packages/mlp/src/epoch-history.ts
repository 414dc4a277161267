import type { EpochRecord, NamedWeight, PluginContext, TrainedModel, TrainerSettings } from '@hyperproto/core';
import type { MlpTrainingResult } from './training-failed-error.js';

export interface KeptEpoch {
  readonly epoch: number;
  readonly accuracy: number;
  readonly loss: number;
  readonly weights: NamedWeight[];
  /** The epoch's predicted labels of the validation split, computed with these weights. */
  readonly validationPredictions?: Int32Array;
}

/**
 * The seed's stopping rule, shared by every engine: each finished epoch is recorded and reported; the best
 * validation accuracy (ties go to the lower validation loss) keeps its weights; training stops after `patience`
 * epochs without a better one, which is logged unless that epoch is the trainer's last (`maxEpochs`) anyway.
 */
export class EpochHistory {
  readonly records: EpochRecord[] = [];
  private kept: KeptEpoch | undefined;
  private epochsWithoutGain = 0;

  constructor(
    private readonly ctx: PluginContext,
    private readonly trainer: Pick<TrainerSettings, 'patience' | 'maxEpochs'>,
  ) {}

  get best(): KeptEpoch | undefined {
    return this.kept;
  }

  /**
   * Adds a finished epoch; `weights` is read only when it is the best so far, and kept with the epoch's validation
   * predictions (made with those weights). True when training should stop.
   */
  async add(
    record: EpochRecord,
    weights: () => NamedWeight[] | Promise<NamedWeight[]>,
    validationPredictions?: Int32Array,
  ): Promise<boolean> {
    this.records.push(record);
    this.ctx.progress?.(
      record.epoch,
      this.trainer.maxEpochs,
      `loss ${record.trainLoss.toFixed(3)} val acc ${record.validationAccuracy.toFixed(3)}`,
    );
    const best = this.kept;
    const { validationAccuracy: accuracy, validationLoss: loss } = record;
    if (!best || accuracy > best.accuracy || (accuracy === best.accuracy && loss < best.loss)) {
      this.kept = {
        epoch: record.epoch,
        accuracy,
        loss,
        weights: await weights(),
        ...(validationPredictions ? { validationPredictions } : {}),
      };
      this.epochsWithoutGain = 0;
      return false;
    }
    if (++this.epochsWithoutGain < this.trainer.patience) return false;
    // At maxEpochs training ends anyway, patience or not: that is no early stop, and it goes unannounced either way.
    if (record.epoch >= this.trainer.maxEpochs) return true;
    this.ctx.log?.(
      `early stopping after epoch ${record.epoch}: no better validation accuracy (or equal accuracy at lower loss) for ${this.trainer.patience} epochs; keeping epoch ${best.epoch}`,
    );
    return true;
  }

  /** The best epoch's model and the history so far; undefined before the first epoch finished. */
  result<M extends TrainedModel>(snapshot: (weights: NamedWeight[]) => M, backend: string): MlpTrainingResult<M> | undefined {
    const best = this.kept;
    return (
      best && {
        model: snapshot(best.weights),
        history: [...this.records],
        bestEpoch: best.epoch,
        backend,
        ...(best.validationPredictions ? { validationPredictions: best.validationPredictions } : {}),
      }
    );
  }
}
