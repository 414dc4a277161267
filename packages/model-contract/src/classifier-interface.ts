import { ContractErrorCode, exportInstructions, ModelContractError } from './contract-error.js';
import { LABEL_OUTPUT, METADATA_KEYS, TOPK_LABELS_OUTPUT, TOPK_SCORES_OUTPUT } from './contract-names.js';
import { parseClassNames, parseFeatureNames, readModelMetadata, type ModelMetadata } from './model-metadata.js';

/** An input or output of a loaded model, as a runtime reports it. */
export interface ValueInfo {
  readonly name: string;
  /** Element type (`float32`, `int64`, ...); undefined when the runtime does not say. */
  readonly type?: string;
  /** Dimensions, a string (or undefined) for a symbolic one such as the batch; undefined when unknown. */
  readonly shape?: readonly (number | string | undefined)[];
}

/** onnxruntime's `InferenceSession.inputMetadata` / `outputMetadata` entry (node and web have the same shape). */
export interface OrtValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}

/** A runtime's view of one value as a ValueInfo; a non-tensor value gets the type `non-tensor`. */
export function valueInfoOf(metadata: OrtValueMetadata): ValueInfo {
  if (!metadata.isTensor) return { name: metadata.name, type: 'non-tensor' };
  return {
    name: metadata.name,
    ...(metadata.type === undefined ? {} : { type: metadata.type }),
    ...(metadata.shape === undefined ? {} : { shape: metadata.shape }),
  };
}

/** What a runtime needs to know to feed a classifier and read its answers. */
export interface ClassifierInterface {
  readonly inputName: string;
  readonly inputWidth: number;
  /** The score output [N, classes]: `probabilities` (softmax), `scores` (HPN cosines), or another head's. */
  readonly scoresName: string;
  readonly classes: number;
  /** `label` (int64 [N]) when the model has it; without it labels are the argmax of the scores. */
  readonly labelName: string | undefined;
  /** K of the model's own `topk_scores` / `topk_labels` outputs; 0 when it has none. */
  readonly modelTopK: number;
  readonly metadata: ModelMetadata;
  readonly classNames: readonly string[] | undefined;
  /** One name per input feature, in input order, when the model was trained on named columns. */
  readonly featureNames: readonly string[] | undefined;
}

/**
 * The most input features a runtime takes. An exported model's input has a fixed width; a file whose input width is
 * dynamic takes it from metadata `inputWidth`, which the self-check then holds to the graph, with rows of that
 * width: the cap bounds what that costs before the graph has had its say.
 */
export const MAX_INPUT_WIDTH = 1_000_000;

const CLASSIFIER_HINT = `Use a model written by ${exportInstructions()}: one float32 input [N, width], scores [N, classes] and a label output.`;

/**
 * Works out a loaded model's classifier interface, by one set of rules for every runtime:
 * - exactly one input, a float32 matrix [N, width]; the width from its shape, else metadata `inputWidth`, at most
 *   MAX_INPUT_WIDTH;
 * - the scores: the output metadata `scoresName` names, which must be a float32 matrix [N, classes]; without that
 *   key, the one float32 matrix output other than `topk_scores`; the class count from its shape, else metadata
 *   `classes`;
 * - `label` when present; `topk_scores` + `topk_labels` when both are present, K from their shape or metadata;
 * - shape and metadata must agree where both speak, `classNames` must hold one string per class and
 *   `featureNames` one per input feature.
 * A model that breaks a rule is refused with `E_INVALID_INPUT` naming `source` and the rule.
 */
