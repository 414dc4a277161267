import {
  checkDatasetSplit,
  ErrorCode,
  firstNonFinite,
  formatIssues,
  HyperprotoError,
  missingHeadConstantProblem,
  type TrainerSettings,
  TrainerSettingsSchema,
  type TrainingJob,
} from '@hyperproto/core';

// The trainer's settings are part of every experiment spec, so their schema and type live in @hyperproto/core
// (spec.ts) and are re-exported here: core must not depend on this package.
export { TrainerSettingsSchema, type TrainerSettings } from '@hyperproto/core';

/** Adam as in Keras: the seed trained with Keras' Adam at its default betas and epsilon. */
export const ADAM_BETA1 = 0.9;
export const ADAM_BETA2 = 0.999;
export const ADAM_EPSILON = 1e-7;

/** Everything that can reject a training job, checked before an engine allocates anything; the parsed settings. */
export function checkTrainingJob(job: TrainingJob): TrainerSettings {
  const parsed = TrainerSettingsSchema.safeParse(job.trainer);
  if (!parsed.success) throw new HyperprotoError(ErrorCode.InvalidOptions, `trainer settings: ${formatIssues(parsed.error.issues)}`);
  const { dataset, head } = job;
  checkDatasetSplit(dataset.train, 'train', dataset.inputWidth, dataset.classes);
  checkDatasetSplit(dataset.validation, 'validation', dataset.inputWidth, dataset.classes);
  if (parsed.data.traceTest) checkDatasetSplit(dataset.test, 'test', dataset.inputWidth, dataset.classes);
  if (!Number.isInteger(head.outputUnits) || head.outputUnits < 1) {
    throw new HyperprotoError(ErrorCode.InvalidInput, `the head asks for ${head.outputUnits} output units; it needs a positive integer`);
  }
  const missingConstant = missingHeadConstantProblem(head);
  if (missingConstant) throw new HyperprotoError(ErrorCode.InvalidInput, `the head's ${missingConstant}`);
  for (const [name, matrix] of Object.entries(head.constants)) {
    if (matrix.data.length !== matrix.rows * matrix.cols || firstNonFinite(matrix.data) >= 0) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `head constant "${name}" is not a finite ${matrix.rows} x ${matrix.cols} matrix`);
    }
  }
  return parsed.data;
}
