import { tfjsEngine } from './tfjs-engine.js';

export { TFJS_FALLBACK_PRIORITY, tfjsEngine, tfjsEngineOptionsSchema, type TfjsEngineOptions } from './tfjs-engine.js';
export { evaluateHeadExpr, type HeadExprInputs, type Tf } from './evaluate-head-expr.js';
export { parseHeadExpr } from './head-expr-json.js';
export { dropoutMaskValues } from './mlp-network.js';
export { INFERENCE_CHUNK_ROWS } from './mlp-inference.js';
export { createTrainedMlp, type TrainedMlp, type TrainedMlpParts } from './trained-mlp.js';
export { trainMlp, type TfjsHandle } from './train-mlp.js';
export { trainMlpSteps, type GivenBatch, type GivenSteps } from './train-mlp-steps.js';
export type { ClassSampleValues } from './train-mlp.js';
export {
  HEAD_CONSTANT_PREFIX,
  loadModel,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  MODEL_JSON,
  saveModel,
  WEIGHTS_BIN,
  type ManifestWeight,
  type ModelJson,
} from './model-files.js';
export default tfjsEngine;
