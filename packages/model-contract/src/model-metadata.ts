import { ContractErrorCode, exportInstructions, ModelContractError } from './contract-error.js';
import { METADATA_KEYS, MODEL_FORMAT, MODEL_FORMAT_VERSION } from './contract-names.js';

/**
 * An exported model's `metadata_props`, typed. Every field is absent when the file does not have its key (a file
 * from another exporter may have none); a key that is there with a value of the wrong kind is an error.
 */
export interface ModelMetadata {
  /** `hyperproto-classifier` for files written by @hyperproto/onnx. */
  readonly format?: string;
  readonly formatVersion?: number;
  readonly head?: string;
  readonly strategy?: string;
  readonly classes?: number;
  readonly dims?: number;
  readonly inputWidth?: number;
  readonly input?: string;
  readonly scoresName?: string;
  readonly topK?: number;
  readonly hiddenUnits?: number;
  readonly hiddenLayers?: number;
  readonly producerVersion?: string;
  readonly seed?: string;
  readonly dataset?: string;
  /** Parsed from the JSON array in `classNames`; as many names as `classes` when both are given. */
  readonly classNames?: readonly string[];
  /** Parsed from the JSON array in `featureNames`; as many names as `inputWidth` when both are given. */
  readonly featureNames?: readonly string[];
  readonly labelColumn?: string;
}

const CLASS_NAMES_HINT = `Export the model again with ${exportInstructions({ option: 'classNames', flag: '--class-names FILE' })} (FILE: a JSON array or one name per line).`;

/**
 * The longest class name the runtimes load, in characters (UTF-16 code units, as JavaScript counts them). A name is
 * sent with every row a server answers (the label's name, and one per top-k class), so its length multiplies with
 * the rows: 1,000 characters leave room for a label that is a sentence or two, while a 100-row answer naming 6
 * classes a row carries at most 600,000 characters of names. Feature names are held to it as well.
 */
export const MAX_CLASS_NAME_LENGTH = 1_000;

/**
 * The most characters all class names of a model may have together: 10,000,000, so 100,000 classes of names of 100
 * characters each, or a million of 10. The names are held in memory and sent whole in every metadata answer of a
 * server (`GET /v1/metadata`), so this bounds both, at about 10 MB of JSON for names without control characters.
 * Feature names are held to it as well: they are kept and sent the same way, one per input feature.
 */
export const MAX_CLASS_NAMES_LENGTH = 10_000_000;

/** Whose names a limit message is about. */
type NameKind = 'class' | 'feature';

/**
 * What is wrong with a model's class names by the limits every runtime keeps (MAX_CLASS_NAME_LENGTH for a name,
 * MAX_CLASS_NAMES_LENGTH for them all), in words that follow "classNames", e.g. `has a name of 4,000 characters at
 * index 2, ...`; undefined when they are within them. The exporter asks it too, so that it writes no file the
 * runtimes would refuse.
 */
export function classNamesProblem(names: readonly string[]): string | undefined {
  return nameLengthsProblem(names, 'class');
}

/** What is wrong with a model's feature names by the limits of class names, as {@link classNamesProblem} says it. */
export function featureNamesProblem(names: readonly string[]): string | undefined {
  return nameLengthsProblem(names, 'feature');
}

/** The one rule of name lengths: MAX_CLASS_NAME_LENGTH for a name, MAX_CLASS_NAMES_LENGTH for them all. */
function nameLengthsProblem(names: readonly string[], kind: NameKind): string | undefined {
  // Feature names borrow the class names' limits: say so, since the constants are named after classes.
  const borrowed = kind === 'class' ? '' : ', as class names';
  let total = 0;
  for (const [index, name] of names.entries()) {
    if (name.length > MAX_CLASS_NAME_LENGTH)
      return `has a name of ${name.length.toLocaleString('en-US')} characters at index ${index} (${preview(name)}); a ${kind} name may have at most ${MAX_CLASS_NAME_LENGTH.toLocaleString('en-US')}${borrowed} (MAX_CLASS_NAME_LENGTH)`;
    total += name.length;
  }
  if (total > MAX_CLASS_NAMES_LENGTH)
    return `has ${total.toLocaleString('en-US')} characters of names in all; the ${kind} names of a model may have at most ${MAX_CLASS_NAMES_LENGTH.toLocaleString('en-US')} together${borrowed} (MAX_CLASS_NAMES_LENGTH)`;
  return undefined;
}

const NAME_LIMITS = `at most ${MAX_CLASS_NAME_LENGTH.toLocaleString('en-US')} characters each, ${MAX_CLASS_NAMES_LENGTH.toLocaleString('en-US')} in all`;
const CLASS_NAME_LIMITS_HINT = `Shorten the class names (${NAME_LIMITS}) and export the model again with ${exportInstructions({ option: 'classNames', flag: '--class-names FILE' })}.`;
const FEATURE_NAMES_HINT = `Export the model again with ${exportInstructions()}.`;
// Feature names are the training data's column names: the file to change is that one.
const FEATURE_NAME_LIMITS_HINT = `Shorten the feature names, the column names of the training data (${NAME_LIMITS}), and export the model again with ${exportInstructions()}.`;

/**
 * Reads the metadata the exporter writes (METADATA_KEYS) into typed fields. Counts and widths must be positive
 * integers; `classNames` must be a JSON array of strings, one per class (within MAX_CLASS_NAME_LENGTH each and
 * MAX_CLASS_NAMES_LENGTH in all), and `featureNames` one per input feature (within the same limits); a `formatVersion`
 * newer than this contract's is refused. Every refusal is `E_INVALID_INPUT` naming `source`, the key and what it holds.
 */
