import { createMatrix, ErrorCode, HyperprotoError, type Matrix } from '@hyperproto/core';
import { writeFileAtomic } from './atomic-file.js';
import { openInputFile, readExactly } from './input-file.js';
import { checkFloatNpy, encodeNpy, NPY_PREAMBLE_BYTES, npyDataOffset, parseNpy, parseNpyHeader, pythonShape } from './npy-format.js';

export interface ReadMatrixOptions {
  /** How messages name the file, e.g. `--input x.npy`; default: the path. */
  readonly what?: string;
  /** What the two axes are, for the message about any other shape; default `[C, D] (one row per class)`. */
  readonly layout?: string;
}

/**
 * Reads a 2-D float32 or float64 .npy file (e.g. the HPN reference's `prototypes-{D}d-{C}c.npy`) as a float32
 * matrix. Only a regular file is read, and only after its header and length agree: at most header + shape x
 * itemsize bytes, never an unbounded stream.
 */
export async function readMatrixNpy(path: string, options: ReadMatrixOptions = {}): Promise<Matrix> {
  const what = options.what ?? path;
  const { handle, size } = await openInputFile(path, { what, expected: 'a .npy file saved with np.save' });
  let bytes: Uint8Array;
  try {
    const preamble = await readExactly(handle, 0, Math.min(size, NPY_PREAMBLE_BYTES), what);
    const header = parseNpyHeader(await readExactly(handle, 0, Math.min(size, npyDataOffset(preamble, what)), what), what);
    checkFloatNpy(header, size, what);
    bytes = await readExactly(handle, 0, size, what);
  } finally {
    await handle.close();
  }
  const array = parseNpy(bytes, what);
  if (array.shape.length !== 2) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${what} holds an array of shape ${pythonShape(array.shape)}; expected a 2-D ${options.layout ?? '[C, D] matrix (one row per class)'}`,
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
