export {
  createSession,
  RUN_BYTES,
  LABEL_OUTPUT,
  TOPK_LABELS_OUTPUT,
  TOPK_SCORES_OUTPUT,
  type FeatureInput,
  type ModelSession,
  type NodePlacement,
  type PredictOptions,
  type Prediction,
  type ProviderAttempt,
  type SessionOptions,
} from './model-session.js';
export { createWorkerSession, type WorkerSessionOptions } from './worker-session.js';
export {
  CUDA_INSTALL_ENV,
  cudaProviderInstalled,
  EXECUTION_PROVIDERS,
  explainCudaFailure,
  isExecutionProvider,
  onnxruntimeNodeLocation,
  SESSION_OPTION_WORDING,
  type ExecutionProvider,
  type ProviderOptionWording,
} from './execution-providers.js';
// The model contract, shared with @hyperproto/runtime-web and the exporter: one definition of each rule.
export {
  errorMessage,
  exportAgainHint,
  InvalidFeaturesError,
  METADATA_KEYS,
  ModelAnswersError,
  ModelContractError,
  narrowTopK,
  readOnnxModelInfo,
  toFeatureMatrix,
  topKOfScores,
  type FeatureCheckOptions,
  type InvalidFeaturesDetail,
  type OnnxModelInfo,
  type TopK,
} from '@hyperproto/model-contract';
