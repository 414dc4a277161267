import { ErrorCode, HyperprotoError } from './errors.js';
import type { Matrix } from './matrix.js';
import type { Dataset } from './plugins.js';

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
  if (typeof value !== 'object' || value === null || Array.isArray(value))
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
  return undefined;
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
