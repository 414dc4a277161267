export {
  DEFAULT_BATCH_NORM_EPSILON,
  DEFAULT_OPSET,
  exportOnnx,
  irVersionFor,
  ONNX_INPUT,
  ONNX_LABEL_OUTPUT,
  ONNX_MODEL_FORMAT,
  ONNX_MODEL_FORMAT_VERSION,
  ONNX_TOPK_LABELS_OUTPUT,
  ONNX_TOPK_SCORES_OUTPUT,
  type ExportableModel,
  type ExportMetadata,
  type OnnxExportOptions,
} from './export-onnx.js';
export { foldBatchNorm, type BatchNorm, type DenseLayer } from './fold-batch-norm.js';
