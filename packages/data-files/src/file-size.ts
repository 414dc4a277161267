import { stat } from 'node:fs/promises';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { unreadableFile } from './file-errors.js';

/** The size of a regular file; E_IO for a missing path or a directory, before any reading starts. */
export async function fileSize(path: string): Promise<number> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    throw unreadableFile(path, error);
  }
  if (info.isDirectory()) throw new HyperprotoError(ErrorCode.Io, `cannot read ${path}: it is a directory; give the path of a file`);
  return info.size;
}
