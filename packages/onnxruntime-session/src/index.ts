export { computeSessionOptions, openComputeSession, type ComputeSessionOptions } from './session-options.js';
export { cudaProviderInstalled, onnxruntimeNodeLocation } from './onnxruntime-location.js';
