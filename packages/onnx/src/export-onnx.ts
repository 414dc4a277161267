import { createRequire } from 'node:module';
import { ErrorCode, firstNonFinite, HyperprotoError, type HeadDefinition, type NamedWeight, type TrainerSettings } from '@hyperproto/core';
import { BATCH_NORM_EPSILON, mlpShape, mlpWeightsByRole } from '@hyperproto/mlp';
import {
  classNamesProblem,
  featureNamesProblem,
  INPUT_NAME,
  LABEL_OUTPUT,
  MAX_INPUT_WIDTH,
  METADATA_KEYS,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  ModelContractError,
  RESERVED_NAMES,
  readOnnxModelInfo,
  TOPK_LABELS_OUTPUT,
  TOPK_SCORES_OUTPUT,
} from '@hyperproto/model-contract';
import { GraphBuilder, headConstantValues, headParamInitializers, lowerHeadExpr, TracedGraph } from '@hyperproto/onnx-graph';
import { foldBatchNorm } from './fold-batch-norm.js';

/** The interface of every exported model, defined by @hyperproto/model-contract, which the runtimes read it with. */
export const ONNX_INPUT = INPUT_NAME;
export const ONNX_LABEL_OUTPUT = LABEL_OUTPUT;
export const ONNX_TOPK_SCORES_OUTPUT = TOPK_SCORES_OUTPUT;
export const ONNX_TOPK_LABELS_OUTPUT = TOPK_LABELS_OUTPUT;
/** Marks a file as a hyperproto classifier in its metadata_props (`format`). */
export const ONNX_MODEL_FORMAT = MODEL_FORMAT;
export const ONNX_MODEL_FORMAT_VERSION = MODEL_FORMAT_VERSION;
export const DEFAULT_OPSET = 17;
/** The IR version each opset shipped with (ONNX 1.12-1.16); onnxruntime-node 1.30 reads up to 13. */
export function irVersionFor(opset: number): number {
  return opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}
/** Keras' BatchNormalization epsilon, which the seed's network (and every engine) uses. */
export const DEFAULT_BATCH_NORM_EPSILON = BATCH_NORM_EPSILON;

/** What the exporter reads from a trained model (a `TrainedModel` qualifies). */
export interface ExportableModel {
  readonly inputWidth: number;
  readonly classes: number;
  readonly head: HeadDefinition;
  readonly weights: readonly NamedWeight[];
  readonly trainer: Pick<TrainerSettings, 'hiddenUnits' | 'hiddenLayers'>;
  /** Defaults to DEFAULT_BATCH_NORM_EPSILON. */
  readonly batchNormEpsilon?: number;
}

/** Facts about the model for `metadata_props`; `head` is the head plugin's name, `strategy` the prototype strategy's. */
export interface ExportMetadata {
  readonly head: string;
  readonly strategy?: string;
  /** The run's seed, as text (`String(outcome.spec.seed)`). */
  readonly seed?: string;
  /** The dataset plugin's name (`outcome.spec.dataset.name`). */
  readonly dataset?: string;
  /** More string entries to store; the names below that have options of their own are refused here. */
  readonly [key: string]: string | undefined;
}

export interface OnnxExportOptions {
  /** Adds `topk_scores` [N, K] and `topk_labels` [N, K] outputs, best first. */
  readonly topK?: number;
  /** One name per class (`outcome.dataset.classNames`; undefined, as there when the data has none, means none). */
  readonly classNames?: readonly string[] | undefined;
  /**
   * One name per input feature, in input order (`outcome.dataset.featureNames`: the training CSV's header, label
   * column left out), stored as JSON: the runtimes then check a named input's columns against them.
   */
  readonly featureNames?: readonly string[] | undefined;
  /** The training data's label column (the files dataset's `labelColumn`): a named input that holds it has it left out. */
  readonly labelColumn?: string | undefined;
  readonly metadata: ExportMetadata;
  /** ai.onnx opset, 17 to 21; 17 by default. */
  readonly opset?: number;
  /** Stored as producer_version; the version of @hyperproto/onnx by default. */
  readonly producerVersion?: string;
}

/** Metadata keys that exportOnnx writes from options of the same name. */
const OPTION_KEYS = [METADATA_KEYS.classNames, METADATA_KEYS.featureNames, METADATA_KEYS.labelColumn] as const;

const packageVersion = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/**
 * Writes a trained model as an ONNX file: input `features` [N, inputWidth] with a dynamic batch; the trunk as
 * Gemm (batch normalisation folded into its weights) and Relu, dropout gone; the head's dense layer; then the
 * head's own score expression lowered to ONNX nodes, output under the head's `scoresName` [N, C]; `label` [N]
 * (int64 argmax of the scores); and, when asked, the top-k scores and labels.
 */
