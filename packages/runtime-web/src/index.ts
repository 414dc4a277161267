import * as ort from 'onnxruntime-web';

export {
  createWebClassifier,
  WebClassifier,
  DEFAULT_PROVIDERS,
  metadataValue,
  type CreateWebClassifierOptions,
  type FeatureRows,
  type LogLevel,
  type ModelSource,
  type PredictOptions,
  type ProviderAttempt,
  type WebPrediction,
  type WebProvider,
} from './classifier.js';
export { readModelInfo, type ModelInfo } from './model-info.js';
export { parseFeatureRows, type ParsedRows } from './parse-rows.js';
export { topKRows, type ScoredClass } from './top-k.js';
export { RuntimeWebError, type RuntimeWebErrorCode } from './errors.js';
// The model contract, shared with @hyperproto/runtime-node and the exporter: one definition of each rule.
export {
  InvalidFeaturesError,
  RUN_BYTES,
  toFeatureMatrix,
  type InvalidFeaturesDetail,
  type ModelMetadata,
  type SkippedProvider,
} from './contract.js';

/** onnxruntime-web's global settings (wasm paths and threads, log level), from the same module instance this package uses. */
export const ortEnv: typeof ort.env = ort.env;
