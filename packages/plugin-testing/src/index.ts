export { runConformanceCases, type ConformanceCase, type ConformanceFailure } from './conformance-case.js';
export {
  prototypeStrategyConformance,
  DEFAULT_PROTOTYPE_SIZES,
  UNIT_ROW_TOLERANCE,
  type PrototypeStrategyConformanceOptions,
} from './prototype-strategy-conformance.js';
export { headConformance, type HeadConformanceOptions } from './head-conformance.js';
export { headValues, type HeadValues } from './head-values.js';
export { datasetConformance, type DatasetConformanceOptions } from './dataset-conformance.js';
export { evaluatorConformance, type EvaluatorConformanceOptions } from './evaluator-conformance.js';
export { DEFAULT_TIME_LIMIT_MS } from './plugin-calls.js';
export {
  engineConformance,
  engineTestAccuracy,
  engineTestContext,
  engineTestDataset,
  engineTestHead,
  ENGINE_TEST_TRAINER,
  type BlobsOptions,
  type EngineConformanceOptions,
  type HeadWithOptions,
} from './engine-conformance.js';
