import { ErrorCode, fileErrorReason, HyperprotoError } from '@hyperproto/core';

/** A file that cannot be opened or read: E_IO, with the OS reason in words. */
export function unreadableFile(path: string, error: unknown): HyperprotoError {
  const reason = fileErrorReason(error);
  return new HyperprotoError(ErrorCode.Io, `cannot read ${path}: ${reason}; check the path (relative paths start at ${process.cwd()})`, {
    cause: error,
  });
}

/** Data that cannot be used. The message names the file and the place; `hint` says what to do when the message does not. */
export function badData(message: string, hint?: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidInput, message, hint === undefined ? {} : { hint });
}

export function badOptions(message: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidOptions, message, {
    hint: 'Run `hyperproto plugins --kind dataset` to see the options of dataset:files.',
  });
}

/** `1 label`, `2 labels`: a number with its noun, for messages. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
