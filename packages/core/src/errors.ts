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

/** Runs `fn`, turning anything it throws that is not ours into E_PLUGIN_FAILED tagged with the plugin id. */
export async function withPluginErrors<T>(pluginId: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isHyperprotoError(error)) {
      if (error.pluginId === undefined) {
        throw new HyperprotoError(error.code, `${pluginId}: ${error.message}`, {
          cause: error.cause,
          hint: error.hint,
          pluginId,
        });
      }
      throw error;
    }
    const message = error instanceof Error ? error.message : String(error);
    throw new HyperprotoError(ErrorCode.PluginFailed, `${pluginId} failed: ${message}`, { cause: error, pluginId });
  }
}
