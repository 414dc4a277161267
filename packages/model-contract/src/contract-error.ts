import { describeValue } from './describe-value.js';

/**
 * The codes a runtime's errors carry. Their values are `@hyperproto/core`'s ErrorCode values (never rename one:
 * the CLI's exit codes and scripts depend on them); they are repeated here so that this package has no
 * dependencies and runs in a browser.
 */
export const ContractErrorCode = {
  /** A model file or feature rows that cannot be used. */
  InvalidInput: 'E_INVALID_INPUT',
  /** Options that make no sense (unknown or repeated execution providers, an empty list). */
  InvalidOptions: 'E_INVALID_OPTIONS',
  /** A model that cannot be read or fetched. */
  Io: 'E_IO',
  /** No execution provider could start. */
  NoEngine: 'E_NO_ENGINE',
  /** A bug, or an inference that failed for no reason the input explains. */
  Internal: 'E_INTERNAL',
} as const;
export type ContractErrorCode = (typeof ContractErrorCode)[keyof typeof ContractErrorCode];

export interface ContractErrorOptions {
  readonly cause?: unknown;
  /** What the user can do about it. */
  readonly hint?: string;
}

/**
 * The error every runtime throws. Named `HyperprotoError`, with a stable `code` and an optional `hint`, so that
 * `@hyperproto/core`'s `isHyperprotoError` recognises it and the CLI maps it to an exit code like its own errors.
 */
export class ModelContractError extends Error {
  readonly code: ContractErrorCode;
  readonly hint: string | undefined;

  constructor(code: ContractErrorCode, message: string, options: ContractErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HyperprotoError';
    this.code = code;
    this.hint = options.hint;
  }
}

/** What went wrong with a batch of feature rows. The values are the JSON API's error codes (`serve`). */
export type FeatureProblem =
  | 'empty-batch'
  | 'ragged-rows'
  | 'wrong-width'
  | 'not-finite'
  | 'not-a-number'
  | 'too-many-rows'
  /** Not one of the batch forms at all (a matrix with a field of the wrong type, a Float64Array, undefined). */
  | 'not-a-batch';

/** Where a problem with the input lies: 0-based `row` and `column`, as the JSON API reports them. */
export interface InvalidFeaturesDetail {
  readonly problem: FeatureProblem;
  readonly row?: number;
  readonly column?: number;
}

/** Feature rows that the model cannot take: `E_INVALID_INPUT` with the problem and its position. */
export class InvalidFeaturesError extends ModelContractError {
  constructor(
    message: string,
    readonly detail: InvalidFeaturesDetail,
    hint?: string,
  ) {
    super(ContractErrorCode.InvalidInput, message, hint === undefined ? {} : { hint });
  }
}

/**
 * A model's answers that break its own interface (`checkClassifierAnswers`): E_INVALID_INPUT when the self-check
 * at load shows it, E_INTERNAL at a prediction. A class of its own so that a caller for whom the model file is its
 * user's input (a command line) can tell it from a failure inside onnxruntime, and say so.
 */
export class ModelAnswersError extends ModelContractError {}

/**
 * An option of a runtime call outside its range (`E_INVALID_OPTIONS`): names the option, what it must be and what
 * was given, in one wording for every runtime. `rule` completes "NAME must be ...", e.g. `an integer from 1`.
 */
export function invalidOptionError(name: string, rule: string, value: unknown): ModelContractError {
  return new ModelContractError(ContractErrorCode.InvalidOptions, `${name} must be ${rule}, got ${describeValue(value)}`);
}

/** Refuses predict options that are not an object (null, a number), before any of them is read: every runtime's words. */
export function checkPredictOptionsObject(options: unknown): void {
  if (typeof options !== 'object' || options === null)
    throw invalidOptionError('the predict options', 'an object such as { topK: 3 }, or absent', options);
}

/**
 * How to write a model file, for the hints of errors about one: the library's exporter first, since a library
 * caller may not have the command line, then the command. `extra` names an option of both that the model needs.
 */
export function exportInstructions(extra?: { readonly option: string; readonly flag: string }): string {
  const library = `exportOnnx from @hyperproto/onnx${extra ? ` (option ${extra.option})` : ''}`;
  return `${library}, or \`hyperproto export RUN_DIR --out model.onnx${extra ? ` ${extra.flag}` : ''}\``;
}

/** The hint of an error about a model file that is not what the exporter writes: the one wording every runtime gives. */
export function exportAgainHint(): string {
  return `The file is not a model written by ${exportInstructions()}, or it was changed since; export it again.`;
}

/**
 * A session or classifier used after `release()`: a caller's mistake, reported as such rather than as onnxruntime's
 * internal "session already disposed".
 */
export function releasedSessionError(source: string): ModelContractError {
  return new ModelContractError(ContractErrorCode.InvalidInput, `the session of ${source} was released and cannot be used any more`, {
    hint: 'Create a new session to predict again, and release a session only when nothing will use it.',
  });
}

/** The most lines of a thrown message that errorMessage keeps, and the most characters of them. */
const MESSAGE_LINES = 4;
const MESSAGE_LENGTH = 500;

/**
 * What was thrown, in one line for messages: its first lines joined with '; ' (onnxruntime often says what it
 * refused on the second, e.g. "Got invalid dimensions for input: features for the following indices" then
 * "index: 0 Got: 8 Expected: 1"), up to MESSAGE_LINES of them and MESSAGE_LENGTH characters. Blank lines are left
 * out, and so is what reads as a stack: nothing from a line such as "Stacktrace:" or "Require stack:" on, and no
 * frame such as "    at f (file.js:1:2)" or "#0 0x...".
 */
export function errorMessage(error: unknown): string {
  const lines: string[] = [];
  for (const raw of (error instanceof Error ? error.message : String(error)).split(/\r?\n/)) {
    const line = raw.trim();
    if (/^(stack ?trace|require stack|call stack)\s*:/i.test(line)) break;
    if (line === '' || /^at\s.*:\d+(:\d+)?\)?$/.test(line) || /^#\d+\s+0x[0-9a-f]+/i.test(line)) continue;
    lines.push(line);
    if (lines.length === MESSAGE_LINES) break;
  }
  const text = lines.join('; ');
  return text.length > MESSAGE_LENGTH ? `${text.slice(0, MESSAGE_LENGTH - 1)}…` : text;
}
