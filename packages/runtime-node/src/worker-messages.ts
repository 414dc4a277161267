// What a worker session and its thread say to each other, and errors in a form that crosses between them.
import {
  type ContractErrorCode,
  type FeatureMatrix,
  type InvalidFeaturesDetail,
  InvalidFeaturesError,
  ModelAnswersError,
  ModelContractError,
} from '@hyperproto/model-contract';
import type { ModelSession, NodePlacement, Prediction, PredictOptions, SessionOptions } from './model-session.js';

/** The session options as they reach the thread: `log`, a function, becomes `true` (its messages come back). */
export type ThreadSessionOptions = Omit<SessionOptions, 'log'> & { readonly log?: true };

export interface WorkerData {
  readonly model: string | Uint8Array;
  readonly options: ThreadSessionOptions;
}

/** What the session tells about itself: everything but its methods. */
export type SessionFacts = Omit<ModelSession, 'predict' | 'placement' | 'release'>;

export type ToWorker =
  | { readonly type: 'predict'; readonly id: number; readonly features: FeatureMatrix; readonly options: PredictOptions }
  | { readonly type: 'placement'; readonly id: number }
  | { readonly type: 'release' };

export type FromWorker =
  | { readonly type: 'log'; readonly message: string }
  | { readonly type: 'ready'; readonly facts: SessionFacts }
  | { readonly type: 'open-failed'; readonly error: SerializedError }
  | { readonly type: 'answer'; readonly id: number; readonly value: Prediction | NodePlacement[] }
  | { readonly type: 'failed'; readonly id: number; readonly error: SerializedError }
  /** The session is freed (or its release failed, with why); the thread ends next. */
  | { readonly type: 'released'; readonly error?: SerializedError };

/**
 * An error as structured clone carries it: the class it was made with (a clone would arrive as a plain Error,
 * without its code, hint or detail), its fields, and its cause in the same form.
 */
export interface SerializedError {
  readonly kind: 'features' | 'answers' | 'contract' | 'other';
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
  readonly hint?: string;
  readonly detail?: InvalidFeaturesDetail;
  readonly cause?: SerializedError;
}

/** Causes are followed this deep: enough for any chain the session makes, and no loop on one that refers to itself. */
const CAUSE_DEPTH = 4;

export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) return { kind: 'other', name: 'Error', message: String(error) };
  const kind =
    error instanceof InvalidFeaturesError
      ? 'features'
      : error instanceof ModelAnswersError
        ? 'answers'
        : error instanceof ModelContractError
          ? 'contract'
          : 'other';
  const { code, hint, detail } = error as Partial<{ code: unknown; hint: unknown; detail: InvalidFeaturesDetail }>;
  return {
    kind,
    name: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof hint === 'string' ? { hint } : {}),
    ...(kind === 'features' && detail ? { detail: { ...detail } } : {}),
    ...(error.cause === undefined || depth >= CAUSE_DEPTH ? {} : { cause: serializeError(error.cause, depth + 1) }),
  };
}

/** JavaScript's own error classes, made again by name (others arrive as an Error with their name). */
const STANDARD_ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError } as const;

/** The error again, of the class the thread threw: `instanceof` and `isHyperprotoError` answer as for the original. */
export function reviveError(wire: SerializedError): Error {
  const cause = wire.cause && reviveError(wire.cause);
  const hint = wire.hint;
  let error: Error;
  if (wire.kind === 'features') {
    error = new InvalidFeaturesError(wire.message, wire.detail ?? { problem: 'not-a-batch' }, hint);
    // Its constructor takes no cause: set as Error's own is (not enumerable).
    if (cause) Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true });
  } else if (wire.kind === 'answers' || wire.kind === 'contract') {
    const Class = wire.kind === 'answers' ? ModelAnswersError : ModelContractError;
    error = new Class(wire.code as ContractErrorCode, wire.message, {
      ...(cause ? { cause } : {}),
      ...(hint === undefined ? {} : { hint }),
    });
  } else {
    const Class = STANDARD_ERRORS[wire.name as keyof typeof STANDARD_ERRORS] ?? Error;
    error = new Class(wire.message, cause ? { cause } : undefined);
    error.name = wire.name;
    if (wire.code !== undefined) (error as Error & { code?: string }).code = wire.code;
  }
  // Where it was thrown, in the thread: the caller's own stack would only show the message arriving.
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}
