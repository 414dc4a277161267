/**
 * The codes shared with `@hyperproto/core`'s ErrorCode. They are repeated here rather than imported so that this
 * package stays a single browser module with onnxruntime-web as its only dependency.
 */
export type RuntimeWebErrorCode = 'E_INVALID_INPUT' | 'E_IO' | 'E_NO_ENGINE';

/**
 * Named `HyperprotoError` so that core's `isHyperprotoError` (which checks name and code) recognises it and callers
 * can treat errors from every hyperproto package alike.
 */
export class RuntimeWebError extends Error {
  readonly code: RuntimeWebErrorCode;
  readonly hint: string | undefined;

  constructor(code: RuntimeWebErrorCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HyperprotoError';
    this.code = code;
    this.hint = options.hint;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
