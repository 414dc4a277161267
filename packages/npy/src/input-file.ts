import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { ErrorCode, fileErrorReason, HyperprotoError } from '@hyperproto/core';
import { describeFileKind } from '@hyperproto/model-contract';

/**
 * Every file hyperproto reads as user input (features, labels, prototypes, predict input) must be a regular file
 * after following symlinks. A named pipe blocks the reader until something writes to it, and a device such as
 * /dev/zero never ends, so either would hang the command or fill memory instead of failing.
 */

/** How a caller names the file and says what it should be, for the messages. */
export interface InputFileLabels {
  /**
   * How messages about the file name it, e.g. `--input x.npy`; default: the path. A path that cannot be opened at
   * all is named as given: "cannot read x.npy: no such file or directory" is about the path alone.
   */
  readonly what?: string;
  /** What to give instead, e.g. `a .npy, .csv or .jsonl file`; default: a regular file. */
  readonly expected?: string;
}

/** E_IO unless `info` (of a path followed through symlinks) is a regular file. */
export function requireRegularFile(info: Stats, path: string, labels: InputFileLabels = {}): void {
  if (info.isFile()) return;
  const expected = labels.expected ?? 'the path of a regular file';
  throw new HyperprotoError(
    ErrorCode.Io,
    `cannot read ${labels.what ?? path}: it is ${describeFileKind(info)}, not a regular file; give ${expected}`,
    // Process substitution (`--data <(...)`) hands over a pipe: the usual way to end up here.
    info.isDirectory() ? {} : { hint: 'Pipes and devices cannot be read as input: save the data to a file and give its path.' },
  );
}

/** The size of a user's input file, refused as {@link requireRegularFile} says before anything opens it. */
export async function inputFileSize(path: string, labels: InputFileLabels = {}): Promise<number> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch (error) {
    throw unreadable(error, path);
  }
  requireRegularFile(info, path, labels);
  return info.size;
}

/**
 * Opens a user's input file for reading: a regular file, checked before it is opened (opening a named pipe
 * blocks), and again on the open handle in case the path changed in between. Failures are E_IO naming the file.
 * The caller closes the handle.
 */
export async function openInputFile(path: string, labels: InputFileLabels = {}): Promise<{ handle: FileHandle; size: number }> {
  await inputFileSize(path, labels);
  let handle: FileHandle;
  try {
    // O_NONBLOCK: should the path have become a pipe since the check, opening it returns instead of waiting.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw unreadable(error, path);
  }
  try {
    const info = await handle.stat();
    requireRegularFile(info, path, labels);
    return { handle, size: info.size };
  } catch (error) {
    await handle.close();
    throw error instanceof HyperprotoError ? error : unreadable(error, path);
  }
}

/**
 * Fills `bytes` from the file at `position`, as far as the file goes (a read may return fewer bytes than asked);
 * the number of bytes read. Read errors propagate as they are, for the caller to word.
 */
export async function readInto(handle: FileHandle, bytes: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesRead } = await handle.read(bytes, done, bytes.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Reads exactly `length` bytes at `position`; E_IO naming the file if it is shorter (it changed while read). */
export async function readExactly(handle: FileHandle, position: number, length: number, what: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(length);
  } catch {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${what} needs ${(length / 2 ** 30).toFixed(1)} GiB in memory, more than can be allocated here; use a smaller file`,
    );
  }
  let done: number;
  try {
    done = await readInto(handle, bytes, position);
  } catch (error) {
    throw new HyperprotoError(ErrorCode.Io, `cannot read ${what}: ${fileErrorReason(error)}`, { cause: error });
  }
  if (done < length)
    throw new HyperprotoError(
      ErrorCode.Io,
      `${what} ended early: expected ${length} bytes at offset ${position}, found ${done}; the file changed while it was read`,
    );
  return bytes;
}

function unreadable(error: unknown, path: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.Io, `cannot read ${path}: ${fileErrorReason(error)}`, {
    cause: error,
    hint: `Check the path (relative paths start at ${process.cwd()}).`,
  });
}
