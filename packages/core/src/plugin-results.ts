import { ErrorCode, HyperprotoError } from './errors.js';
import { constantsUsed, type HeadDefinition, headConstant, missingConstantText } from './head-graph.js';
import type { Matrix } from './matrix.js';
import type { Dataset, DatasetSplit } from './plugins.js';
import { prototypesProblem } from './prototypes.js';

/*
 * Checks of what a plugin hands back, made where core receives it: a malformed result is refused as the mistake of
 * the plugin that returned it, not left to fail inside the plugin that reads it next (an engine, an evaluator).
 * Each `...Problem` function says what is wrong, or undefined; the conformance suites reuse them for their messages.
 */

/** A head's `scoresName`: ONNX accepts any string, but exporters and runtimes key outputs by name. */
export const SCORES_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A value as a message shows it: `undefined`, `0`, `"x"`, `an array of 5 items`, `a Float64Array`, `an object`. */
function describeValue(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length} ${value.length === 1 ? 'item' : 'items'}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'object') return value.constructor && value.constructor !== Object ? `a ${value.constructor.name}` : 'an object';
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'function' ? 'a function' : String(value);
}

/** What is wrong with `value` as a Matrix (rows, cols and a Float32Array of rows x cols values), or undefined. */
export function matrixProblem(value: unknown): string | undefined {
  // A bare typed array is the data of a matrix without its shape.
  if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value))
    return `${describeValue(value)}; expected a Matrix { rows, cols, data: Float32Array } (build one with createMatrix)`;
  const { rows, cols, data } = value as Partial<Matrix>;
  for (const [field, size] of [
    ['rows', rows],
    ['cols', cols],
  ] as const) {
    if (!(Number.isInteger(size) && (size as number) >= 0))
      return `a matrix whose ${field} is ${describeValue(size)}; expected a non-negative integer`;
  }
  if (!(data instanceof Float32Array)) return `a matrix whose data is ${describeValue(data)}; expected a Float32Array`;
  if (data.length !== rows! * cols!)
    return `a ${rows} x ${cols} matrix with ${data.length} values; expected ${rows} x ${cols} = ${rows! * cols!}`;
  return undefined;
}

/** The fields of a head definition, as the message for a value that is not one names them. */
const HEAD_DEFINITION = 'a head definition (an object with outputUnits, loss, scores, scoresName, constants)';

/**
 * What is wrong with `value` as what a head's `build` returns, or undefined: the fields every engine reads before
 * anything else (the dense layer's width, the two expressions, the output name, the constant matrices).
 */
