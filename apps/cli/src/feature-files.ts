import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ErrorCode, HyperprotoError, type Matrix } from '@hyperproto/core';
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
    const values = fields.map(Number);
    // "NaN" parses (and is refused later as not finite); anything else that is not a number is an error here.
    const bad = fields.findIndex((f, j) => f === '' || (Number.isNaN(values[j]) && !/^[+-]?nan$/i.test(f)));
    const isHeader = firstLine && bad >= 0 && fields.every((f) => f !== '' && Number.isNaN(Number(f)));
    firstLine = false;
    if (isHeader) continue;
    if (bad >= 0)
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `${path} line ${i + 1}, column ${bad}: ${JSON.stringify(fields[bad])} is not a number`,
      );
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
