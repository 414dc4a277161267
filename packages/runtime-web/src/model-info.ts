import { readOnnxModelInfo, type OnnxModelInfo } from './contract.js';

/** The ModelProto fields that describe a model, read straight from its bytes (onnxruntime-web does not expose them). */
export type ModelInfo = OnnxModelInfo;

/**
 * Reads an ONNX ModelProto's top level and walks its graphs (the model contract's reader, which runtime-node uses
 * too), so that a truncated or non-ONNX file, or one the contract refuses (external tensor data, operators no
 * hyperproto model uses), is reported as such before any execution provider is tried, and is not mistaken for a
 * provider failure.
 */
export function readModelInfo(bytes: Uint8Array, source = 'the model'): ModelInfo {
  return readOnnxModelInfo(bytes, source);
}
