import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { requireRegularFile } from '@hyperproto/npy';
import { unreadableFile } from './file-errors.js';

/**
 * The size of a regular file (symlinks followed); E_IO for a missing path, a directory, a named pipe or a device,
 * before any reading starts: a pipe would block the read and a device such as /dev/zero would never end.
 */
export async function fileSize(path: string, expected = 'the path of a .npy, .csv, .jsonl or text file'): Promise<number> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch (error) {
    throw unreadableFile(path, error);
  }
  requireRegularFile(info, path, { expected });
  return info.size;
}
