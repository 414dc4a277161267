export {
  BATCH_NORM_EPSILON,
  BATCH_NORM_MOMENTUM,
  mlpLayerList,
  mlpLayers,
  mlpLayersFromList,
  mlpShape,
  mlpWeightSpecs,
  type HeadLayer,
  type HiddenLayer,
  type MlpLayers,
  type MlpShape,
  type WeightSpec,
} from './mlp-layers.js';
export { initialMlpWeights, mlpWeightsByRole, orderedMlpWeights } from './mlp-weights.js';
export {
  createTrainedMlpModel,
  MAX_PREDICT_SCORES,
  type MlpInference,
  type MlpNetwork,
  type TrainedMlp,
  type TrainedMlpParts,
} from './trained-mlp.js';
export { ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON, checkTrainingJob, TrainerSettingsSchema, type TrainerSettings } from './trainer-settings.js';
export { EpochHistory, type KeptEpoch } from './epoch-history.js';
export { TrainingFailedError, type MlpTrainingResult } from './training-failed-error.js';
export {
  runMlpTraining,
  type BatchResults,
  type BatchRun,
  type MlpTrainingDriver,
  type MlpTrainingSetup,
  type SplitScores,
} from './training-loop.js';
