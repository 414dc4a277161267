import { statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { requireRegularFile } from '@hyperproto/npy';
import { unreadableFile } from './file-errors.js';

/**
 * The size of a regular file (symlinks followed); E_IO for a missing path, a directory, a named pipe or a device,
 * before any reading starts: a pipe would block the read and a device such as /dev/zero would never end. Messages
 * name the file as `what` (e.g. `--class-names names.txt`).
 */
export async function fileSize(path: string, expected = 'the path of a .npy, .csv, .jsonl or text file', what = path): Promise<number> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch (error) {
    throw unreadableFile(what, error);
  }
  requireRegularFile(info, path, { expected, what });
  return info.size;
}

/**
 * Whether `path` is there but cannot be read as a file: a directory, a pipe or device, or a path whose stat fails for
 * another reason than its absence (a parent directory not searchable). Such a path is refused as E_IO by
 * {@link fileSize} when the files are looked at, whatever its name says; a missing path is judged by its name first.
 * Synchronous, for the options schema; stat never opens the file, so a pipe cannot block it.
 */
export function unreadableAsFile(path: string): boolean {
  try {
    return !statSync(path).isFile();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== 'ENOENT' && code !== 'ENOTDIR';
  }
}