export function readModelMetadata(metadata: Readonly<Record<string, string>>, source = 'the model'): ModelMetadata {
  const refuse = (key: string, why: string, hint?: string) =>
    new ModelContractError(
      ContractErrorCode.InvalidInput,
      `${source} has unusable metadata: "${key}" ${why}`,
      hint === undefined ? {} : { hint },
    );
  const text = (key: string): string | undefined => (Object.hasOwn(metadata, key) ? metadata[key] : undefined);
  const count = (key: string): number | undefined => {
    const raw = text(key);
    if (raw === undefined) return undefined;
    const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < 1) throw refuse(key, `is ${preview(raw)}, not a positive integer`);
    return value;
  };

  const result: { -readonly [K in keyof ModelMetadata]: ModelMetadata[K] } = {};
  for (const key of ['format', 'head', 'strategy', 'input', 'scoresName', 'producerVersion', 'seed', 'dataset', 'labelColumn'] as const) {
    const value = text(METADATA_KEYS[key]);
    if (value !== undefined) result[key] = value;
  }
  for (const key of ['formatVersion', 'classes', 'dims', 'inputWidth', 'topK', 'hiddenUnits', 'hiddenLayers'] as const) {
    const value = count(METADATA_KEYS[key]);
    if (value !== undefined) result[key] = value;
  }
  if (result.format === MODEL_FORMAT && result.formatVersion !== undefined && result.formatVersion > MODEL_FORMAT_VERSION) {
    throw refuse(
      METADATA_KEYS.formatVersion,
      `is ${result.formatVersion}, newer than the version ${MODEL_FORMAT_VERSION} this runtime reads`,
      'Upgrade @hyperproto/runtime-node or @hyperproto/runtime-web to the version of the exporter that wrote the file.',
    );
  }
  const names = text(METADATA_KEYS.classNames);
  if (names !== undefined) result.classNames = parseClassNames(names, result.classes, source);
  const features = text(METADATA_KEYS.featureNames);
  if (features !== undefined) result.featureNames = parseFeatureNames(features, result.inputWidth, source);
  return result;
}

/**
 * The class names stored in metadata `classNames`: a JSON array of strings, one per class (when `classes` is
 * given), within the limits of classNamesProblem. Anything else is an `E_INVALID_INPUT` that says what the value
 * holds.
 */
export function parseClassNames(json: string, classes: number | undefined, source = 'the model'): readonly string[] {
  const names = parseNameList(
    json,
    { key: METADATA_KEYS.classNames, what: 'class', count: classes, unit: ['class', 'classes'] },
    CLASS_NAMES_HINT,
    source,
  );
  const problem = classNamesProblem(names);
  if (problem !== undefined) throw unusableNames(METADATA_KEYS.classNames, problem, CLASS_NAME_LIMITS_HINT, source);
  return names;
}

/**
 * The feature names stored in metadata `featureNames`: a JSON array of strings, one per input feature (when
 * `inputWidth` is given), within the limits of featureNamesProblem. Anything else is an `E_INVALID_INPUT` that says
 * what the value holds.
 */
export function parseFeatureNames(json: string, inputWidth: number | undefined, source = 'the model'): readonly string[] {
  const list = { key: METADATA_KEYS.featureNames, what: 'feature', count: inputWidth, unit: ['input feature', 'input features'] } as const;
  const names = parseNameList(json, list, FEATURE_NAMES_HINT, source);
  const problem = featureNamesProblem(names);
  if (problem !== undefined) throw unusableNames(METADATA_KEYS.featureNames, problem, FEATURE_NAME_LIMITS_HINT, source);
  return names;
}

/** The refusal of names over the length limits, `problem` being what nameLengthsProblem says. */
function unusableNames(key: string, problem: string, hint: string, source: string): ModelContractError {
  return new ModelContractError(ContractErrorCode.InvalidInput, `${source} has unusable metadata: "${key}" ${problem}`, { hint });
}

/** One rule for every list of names in the metadata: a JSON array of strings, as many as `count` when given. */
function parseNameList(
  json: string,
  list: {
    readonly key: string;
    readonly what: string;
    readonly count: number | undefined;
    /** What `count` counts, singular and plural. */
    readonly unit: readonly [string, string];
  },
  hint: string,
  source: string,
): readonly string[] {
  const refuse = (why: string) =>
    new ModelContractError(ContractErrorCode.InvalidInput, `${source} has unusable metadata: "${list.key}" ${why}`, { hint });
  let names: unknown;
  try {
    names = JSON.parse(json);
  } catch (error) {
    throw refuse(`is not valid JSON (${(error as Error).message}): ${preview(json)}; it should be a JSON array of ${list.what} names`);
  }
  if (!Array.isArray(names)) throw refuse(`is ${preview(json)}, not a JSON array of ${list.what} names`);
  const bad = names.findIndex((name) => typeof name !== 'string');
  if (bad >= 0)
    throw refuse(`has ${clip(JSON.stringify(names[bad]) ?? String(names[bad]))} at index ${bad}; every ${list.what} name must be a string`);
  if (list.count !== undefined && names.length !== list.count)
    throw refuse(`has ${names.length} names for ${list.count} ${list.unit[1]}; it needs one per ${list.unit[0]}`);
  return names as string[];
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

function preview(text: string): string {
  return JSON.stringify(clip(text));
}