export function headDefinitionProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${describeValue(value)}; expected ${HEAD_DEFINITION}`;
  const head = value as Record<string, unknown>;
  const field = (name: string, expected: string) => `a head definition whose ${name} is ${describeValue(head[name])}; expected ${expected}`;
  if (!(Number.isInteger(head.outputUnits) && (head.outputUnits as number) >= 1)) return field('outputUnits', 'a positive integer');
  for (const name of ['loss', 'scores']) {
    const expr = head[name];
    if (typeof expr !== 'object' || expr === null || typeof (expr as { op?: unknown }).op !== 'string')
      return field(name, 'a head expression (h.* in @hyperproto/core)');
  }
  if (typeof head.scoresName !== 'string' || !SCORES_NAME_PATTERN.test(head.scoresName))
    return field('scoresName', 'an identifier such as "scores" (letters, digits, _)');
  const constants = head.constants;
  if (typeof constants !== 'object' || constants === null || Array.isArray(constants))
    return field('constants', 'an object of named matrices ({} when there are none)');
  for (const [name, matrix] of Object.entries(constants)) {
    const problem = matrixProblem(matrix);
    if (problem) return `a head definition whose constant "${name}" is ${problem}`;
  }
  const missing = missingHeadConstantProblem(head as unknown as HeadDefinition);
  if (missing) return `a head definition whose ${missing}`;
  return undefined;
}

/**
 * The first constant a head's loss or scores uses that its `constants` lacks, said as `loss expression uses
 * constant "w", which the head does not provide (has: none); expected ...`, or undefined. Every engine would
 * refuse such a head; found when the head is built, it is blamed on the head.
 */
export function missingHeadConstantProblem(head: Pick<HeadDefinition, 'loss' | 'scores' | 'constants'>): string | undefined {
  for (const which of ['loss', 'scores'] as const) {
    for (const name of constantsUsed(head[which])) {
      if (headConstant(head.constants, name) === undefined)
        return `${which} expression uses ${missingConstantText(name, head.constants)}; expected constants to hold every matrix its loss and scores use`;
    }
  }
  return undefined;
}

/**
 * What is wrong with the arrays of a dataset's split `name` (a Matrix of float32 features and Int32Array labels),
 * or undefined. Engines copy these arrays into their tensors as they are: a Float64Array or a plain array would
 * be read as other numbers, or not at all.
 */
export function datasetSplitArraysProblem(split: unknown, name: string): string | undefined {
  if (typeof split !== 'object' || split === null)
    return `${name} is ${describeValue(split)}; expected a split { features: Matrix, labels: Int32Array }`;
  const { features, labels } = split as Partial<DatasetSplit>;
  const matrix = matrixProblem(features);
  if (matrix) return `${name}.features is ${matrix}`;
  if (!(labels instanceof Int32Array))
    return `${name}.labels is ${describeValue(labels)}; expected an Int32Array of class indices (Int32Array.from(labels) makes one)`;
  return undefined;
}

/**
 * What is wrong with a dataset's class names, or undefined (none is fine): one string per class, each different,
 * since predictions, metrics and a saved model name the classes by them.
 */
export function classNamesProblem(dataset: Pick<Dataset, 'classes' | 'classNames'>): string | undefined {
  const { classNames, classes } = dataset;
  if (classNames === undefined) return undefined;
  if (!Array.isArray(classNames))
    return `classNames is ${describeValue(classNames)}; expected an array of ${classes} strings, one per class in class order (or no classNames)`;
  if (classNames.length !== classes)
    return `classNames has ${classNames.length} ${classNames.length === 1 ? 'name' : 'names'} for ${classes} classes; expected one per class, in class order`;
  const firstAt = new Map<string, number>();
  for (let i = 0; i < classNames.length; i++) {
    const name: unknown = classNames[i];
    if (typeof name !== 'string') return `classNames[${i}] is ${describeValue(name)}; expected a string`;
    const first = firstAt.get(name);
    if (first !== undefined)
      return `classNames repeats ${JSON.stringify(name)} at ${first} and ${i}; expected a different name for each class`;
    firstAt.set(name, i);
  }
  return undefined;
}

/** How many classes a message lists by name before it only counts the rest. */
const LISTED_CLASSES = 5;

/**
 * The classes with no row in the train split, named (with their class names when given), or undefined: a model
 * cannot learn a class it never sees, and every engine would train on as if it could. Labels outside [0, classes)
 * are another check's; they are skipped here.
 */
export function missingTrainingClassesProblem(dataset: Pick<Dataset, 'classes' | 'classNames' | 'train'>): string | undefined {
  const { classes, classNames } = dataset;
  const seen = new Uint8Array(classes);
  for (const label of dataset.train.labels) if (label >= 0 && label < classes) seen[label] = 1;
  const missing: number[] = [];
  for (let c = 0; c < classes; c++) if (seen[c] === 0) missing.push(c);
  if (missing.length === 0) return undefined;
  const named = (c: number) => (typeof classNames?.[c] === 'string' ? `class ${c} (${JSON.stringify(classNames[c])})` : `class ${c}`);
  const listed = missing.slice(0, LISTED_CLASSES).map(named).join(', ');
  const what =
    missing.length === 1
      ? `${listed} has no training rows`
      : `${missing.length} of the ${classes} classes have no training rows: ${listed}${missing.length > LISTED_CLASSES ? ', ...' : ''}`;
  // The files dataset refuses such data as it reads it; this check is for dataset plugins that do not.
  return `${what}; expected at least one train row of every class, as a model cannot learn a class it never sees: a dataset plugin must refuse such data itself (E_INVALID_INPUT, as the files dataset does) or leave the class out`;
}

/** What is wrong with a dataset's reference rule (one class index per test row), or undefined; none is fine. */
export function referencePredictionsProblem(dataset: Pick<Dataset, 'reference' | 'classes' | 'test'>): string | undefined {
  const { reference } = dataset;
  if (reference === undefined) return undefined;
  const predictions: unknown = reference.testPredictions;
  if (!(predictions instanceof Int32Array))
    return `reference.testPredictions is ${describeValue(predictions)}; expected an Int32Array with one class index per test row`;
  const rows = dataset.test.labels.length;
  if (predictions.length !== rows)
    return `reference.testPredictions has ${predictions.length} values for ${rows} test rows; expected one per test row`;
  const outside = predictions.findIndex((label) => !(label >= 0 && label < dataset.classes));
  if (outside >= 0) return `reference.testPredictions[${outside}] is ${predictions[outside]}; expected a class in [0, ${dataset.classes})`;
  return undefined;
}

/** The refusal of a plugin's result: E_INVALID_PLUGIN naming the plugin, with the hint that the plugin must change. */
export function invalidPluginResult(pluginId: string, message: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidPlugin, `${pluginId}: ${message}`, {
    pluginId,
    hint: `This is an error in the plugin ${pluginId}: fix what it returns (its conformance suite in @hyperproto/plugin-testing checks it).`,
  });
}

/** The head definition a head's `build` returned, refused (E_INVALID_PLUGIN) unless well-formed. */
export function checkHeadDefinition<T>(value: T, pluginId: string): T {
  const problem = headDefinitionProblem(value);
  if (problem) throw invalidPluginResult(pluginId, `build() returned ${problem}`);
  return value;
}

/** The matrix a prototype strategy's `generate` returned, refused (E_INVALID_PLUGIN) unless a Matrix. */
export function checkStrategyMatrix<T>(value: T, pluginId: string): T {
  const problem = matrixProblem(value);
  if (problem) throw invalidPluginResult(pluginId, `generate() returned ${problem}`);
  return value;
}

/**
 * The prototypes a strategy's `generate` returned for `request`, refused (E_INVALID_PLUGIN) unless a Matrix of the
 * requested shape with finite unit rows (`prototypesProblem`).
 */
export function checkStrategyPrototypes(value: unknown, request: { classes: number; dims?: number }, pluginId: string): Matrix {
  const matrix = checkStrategyMatrix(value, pluginId) as Matrix;
  const problem = prototypesProblem(matrix, request);
  if (problem) throw invalidPluginResult(pluginId, `generate() returned ${problem}`);
  return matrix;
}
