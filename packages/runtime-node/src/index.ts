export {
  createSession,
  LABEL_OUTPUT,
  TOPK_LABELS_OUTPUT,
  TOPK_SCORES_OUTPUT,
  type ModelSession,
  type NodePlacement,
  type PredictOptions,
  type Prediction,
  type ProviderAttempt,
  type SessionOptions,
} from './model-session.js';
export {
  CUDA_INSTALL_ENV,
  cudaProviderInstalled,
  EXECUTION_PROVIDERS,
  explainCudaFailure,
  isExecutionProvider,
  onnxruntimeNodeLocation,
  type ExecutionProvider,
} from './execution-providers.js';
export { InvalidFeaturesError, toFeatureMatrix, type FeatureCheckOptions, type FeatureInput, type InvalidFeaturesDetail } from './feature-rows.js';
export { readOnnxModelInfo, type OnnxModelInfo } from './onnx-model-info.js';
export { narrowTopK, topKOfScores, type TopK } from './top-k.js';