export function exportOnnx(model: ExportableModel, options: OnnxExportOptions): Uint8Array {
  checkMetadata(options);
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < 17 || opset > 21) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `opset ${opset} is not supported; choose 17 to 21`);
  }
  const { inputWidth, classes, head } = model;
  // The runtimes refuse a wider input at load: a file they would refuse is not written.
  if (!Number.isInteger(inputWidth) || inputWidth < 1 || inputWidth > MAX_INPUT_WIDTH)
    throw invalid(
      `the model's input width must be an integer from 1 to ${MAX_INPUT_WIDTH.toLocaleString('en-US')} (the most the runtimes load), got ${inputWidth}`,
    );
  if (!Number.isInteger(classes) || classes < 2) throw invalid(`the model must have at least 2 classes, has ${classes}`);
  const topK = options.topK;
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1 || topK > classes)) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `top-k must be an integer from 1 to the ${classes} classes, got ${topK}`);
  }
  if (options.classNames && (options.classNames.length !== classes || options.classNames.some((n) => typeof n !== 'string'))) {
    throw invalid(`${options.classNames.length} class names for ${classes} classes; give exactly one string per class`);
  }
  // The runtimes refuse longer class and feature names at load (the model contract's limits): a file they would refuse is not written.
  const namesProblem = options.classNames && classNamesProblem(options.classNames);
  if (namesProblem) throw invalid(`classNames ${namesProblem}`);
  if (options.featureNames && (options.featureNames.length !== inputWidth || options.featureNames.some((n) => typeof n !== 'string'))) {
    throw invalid(`${options.featureNames.length} feature names for ${inputWidth} input features; give exactly one string per feature`);
  }
  const featuresProblem = options.featureNames && featureNamesProblem(options.featureNames);
  if (featuresProblem) throw invalid(`featureNames ${featuresProblem}`);
  if (options.labelColumn !== undefined && (typeof options.labelColumn !== 'string' || options.labelColumn === '')) {
    throw invalid(`the label column must be a non-empty string, got ${JSON.stringify(options.labelColumn)}`);
  }
  // Entries with an option of their own are written from that option alone, so a file never holds two versions.
  const misplaced = OPTION_KEYS.filter((key) => options.metadata[key] !== undefined);
  if (misplaced.length) {
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `metadata.${misplaced.join(', metadata.')}: pass ${misplaced.join(', ')} as exportOnnx's own option${misplaced.length > 1 ? 's' : ''}, not in metadata`,
    );
  }
  if (!head.scoresName || RESERVED_NAMES.includes(head.scoresName)) {
    throw invalid(
      `the head's scores name "${head.scoresName}" is empty or clashes with the model's fixed names (${RESERVED_NAMES.join(', ')})`,
    );
  }
  for (const weight of model.weights) {
    const bad = firstNonFinite(weight.data);
    if (bad >= 0) throw invalid(`weight "${weight.name}" has a non-finite value at index ${bad}; the model cannot give usable answers`);
  }

  const graph = new GraphBuilder('hyperproto_classifier');
  const network = mlpWeightsByRole(mlpShape(inputWidth, model.trainer, head), model.weights, 'the model');
  const epsilon = model.batchNormEpsilon ?? DEFAULT_BATCH_NORM_EPSILON;
  let hidden = graph.input(INPUT_NAME, 'float32', ['N', inputWidth]);
  let width = inputWidth;
  const units = model.trainer.hiddenUnits;
  network.hidden.forEach((weights, i) => {
    const layer = foldBatchNorm(
      weights.kernel.data,
      width,
      units,
      {
        gamma: weights.gamma.data,
        beta: weights.beta.data,
        movingMean: weights.movingMean.data,
        movingVariance: weights.movingVariance.data,
        epsilon,
      },
      `trunk/bn${i}`,
    );
    const kernel = graph.initializer(`trunk/dense${i}/kernel_bn_folded`, layer.kernel, [width, units]);
    const bias = graph.initializer(`trunk/dense${i}/bias_bn_folded`, layer.bias, [units]);
    const dense = graph.node('Gemm', [hidden, kernel, bias], {}, { outputs: [`trunk/dense${i}`], name: `trunk/dense${i}` });
    hidden = graph.node('Relu', [dense], {}, { outputs: [`trunk/relu${i}`], name: `trunk/relu${i}` });
    width = units;
  });
  const outputUnits = head.outputUnits;
  const headKernel = graph.initializer(network.head.kernel.name, network.head.kernel.data, [width, outputUnits]);
  const headBias = graph.initializer(network.head.bias.name, network.head.bias.data, [outputUnits]);
  const output = graph.node('Gemm', [hidden, headKernel, headBias], {}, { outputs: ['head/output'], name: 'head/dense' });

  // The head's tail through the shared lowering (the training engine lowers the same way); its last node writes
  // the scores output directly.
  const tail = new TracedGraph(graph, { prefix: 'head/' });
  const what = `the ${options.metadata.head} head's scores`;
  const scores = lowerHeadExpr(
    tail,
    head.scores,
    {
      output: tail.existing(output, 'float32', ['N', outputUnits]),
      constants: headConstantValues(tail, head.constants, [head.scores], what),
      // The head's parameters at the values it carries (a trained model's: trained), as initializers.
      params: headParamInitializers(tail, head, [head.scores], what),
    },
    { resultName: head.scoresName, what },
  );
  tail.finish([scores]);
  if (scores.shape.length !== 2 || typeof scores.shape[0] !== 'string' || scores.shape[1] !== classes) {
    throw invalid(`the ${options.metadata.head} head's scores have shape [${scores.shape.join(', ')}]; a classifier needs [N, ${classes}]`);
  }
  graph.output(scores.name, 'float32', ['N', classes]);
  graph.output(graph.node('ArgMax', [scores.name], { axis: 1, keepdims: 0 }, { outputs: [LABEL_OUTPUT] }), 'int64', ['N']);
  if (topK !== undefined) {
    graph.nodeOutputs(
      'TopK',
      [scores.name, graph.ints([topK])],
      { axis: -1, largest: 1, sorted: 1 },
      {
        outputs: [TOPK_SCORES_OUTPUT, TOPK_LABELS_OUTPUT],
      },
    );
    graph.output(TOPK_SCORES_OUTPUT, 'float32', ['N', topK]);
    graph.output(TOPK_LABELS_OUTPUT, 'int64', ['N', topK]);
  }

  const producerVersion = options.producerVersion ?? packageVersion;
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.metadata)) if (value !== undefined) metadata[key] = value;
  Object.assign(metadata, {
    [METADATA_KEYS.format]: MODEL_FORMAT,
    [METADATA_KEYS.formatVersion]: String(MODEL_FORMAT_VERSION),
    [METADATA_KEYS.head]: options.metadata.head,
    [METADATA_KEYS.classes]: String(classes),
    [METADATA_KEYS.dims]: String(outputUnits),
    [METADATA_KEYS.inputWidth]: String(inputWidth),
    [METADATA_KEYS.input]: INPUT_NAME,
    [METADATA_KEYS.scoresName]: head.scoresName,
    [METADATA_KEYS.hiddenUnits]: String(units),
    [METADATA_KEYS.hiddenLayers]: String(model.trainer.hiddenLayers),
    [METADATA_KEYS.producer]: 'hyperproto',
    [METADATA_KEYS.producerVersion]: producerVersion,
  });
  if (topK !== undefined) metadata[METADATA_KEYS.topK] = String(topK);
  if (options.classNames) metadata[METADATA_KEYS.classNames] = JSON.stringify(options.classNames);
  if (options.featureNames) metadata[METADATA_KEYS.featureNames] = JSON.stringify(options.featureNames);
  if (options.labelColumn !== undefined) metadata[METADATA_KEYS.labelColumn] = options.labelColumn;
  const bytes = graph.toModel({
    opset,
    irVersion: irVersionFor(opset),
    producerName: 'hyperproto',
    producerVersion,
    docString: `hyperproto ${options.metadata.head} classifier: ${inputWidth} features -> ${classes} classes`,
    metadata,
  });
  // The runtimes read every file with readOnnxModelInfo before onnxruntime sees it: a file they would refuse is not
  // written. What the exporter writes itself (the trunk, label, top-k) always passes, so the refusal is of what the
  // head's score expression lowered to; the reader's own hint (export again) would not help.
  try {
    readOnnxModelInfo(bytes, `the ${options.metadata.head} model`);
  } catch (error) {
    if (!(error instanceof ModelContractError)) throw error;
    throw new HyperprotoError(ErrorCode.InvalidInput, `cannot export to ONNX: the runtimes would refuse the file: ${error.message}`, {
      cause: error,
      hint: `The runtimes load only model files that readOnnxModelInfo (@hyperproto/model-contract) accepts, and the part of this one it refuses comes from the ${options.metadata.head} head's score expression: change the expression as the message says (for example, so that no step makes a tensor larger than the model's weights allow, per row of the batch).`,
    });
  }
  return bytes;
}

/** Refuses options without metadata, or metadata a JavaScript caller filled with other than strings (types say so too). */
function checkMetadata(options: OnnxExportOptions): void {
  const metadata = (options as Partial<OnnxExportOptions> | null | undefined)?.metadata as unknown;
  const hint =
    "Pass exportOnnx(model, { metadata: { head: 'hpn', strategy: 'orthogonal', seed: '0', dataset: 'gaussian' } }): every value a string.";
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      "exportOnnx's options need metadata, an object of strings naming at least the head",
      { hint },
    );
  const wrong = Object.entries(metadata).find(([key, value]) =>
    key === 'head' ? typeof value !== 'string' || value === '' : value !== undefined && typeof value !== 'string',
  );
  if (wrong || !('head' in metadata))
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      wrong
        ? `metadata.${wrong[0]} must be ${wrong[0] === 'head' ? "a non-empty string (the head plugin's name)" : 'a string'}, got ${JSON.stringify(wrong[1]) ?? String(wrong[1])}`
        : "metadata.head is missing: name the head plugin (metadata: { head: 'hpn' })",
      { hint },
    );
}

function invalid(message: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidInput, `cannot export to ONNX: ${message}`);
}
