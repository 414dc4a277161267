export { GraphBuilder, attr, DATA_TYPES } from './graph-builder.js';
export type { AttributeValue, DataType, Dim, ModelOptions, NodeOptions, TensorData, TensorValue } from './graph-builder.js';
export { ProtobufWriter } from './protobuf-writer.js';
export {
  broadcastShapes,
  normalizeAxes,
  TracedGraph,
  type FloatType,
  type TapeNode,
  type TracedGraphOptions,
  type Value,
} from './traced-graph.js';
export {
  HEAD_CONSTANT_INITIALIZER_PREFIX,
  HEAD_PARAM_INITIALIZER_PREFIX,
  headConstantValues,
  headParamInitializers,
  lowerHeadExpr,
  type HeadGraphValues,
  type HeadLoweringOptions,
} from './lower-head-expr.js';
