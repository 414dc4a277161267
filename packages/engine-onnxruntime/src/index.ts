import { onnxruntimeEngine } from './onnxruntime-engine.js';

export {
  chooseProvider,
  onnxruntimeEngine,
  onnxruntimeEngineOptionsSchema,
  ONNXRUNTIME_ENGINE_PRIORITY,
  type OnnxruntimeEngineOptions,
} from './onnxruntime-engine.js';
export { trainOnnxMlp, type OnnxTrainingOptions, type OnnxTrainingResult } from './train-onnx-mlp.js';
export { createTrainedOnnxMlp, type TrainedOnnxMlp, type TrainedOnnxMlpParts } from './trained-onnx-mlp.js';
export { type PackedBatches, type ThreadRuns, type ThreadSide, TrainingSession, type TrainingSessionSpec } from './training-session.js';
export { InferenceSession, inferenceChunkRows } from './inference-session.js';
export {
  buildTrainingStepModel,
  OPSET,
  TRAINING_NODE_PREFIXES,
  type StatePlacement,
  type TrainingStepModel,
  type TrainingStepSpec,
} from './training-step-graph.js';
export { buildInferenceModel, type InferenceModel } from './inference-graph.js';
export { builtinGradientRules, sumToShape, type GradientRule, type GradientRuleInput, type GradientRules } from './gradient-rules.js';
export { differentiableNodes, emitGradients } from './reverse-mode.js';
export { fillDropoutMask } from './dropout-mask.js';
export { explainRunFailure } from './run-failures.js';
export default onnxruntimeEngine;
