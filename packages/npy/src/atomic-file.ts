import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, fileErrorReason, HyperprotoError } from '@hyperproto/core';

let temporaryCounter = 0;

/**
 * Writes `contents` to `path` so that a crash or interrupt leaves either the old file or the complete new one: the
 * bytes go to a temporary file in the same directory (so the rename stays on one file system and is atomic), are
 * flushed to disk, then renamed over `path`. Every file hyperproto writes goes through here. Failures are E_IO
 * naming the file; `what` names it for the user (default: the path).
 */
export async function writeFileAtomic(
  path: string,
  contents: Uint8Array | string,
  options: { what?: string; hint?: string } = {},
): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${++temporaryCounter}.tmp`);
  try {
    const handle = await open(temporary, 'wx');
    try {
      await handle.writeFile(contents);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new HyperprotoError(ErrorCode.Io, `cannot write ${options.what ?? path}: ${fileErrorReason(error)}`, {
      cause: error,
      hint: options.hint ?? 'Check that the directory exists and is writable.',
    });
  }
}
