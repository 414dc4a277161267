import { ErrorCode, HyperprotoError, type TrainedModel, type TrainingResult } from '@hyperproto/core';

/** A training run's result with the engine's own model type. */
export interface MlpTrainingResult<M extends TrainedModel = TrainedModel> extends TrainingResult {
  readonly model: M;
}

/**
 * Training stopped because the loss stopped being finite. `partial` is the run up to that point with the model of
 * the best epoch so far (undefined when no epoch finished): it holds plain arrays, so ignoring it leaks nothing.
 * The plugin boundary (callPlugin) tags it with the engine's id in place, so `partial` reaches the caller with it.
 */
export class TrainingFailedError extends HyperprotoError {
  readonly partial: MlpTrainingResult | undefined;

  constructor(message: string, partial: MlpTrainingResult | undefined) {
    super(ErrorCode.TrainingFailed, `${message}; lower the learning rate or check the features for extreme values`, {
      hint: partial
        ? `The error's "partial" result holds the model of epoch ${partial.bestEpoch}, the best before training failed.`
        : 'No epoch finished, so there is no model to keep.',
    });
    this.partial = partial;
  }
}
