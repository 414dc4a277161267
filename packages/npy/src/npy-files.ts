import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createMatrix, ErrorCode, fileErrorReason, HyperprotoError, type Matrix } from '@hyperproto/core';
import { encodeNpy, parseNpy } from './npy-format.js';

/** Reads a 2-D .npy file (e.g. the HPN reference's `prototypes-{D}d-{C}c.npy`) as a [C, D] float32 matrix. */
export async function readMatrixNpy(path: string): Promise<Matrix> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw ioError(error, `cannot read ${path}`, 'Check the path; prototype files are .npy arrays saved with np.save.');
  }
  const array = parseNpy(bytes, path);
  if (array.shape.length !== 2) {
    const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${path} holds an array of shape ${shape}; expected a 2-D [C, D] matrix (one row per class)`,
    );
  }
  return createMatrix(array.shape[0]!, array.shape[1]!, array.data);
}

let temporaryCounter = 0;

/**
 * Writes `matrix` as a .npy file. The bytes go to a temporary file in the same directory, are flushed to disk and
 * then renamed over `path`, so a crash or interrupt leaves either the old file or the complete new one.
 */
export async function writeMatrixNpy(path: string, matrix: Matrix): Promise<void> {
  const bytes = encodeNpy(matrix);
  // Same directory as the target, so the rename stays on one file system and is atomic.
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${++temporaryCounter}.tmp`);
  try {
    const handle = await open(temporary, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw ioError(error, `cannot write ${path}`, 'Check that the directory exists and is writable.');
  }
}

function ioError(error: unknown, what: string, hint: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.Io, `${what}: ${fileErrorReason(error)}`, { cause: error, hint });
}