export function resolveClassifierInterface(
  io: { readonly inputs: readonly ValueInfo[]; readonly outputs: readonly ValueInfo[] },
  rawMetadata: Readonly<Record<string, string>>,
  source = 'the model',
): ClassifierInterface {
  const refuse = (why: string) =>
    new ModelContractError(ContractErrorCode.InvalidInput, `${source} is not a classifier this runtime can serve: ${why}`, {
      hint: CLASSIFIER_HINT,
    });
  const metadata = readModelMetadata(rawMetadata, source);
  const outputNames = io.outputs.map((o) => o.name).join(', ') || 'none';

  if (io.inputs.length !== 1) throw refuse(`it has ${io.inputs.length} inputs (${io.inputs.map((i) => i.name).join(', ')}), not 1`);
  const input = io.inputs[0]!;
  if (!isFloatMatrix(input)) throw refuse(`its input "${input.name}" is not a float32 matrix [N, width]`);
  const inputWidth = agreed(fixedDim(input, 1), metadata.inputWidth, (shape, meta) =>
    refuse(`its input "${input.name}" has ${shape} features, but its metadata inputWidth says ${meta}`),
  );
  if (inputWidth === undefined)
    throw refuse(`the width of its input "${input.name}" is unknown: neither its shape nor metadata inputWidth gives it`);
  // Checked before anything is allocated for that many features (the self-check's rows are 8 of them).
  if (inputWidth > MAX_INPUT_WIDTH)
    throw refuse(
      `its input "${input.name}" would take ${inputWidth} features (from its ${fixedDim(input, 1) === undefined ? 'metadata inputWidth' : 'shape'}), more than the ${MAX_INPUT_WIDTH.toLocaleString('en-US')} a runtime takes`,
    );

  const byName = new Map(io.outputs.map((o) => [o.name, o]));
  let scores: ValueInfo | undefined;
  if (metadata.scoresName !== undefined) {
    scores = byName.get(metadata.scoresName);
    if (!scores) throw refuse(`its metadata scoresName names "${metadata.scoresName}", which is not one of its outputs (${outputNames})`);
    if (!isFloatMatrix(scores)) throw refuse(`its score output "${scores.name}" is not a float32 matrix [N, classes]`);
  } else {
    const candidates = io.outputs.filter((o) => o.name !== TOPK_SCORES_OUTPUT && o.type === 'float32' && o.shape?.length === 2);
    if (candidates.length === 0) throw refuse(`it has no float32 score output [N, classes] (outputs: ${outputNames})`);
    if (candidates.length > 1) {
      throw refuse(
        `it has several float32 matrix outputs (${candidates.map((c) => c.name).join(', ')}) and no metadata scoresName to say which holds the scores`,
      );
    }
    scores = candidates[0]!;
  }
  const classes = agreed(fixedDim(scores, 1), metadata.classes, (shape, meta) =>
    refuse(`its score output "${scores.name}" has ${shape} classes, but its metadata classes says ${meta}`),
  );
  if (classes === undefined)
    throw refuse(`the class count of "${scores.name}" is unknown: neither its shape nor metadata classes gives it`);

  const labelName = byName.has(LABEL_OUTPUT) ? LABEL_OUTPUT : undefined;
  const topScores = byName.get(TOPK_SCORES_OUTPUT);
  const modelTopK = topScores && byName.has(TOPK_LABELS_OUTPUT) ? (fixedDim(topScores, 1) ?? metadata.topK ?? 0) : 0;
  const names = metadata.classNames;
  // readModelMetadata checked the names against metadata `classes`; a file without that key is checked here.
  const classNames = names && names.length !== classes ? parseClassNames(rawMetadata[METADATA_KEYS.classNames]!, classes, source) : names;
  // Likewise the feature names against a width that only the input's shape gives.
  const features = metadata.featureNames;
  const featureNames =
    features && features.length !== inputWidth ? parseFeatureNames(rawMetadata[METADATA_KEYS.featureNames]!, inputWidth, source) : features;
  return { inputName: input.name, inputWidth, scoresName: scores.name, classes, labelName, modelTopK, metadata, classNames, featureNames };
}

/** float32 (or of unknown type) and two-dimensional (or of unknown shape). */
function isFloatMatrix(value: ValueInfo): boolean {
  return (value.type === undefined || value.type === 'float32') && (value.shape === undefined || value.shape.length === 2);
}

function fixedDim(value: ValueInfo, axis: number): number | undefined {
  const dim = value.shape?.[axis];
  return typeof dim === 'number' && Number.isInteger(dim) && dim > 0 ? dim : undefined;
}

function agreed(
  fromShape: number | undefined,
  fromMetadata: number | undefined,
  disagree: (shape: number, meta: number) => Error,
): number | undefined {
  if (fromShape !== undefined && fromMetadata !== undefined && fromShape !== fromMetadata) throw disagree(fromShape, fromMetadata);
  return fromShape ?? fromMetadata;
}
