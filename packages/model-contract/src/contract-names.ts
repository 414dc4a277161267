/**
 * The names every exported model uses. `@hyperproto/onnx` writes them and the runtimes read them, so each is
 * defined once, here.
 */

/** The one input: float32 [N, inputWidth]. */
export const INPUT_NAME = 'features';
/** int64 [N]: the argmax of the scores. */
export const LABEL_OUTPUT = 'label';
/** float32 [N, K], best first; present when the model was exported with top-k. */
export const TOPK_SCORES_OUTPUT = 'topk_scores';
/** int64 [N, K], the classes of `topk_scores`. */
export const TOPK_LABELS_OUTPUT = 'topk_labels';
/** Names that a head's score output may not take. */
export const RESERVED_NAMES: readonly string[] = [INPUT_NAME, LABEL_OUTPUT, TOPK_SCORES_OUTPUT, TOPK_LABELS_OUTPUT];

/** Marks a file as a hyperproto classifier (metadata `format`). */
export const MODEL_FORMAT = 'hyperproto-classifier';
/** The newest `formatVersion` this contract describes; a newer file is refused with a hint to upgrade. */
export const MODEL_FORMAT_VERSION = 1;

/** Keys of the ONNX `metadata_props` the exporter writes. Keys are exact: case and spelling matter. */
export const METADATA_KEYS = {
  format: 'format',
  formatVersion: 'formatVersion',
  /** The head plugin's name, e.g. `softmax`, `hpn`. */
  head: 'head',
  /** The prototype strategy's name, for heads with prototypes. */
  strategy: 'strategy',
  classes: 'classes',
  /** Width of the head's output (C for softmax, the prototype dimension D for HPNs). */
  dims: 'dims',
  inputWidth: 'inputWidth',
  /** The input's name (`features`). */
  input: 'input',
  /** The head's score output, e.g. `probabilities` (softmax) or `scores` (HPN cosines). */
  scoresName: 'scoresName',
  hiddenUnits: 'hiddenUnits',
  hiddenLayers: 'hiddenLayers',
  producer: 'producer',
  producerVersion: 'producerVersion',
  /** K of the `topk_*` outputs, when the file has them. */
  topK: 'topK',
  /** A JSON array of one name per class. */
  classNames: 'classNames',
  seed: 'seed',
  dataset: 'dataset',
  /**
   * A JSON array of one name per input feature, in input order: the column names of the training data's CSV
   * header (label column left out), so that a runtime can check a named input's columns against them.
   */
  featureNames: 'featureNames',
  /** The name of the column (or JSON-lines key) that held the labels in the training data. */
  labelColumn: 'labelColumn',
} as const;
export type MetadataKey = (typeof METADATA_KEYS)[keyof typeof METADATA_KEYS];

/**
 * The ONNX operators an exported model may use, all of the default (ai.onnx) domain: every operator
 * @hyperproto/onnx can write. The trunk is Gemm and Relu; the head's score expression is whatever
 * @hyperproto/onnx-graph lowers an expression of the head language to (Add, Sub, Mul, Div, Neg, Exp, Log, Pow, Gemm,
 * ReduceSum, ReduceMean, Max, Sqrt, Reciprocal, Softmax, LogSoftmax, Gather, GatherElements, Squeeze, Unsqueeze,
 * Cast, Equal, and Identity to name a result); then ArgMax for the label and TopK for the top-k outputs. None of
 * them loops or branches, and each output's shape follows from its inputs' shapes and constant axes (TopK's k is at
 * most the size of the axis it ranks). That alone does not bound what a file costs (an Add of initializers [N, 1]
 * and [1, M] makes N x M values of N + M weights), so readOnnxModelInfo also works out every tensor's shape and
 * refuses a file in which one holds more values (per row of the batch) than its weights and input width allow
 * (checkShapeBounds). The runtimes refuse a file with any other operator; @hyperproto/onnx's tests check that the
 * exporter and the lowering write exactly these, and that every exported model passes the shape check.
 */
export const MODEL_OPERATORS: readonly string[] = [
  'Add',
  'ArgMax',
  'Cast',
  'Div',
  'Equal',
  'Exp',
  'Gather',
  'GatherElements',
  'Gemm',
  'Identity',
  'Log',
  'LogSoftmax',
  'Max',
  'Mul',
  'Neg',
  'Pow',
  'Reciprocal',
  'ReduceMean',
  'ReduceSum',
  'Relu',
  'Softmax',
  'Sqrt',
  'Squeeze',
  'Sub',
  'TopK',
  'Unsqueeze',
];

/** The names of the default ONNX operator domain (ai.onnx): the only one a model's nodes and opset imports may name. */
export const DEFAULT_ONNX_DOMAINS: readonly string[] = ['', 'ai.onnx'];
