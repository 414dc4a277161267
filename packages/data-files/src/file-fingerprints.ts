import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { isHyperprotoError, type DatasetInput } from '@hyperproto/core';
import { openInputFile } from '@hyperproto/npy';
import { unreadableFile } from './file-errors.js';
import type { FilesOptions } from './files-options.js';
import type { WorkPacer } from './work-pacer.js';

/** Every option that names a file, in the order the loader reads them. */
const FILE_OPTIONS = ['data', 'labels', 'validationData', 'validationLabels', 'testData', 'testLabels', 'classNames'] as const;

// Large enough that hashing runs near memory speed, small enough to stay out of the way of the data being loaded.
const CHUNK_BYTES = 4 * 2 ** 20;

/** The files the options name, as `{ option, path }` with the path as given: what the loader reads. */
export function inputFiles(options: FilesOptions): { option: string; path: string }[] {
  const files: { option: string; path: string }[] = [];
  for (const option of FILE_OPTIONS) {
    const path = options[option];
    // An inline list of class names is no file.
    if (typeof path === 'string') files.push({ option, path });
  }
  return files;
}

/**
 * Every file the options name, fingerprinted: absolute path (relative ones start at the current directory, as
 * the loader reads them), size and SHA-256 of what is in it now.
 */
export async function fingerprintInputs(options: FilesOptions, pacer?: WorkPacer): Promise<DatasetInput[]> {
  const inputs: DatasetInput[] = [];
  for (const { option, path } of inputFiles(options)) inputs.push(await fingerprintFile(option, path, pacer));
  return inputs;
}

/** One file's fingerprint, read in chunks (a pipe or device is refused by `openInputFile`, as when loading). */
export async function fingerprintFile(option: string, path: string, pacer?: WorkPacer): Promise<DatasetInput> {
  const { handle } = await openInputFile(path);
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, bytes);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
      if (pacer?.due()) await pacer.pause();
    }
    return { option, path: resolve(path), bytes, sha256: hash.digest('hex') };
  } catch (error) {
    throw isHyperprotoError(error) ? error : unreadableFile(path, error);
  } finally {
    await handle.close();
  }
}
