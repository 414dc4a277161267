export {
  DEFAULT_ONNX_DOMAINS,
  INPUT_NAME,
  LABEL_OUTPUT,
  METADATA_KEYS,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  MODEL_OPERATORS,
  RESERVED_NAMES,
  TOPK_LABELS_OUTPUT,
  TOPK_SCORES_OUTPUT,
  type MetadataKey,
} from './contract-names.js';
export {
  ContractErrorCode,
  errorMessage,
  exportAgainHint,
  exportInstructions,
  InvalidFeaturesError,
  checkPredictOptionsObject,
  invalidOptionError,
  ModelAnswersError,
  ModelContractError,
  releasedSessionError,
  type ContractErrorOptions,
  type FeatureProblem,
  type InvalidFeaturesDetail,
} from './contract-error.js';
export { checkOnnxFileStart, MAX_MODEL_BYTES, modelSizeProblem, readOnnxModelInfo, type OnnxModelInfo } from './onnx-model-info.js';
export { checkRunBytes, partsOf, RUN_BYTES, rowsPerRun, runInParts, type PartValues } from './run-in-parts.js';
export {
  classNamesProblem,
  featureNamesProblem,
  MAX_CLASS_NAME_LENGTH,
  MAX_CLASS_NAMES_LENGTH,
  parseClassNames,
  parseFeatureNames,
  readModelMetadata,
  type ModelMetadata,
} from './model-metadata.js';
export {
  MAX_INPUT_WIDTH,
  resolveClassifierInterface,
  valueInfoOf,
  type ClassifierInterface,
  type OrtValueMetadata,
  type ValueInfo,
} from './classifier-interface.js';
export { toFeatureMatrix, type FeatureBatch, type FeatureCheckOptions, type FeatureMatrix } from './feature-batch.js';
export {
  checkClassifierAnswers,
  SELF_CHECK_ROWS,
  selfCheckBatch,
  type AnswerStage,
  type ClassifierAnswers,
  type OutputValues,
} from './classifier-self-check.js';
export { describeValue } from './describe-value.js';
export { describeFileKind, type FileKindInfo } from './file-kind.js';
export { argmaxOfScores, checkTopK, narrowTopK, topKOfScores, type TopK } from './top-k.js';
export {
  checkProviderList,
  startOnFirstProvider,
  type ProviderChoice,
  type ProviderChoiceOptions,
  type ProviderOutcome,
  type SkippedProvider,
} from './provider-choice.js';
export { isDecimalNumber, otherBaseOf, otherBaseProblem } from './decimal-number.js';
