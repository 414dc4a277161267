/** Stable error codes: scripts and the CLI's exit codes depend on them, so never rename one. */
export const ErrorCode = {
  /** A plugin name that no registered plugin has. */
  UnknownPlugin: 'E_UNKNOWN_PLUGIN',
  /** A plugin object of the wrong shape, or a different plugin under a taken name. */
  InvalidPlugin: 'E_INVALID_PLUGIN',
  /** Options or a spec that fail validation. */
  InvalidOptions: 'E_INVALID_OPTIONS',
  /** Data that cannot be used: wrong shape, dtype, non-finite values, truncated files. */
  InvalidInput: 'E_INVALID_INPUT',
  /** A request a plugin cannot serve (e.g. a prototype strategy asked for an impossible size). */
  Unsupported: 'E_UNSUPPORTED',
  /** Reading or writing a file or directory failed. */
  Io: 'E_IO',
  /** Training diverged or otherwise could not finish. */
  TrainingFailed: 'E_TRAINING_FAILED',
  /** No engine could start. */
  NoEngine: 'E_NO_ENGINE',
  /** The user interrupted the work. */
  Aborted: 'E_ABORTED',
  /** A plugin threw something that was not a HyperprotoError. */
  PluginFailed: 'E_PLUGIN_FAILED',
  /** A bug in hyperproto itself. */
  Internal: 'E_INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface HyperprotoErrorOptions {
  cause?: unknown;
  /** What the user can do about it, shown after the message. */
  hint?: string;
  /** `kind:name` of the plugin the error came from. */
  pluginId?: string;
}

export class HyperprotoError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly pluginId: string | undefined;

  constructor(code: ErrorCode, message: string, options: HyperprotoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HyperprotoError';
    this.code = code;
    this.hint = options.hint;
    this.pluginId = options.pluginId;
  }
}

export function isHyperprotoError(value: unknown): value is HyperprotoError {
  return value instanceof HyperprotoError || (value instanceof Error && value.name === 'HyperprotoError' && 'code' in value);
}

/** Whether `message` already starts with `pluginId` as a word (`engine:tfjs: ...`, `prototypes:spread needs ...`). */
function namesPlugin(message: string, pluginId: string): boolean {
  return message.startsWith(pluginId) && !/[a-z0-9-]/.test(message.charAt(pluginId.length));
}

/**
 * Tags what a plugin threw with the plugin's id and returns the error to throw, as Vite tags a plugin's error:
 * a HyperprotoError (or one from another copy of this package) keeps its object, class, stack, `cause`, `hint` and
 * any fields of its own (e.g. an engine's `partial` result); it gets `pluginId` and the message is prefixed with the
 * id once. An error that already carries a `pluginId` is left alone, so nested calls keep the innermost plugin's id
 * and never prefix twice. Anything else becomes E_PLUGIN_FAILED with the original as `cause`.
 */
export function tagPluginError(error: unknown, pluginId: string): HyperprotoError {
  if (isHyperprotoError(error)) {
    if (error.pluginId !== undefined) return error;
    const message = namesPlugin(error.message, pluginId) ? error.message : `${pluginId}: ${error.message}`;
    try {
      error.message = message;
      (error as { pluginId: string | undefined }).pluginId = pluginId;
      return error;
    } catch {
      // A frozen error cannot be tagged in place: wrap it, keeping it as the cause.
      return new HyperprotoError(error.code, message, { cause: error, hint: error.hint, pluginId });
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return new HyperprotoError(ErrorCode.PluginFailed, `${pluginId} failed: ${message}`, { cause: error, pluginId });
}

/**
 * Runs `fn` as work of the plugin `pluginId` (e.g. a trained model's `predict`), tagging what it throws with
 * {@link tagPluginError}. Plugin hooks go through `callPlugin`, which also validates their options.
 */
export async function withPluginErrors<T>(pluginId: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw tagPluginError(error, pluginId);
  }
}

/** The reason a file operation failed, in words a user understands (the OS code's meaning, else the message). */
export function fileErrorReason(error: unknown): string {
  switch ((error as { code?: unknown } | undefined)?.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
