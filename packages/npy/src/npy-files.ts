import { readFile } from 'node:fs/promises';
import { createMatrix, ErrorCode, fileErrorReason, HyperprotoError, type Matrix } from '@hyperproto/core';
import { writeFileAtomic } from './atomic-file.js';
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

/**
 * Writes `matrix` as a .npy file, atomically: a crash or interrupt leaves either the old file or the complete new
 * one.
 */
export async function writeMatrixNpy(path: string, matrix: Matrix): Promise<void> {
  await writeFileAtomic(path, encodeNpy(matrix));
}

function ioError(error: unknown, what: string, hint: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.Io, `${what}: ${fileErrorReason(error)}`, { cause: error, hint });
}
