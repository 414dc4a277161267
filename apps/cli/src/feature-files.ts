import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ErrorCode, HyperprotoError, type Matrix } from '@hyperproto/core';
import { parseFeatureText } from '@hyperproto/data-files';
import { inputFileSize, readMatrixNpy } from '@hyperproto/npy';
import { toFeatureMatrix } from '@hyperproto/runtime-node';

export const FEATURE_FILE_TYPES = ['.npy', '.csv', '.jsonl'] as const;

/**
 * Reads feature rows from a .npy ([N, width] float32/float64), .csv (one row per line, comma-separated, with an
 * optional header line) or .jsonl (one JSON array per line, or an object with a `features` array) file and checks
 * them against the model's input width. CSV and JSON lines are read exactly as `train` reads them (the files
 * dataset's parsers); problems name the file, the line and the column, counted from 1.
 */
export async function readFeatureFile(path: string, inputWidth: number): Promise<Matrix> {
  const type = extname(path).toLowerCase();
  // Named as the flag gives it; a pipe or a device (say a link to /dev/zero) is refused before anything is read.
  const naming = { what: `--input ${path}`, expected: `a ${FEATURE_FILE_TYPES.join(', ')} file` };
  if (type === '.npy') {
    const matrix = await readMatrixNpy(path, { what: naming.what, layout: '[rows, features] array (one row per input)' });
    return toFeatureMatrix(matrix, inputWidth, { source: path, oneBased: true });
  }
  if (type !== '.csv' && type !== '.jsonl') {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${path}: unknown input type "${type || '(none)'}"; use ${FEATURE_FILE_TYPES.join(', ')}`,
    );
  }
  await inputFileSize(path, naming);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new HyperprotoError(ErrorCode.Io, `cannot read ${path}: ${reason}`, { cause: error });
  }
  // The files dataset's own parsers, so that a file means the same to `predict` as to `train`, message for message.
  const { rows, cols, data } = await parseFeatureText(text, path, type === '.csv' ? 'csv' : 'jsonl');
  return toFeatureMatrix({ rows, cols, data }, inputWidth, { source: path, oneBased: true });
}
