import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ErrorCode, HyperprotoError, type Matrix } from '@hyperproto/core';
import { looksNumeric, parseFeatureText } from '@hyperproto/data-files';
import { inputFileSize, readMatrixNpy } from '@hyperproto/npy';
import { toFeatureMatrix } from '@hyperproto/runtime-node';

export const FEATURE_FILE_TYPES = ['.npy', '.csv', '.jsonl'] as const;

/** What a model knows of its input's columns; a ModelSession has them when its training data had a CSV header. */
export interface FeatureColumns {
  /** One name per input feature, in input order. */
  readonly featureNames?: readonly string[];
  /** The training data's label column, which a CSV to classify may still hold. */
  readonly labelColumn?: string;
}

/**
 * Reads feature rows from a .npy ([N, width] float32/float64), .csv (one row per line, comma-separated, with an
 * optional header line) or .jsonl (one JSON array per line, or an object with a `features` array) file and checks
 * them against the model's input width. CSV and JSON lines are read exactly as `train` reads them (the files
 * dataset's parsers); problems name the file, the line and the column, counted from 1.
 *
 * A CSV header is checked against `columns`: the model's label column is left out (`log` says so), and names
 * other than the model's feature names, or the same names in another order, are refused. Rows without names
 * (no header, .npy, JSON lines) are taken by position.
 */
export async function readFeatureFile(
  path: string,
  inputWidth: number,
  columns: FeatureColumns = {},
  log: (message: string) => void = () => {},
): Promise<Matrix> {
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
  if (type === '.jsonl') {
    const { rows, cols, data } = await parseFeatureText(text, path, 'jsonl');
    return toFeatureMatrix({ rows, cols, data }, inputWidth, { source: path, oneBased: true });
  }
  const { labelColumn, featureNames } = columns;
  const leaveOut = labelColumn !== undefined && headerFields(text)?.includes(labelColumn) ? labelColumn : undefined;
  const parsed = await parseFeatureText(text, path, 'csv', leaveOut === undefined ? {} : { labelColumn: leaveOut });
  const { rows, cols, data, columnNames } = parsed;
  // Only names are compared: a header of column positions, like no header, is taken by position.
  if (featureNames && columnNames && parsed.header === 'names') checkColumnNames(columnNames, featureNames, path, leaveOut);
  if (leaveOut !== undefined) log(`${path}: left out the label column ${JSON.stringify(leaveOut)}`);
  return toFeatureMatrix({ rows, cols, data }, inputWidth, { source: path, oneBased: true });
}

/**
 * The feature names a run keeps with its model, from the files dataset's facts: the names of its CSV header,
 * label column left out. A header of column positions (`0,1,2,3`, as pandas writes an array's columns) says
 * nothing of what a column holds and gives none, as does a file too wide for the facts to list its columns.
 */
export function trainedFeatureNames(datasetInfo: Readonly<Record<string, unknown>> | undefined, inputWidth: number): string[] | undefined {
  const columns = datasetInfo?.columns;
  if (!Array.isArray(columns) || columns.length !== inputWidth || !columns.every((name) => typeof name === 'string')) return undefined;
  // `header` says what the first line was read as; the facts of runs recorded before it have only the names.
  const header = datasetInfo?.header ?? (columns.every((name, k) => name === String(k)) ? 'column positions' : 'names');
  return header === 'names' ? [...columns] : undefined;
}

/** The label column a run was trained with (the files dataset's `labelColumn` option), kept with its model. */
export function trainedLabelColumn(datasetSpec: { readonly options?: unknown } | undefined): string | undefined {
  const value = (datasetSpec?.options as { labelColumn?: unknown } | undefined)?.labelColumn;
  return typeof value === 'string' ? value : undefined;
}

/**
 * The header's names must be the model's feature names in the model's order. Reordering by name is refused
 * rather than done: a file whose columns were shuffled is more often a mistake upstream than a request.
 */
function checkColumnNames(names: readonly string[], expected: readonly string[], path: string, leftOut: string | undefined): void {
  if (names.length === expected.length && names.every((name, k) => name === expected[k])) return;
  const order = `the model takes ${quoteList(expected)}, in that order${leftOut === undefined ? '' : ` (label column ${JSON.stringify(leftOut)} left out)`}`;
  const sorted = (list: readonly string[]) => [...list].sort().join('\u0000');
  if (names.length === expected.length && sorted(names) === sorted(expected)) {
    const k = names.findIndex((name, i) => name !== expected[i]);
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${path} has the model's feature columns in another order: feature column ${k + 1} is ${quote(names[k]!)} where the model expects ${quote(expected[k]!)}; ${order}`,
      {
        hint: "Write the columns in the model's order; with pandas: df[model_order].to_csv(path, index=False), model_order the list above.",
      },
    );
  }
  const unknown = [...new Set(names.filter((name) => !expected.includes(name)))];
  const missing = [...new Set(expected.filter((name) => !names.includes(name)))];
  const problems = [
    ...(unknown.length ? [`unknown ${unknown.length === 1 ? 'column' : 'columns'} ${quoteList(unknown)}`] : []),
    ...(missing.length ? [`missing ${quoteList(missing)}`] : []),
  ];
  // Same names but a name repeated in place of another: only the counts tell.
  if (problems.length === 0) problems.push(`${names.length} feature columns (${quoteList(names)}) where the model has ${expected.length}`);
  throw new HyperprotoError(
    ErrorCode.InvalidInput,
    `${path}'s header does not name the model's features: ${problems.join('; ')}; ${order}`,
    {
      hint: 'Give a file with the columns the model was trained on, named as in its training data.',
    },
  );
}

// Enough names to see which they are; a wide file's full list would bury the message.
const LISTED_NAMES = 10;

function quoteList(names: readonly string[]): string {
  const shown = names.slice(0, LISTED_NAMES).map(quote).join(', ');
  return names.length > LISTED_NAMES ? `${shown} and ${names.length - LISTED_NAMES} more` : shown;
}

function quote(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 37)}...` : name);
}

/**
 * The fields of a CSV text's first line when it is a header, else undefined: only to tell whether it holds the
 * model's label column, so that the parser is asked to leave that column out. It follows the parser's header rule
 * (no field is a number, or the numbers are the positions 0, 1, 2, ...) and quoting; the parser then reads the
 * header itself and refuses it with its own message if this look was wrong.
 */
function headerFields(text: string): string[] | undefined {
  const end = text.indexOf('\n');
  const line = (end < 0 ? text : text.slice(0, end)).replace(/^\uFEFF/, '').replace(/\r$/, '');
  const fields: string[] = [];
  const field = /\s*(?:"((?:[^"]|"")*)"\s*|([^,]*))(,|$)/y;
  for (;;) {
    const match = field.exec(line);
    if (!match) return undefined;
    fields.push(match[1] === undefined ? match[2]!.trim() : match[1].replace(/""/g, '"'));
    if (match[3] === '') break;
  }
  let position = 0;
  for (const name of fields) {
    if (!looksNumeric(name)) continue;
    if (name !== String(position++)) return undefined;
  }
  return fields;
}
