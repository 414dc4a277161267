import { ErrorCode, isHyperprotoError } from '@hyperproto/core';

/** One place maps error codes to exit codes, so scripts can tell a typo from a crash. */
export const EXIT = {
  ok: 0,
  /** A bug in hyperproto. */
  internal: 1,
  /**
   * The request was wrong: bad options, unknown plugin, bad data, a plugin package that does not fit this core; for a
   * job queue a wrong password, a queue serving another grid or in use by another coordinator, a database the
   * queue's Redis does not have (or refuses to SELECT), an empty --queue, a worker without a plugin the grid needs
   * or with other versions.
   */
  usage: 2,
  /**
   * A file or directory could not be read or written, or a job queue could not be reached or does not answer as
   * Redis.
   */
  io: 3,
  /** Training or the engine failed. */
  failed: 4,
  /** Interrupted (Ctrl-C), as shells report SIGINT. */
  interrupted: 130,
} as const;

export function exitCodeFor(error: unknown): number {
  if (!isHyperprotoError(error)) return EXIT.internal;
  switch (error.code) {
    case ErrorCode.Io:
      return EXIT.io;
    case ErrorCode.TrainingFailed:
    case ErrorCode.NoEngine:
    case ErrorCode.PluginFailed:
      return EXIT.failed;
    case ErrorCode.Aborted:
      return EXIT.interrupted;
    case ErrorCode.Internal:
      return EXIT.internal;
    default:
      return EXIT.usage;
  }
}

/** The one-line (plus hint) message the user sees; internal errors are marked as bugs with their stack. */
export function describeError(error: unknown): string {
  if (isHyperprotoError(error)) {
    const lines = [`error ${error.code}: ${error.message}`];
    if (error.hint) lines.push(`hint: ${error.hint}`);
    if (error.code === ErrorCode.Internal && error.stack) lines.push(error.stack);
    return lines.join('\n');
  }
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `internal error (a bug in hyperproto; please report it with this output):\n${stack}`;
}

/** The same for --json: one object on stdout that a script can branch on by `code`. */
export function errorJson(error: unknown): { error: { code: string; message: string; hint?: string } } {
  const bug = 'A bug in hyperproto: please report it with the output of the same command without --json, which has the stack trace.';
  if (!isHyperprotoError(error))
    return { error: { code: ErrorCode.Internal, message: error instanceof Error ? error.message : String(error), hint: bug } };
  const hint = error.hint ?? (error.code === ErrorCode.Internal ? bug : undefined);
  return { error: { code: error.code, message: error.message, ...(hint ? { hint } : {}) } };
}
