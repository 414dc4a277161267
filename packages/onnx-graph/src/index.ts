export { GraphBuilder, attr, DATA_TYPES } from './graph-builder.js';
export type { AttributeValue, DataType, Dim, ModelOptions, NodeOptions, TensorData, TensorValue } from './graph-builder.js';
export { ProtobufWriter } from './protobuf-writer.js';
