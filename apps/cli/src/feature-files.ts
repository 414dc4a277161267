import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ErrorCode, HyperprotoError, type Matrix } from '@hyperproto/core';
import { looksNumeric, parseDecimalField } from '@hyperproto/data-files';
import { readMatrixNpy } from '@hyperproto/npy';
import { InvalidFeaturesError, toFeatureMatrix } from '@hyperproto/runtime-node';

export const FEATURE_FILE_TYPES = ['.npy', '.csv', '.jsonl'] as const;

/**
 * Reads feature rows from a .npy ([N, width] float32/float64), .csv (one row per line, comma-separated; a first
 * line that is not numeric is taken as a header) or .jsonl (one JSON array per line, or an object with a
 * `features` array) file and checks them against the model's input width. Problems name the file and the line.
 */
export async function readFeatureFile(path: string, inputWidth: number): Promise<Matrix> {
  const type = extname(path).toLowerCase();
  if (type === '.npy') return toFeatureMatrix(await readMatrixNpy(path), inputWidth, { source: path });
  if (type !== '.csv' && type !== '.jsonl') {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${path}: unknown input type "${type || '(none)'}"; use ${FEATURE_FILE_TYPES.join(', ')}`,
    );
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new HyperprotoError(ErrorCode.Io, `cannot read ${path}: ${reason}`, { cause: error });
  }
  const { rows, lines } = type === '.csv' ? parseCsv(text, path) : parseJsonLines(text, path);
  try {
    return toFeatureMatrix(rows, inputWidth, { source: path });
  } catch (error) {
    // Say which line of the file, not which row of the batch.
    if (error instanceof InvalidFeaturesError && error.detail.row !== undefined) {
      const line = lines[error.detail.row]!;
      const message = error.message
        .replace(new RegExp(`row ${error.detail.row}(?!\\d)`), `line ${line}`)
        .replace(/row 0 has/, `line ${lines[0]} has`);
      throw new InvalidFeaturesError(message, error.detail, error.hint);
    }
    throw error;
  }
}

interface ParsedRows {
  readonly rows: number[][];
  /** 1-based line number of each row. */
  readonly lines: number[];
}

function parseCsv(text: string, path: string): ParsedRows {
  const rows: number[][] = [];
  const lines: number[] = [];
  let firstLine = true;
  const all = text.split(/\r?\n/);
  for (let i = 0; i < all.length; i++) {
    const line = all[i]!.trim();
    if (line === '') continue;
    const fields = line.split(',').map((f) => f.trim());
    // A first line with no field that looks like a number is a header.
    const isHeader = firstLine && fields.every((f) => f !== '' && !looksNumeric(f));
    firstLine = false;
    if (isHeader) continue;
    const values: number[] = [];
    for (let j = 0; j < fields.length; j++) {
      const field = fields[j]!;
      // NaN passes here so that the runtime's check names it like a NaN in any other input.
      const value = /^[+-]?nan$/i.test(field) ? Number.NaN : parseDecimalField(field);
      if (typeof value === 'string')
        throw new HyperprotoError(ErrorCode.InvalidInput, `${path} line ${i + 1}, column ${j}: ${JSON.stringify(field)} ${value}`);
      values.push(value);
    }
    rows.push(values);
    lines.push(i + 1);
  }
  return { rows, lines };
}

function parseJsonLines(text: string, path: string): ParsedRows {
  const rows: number[][] = [];
  const lines: number[] = [];
  const all = text.split(/\r?\n/);
  for (let i = 0; i < all.length; i++) {
    const line = all[i]!.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `${path} line ${i + 1} is not valid JSON: ${(error as Error).message}`);
    }
    const row = Array.isArray(value) ? value : (value as { features?: unknown } | null)?.features;
    if (!Array.isArray(row)) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `${path} line ${i + 1}: expected a JSON array of numbers or an object with a "features" array`,
      );
    }
    rows.push(row as number[]);
    lines.push(i + 1);
  }
  return { rows, lines };
}
