/**
 * The plain Error every failed check throws: `kind:name: what was wrong; what was expected`. Plain, so that any
 * framework prints it and none is needed to read it.
 */
export function conformanceError(pluginId: string, message: string, cause?: unknown): Error {
  return new Error(`${pluginId}: ${message}`, cause === undefined ? undefined : { cause });
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    // The plugin's own error, which core's call boundary wrapped, says more than the wrapper.
    if (code === 'E_PLUGIN_FAILED' && error.cause !== undefined) return describeError(error.cause);
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
