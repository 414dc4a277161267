import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ErrorCode, HyperprotoError, isHyperprotoError, type Matrix } from '@hyperproto/core';
import {
  columnNamesDifference,
  type CsvHeaderRead,
  decodeTextFile,
  labelColumnName,
  type LabelledRows,
  type LabelledTextFeatures,
  type LabelValues,
  nameList,
  parseLabelledFeatureText,
  unreadableAsFile,
} from '@hyperproto/data-files';
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
 * Feature rows, with what the count check of labels names them by (`checkLabelCount`), and the labels of the model's
 * label column when they were asked for and every row has one.
 */
export interface FeatureRows extends Matrix, LabelledRows {
  readonly labels?: LabelValues;
  /** Why the file's label column (or key), which it has, gives no labels: the first row without one. */
  readonly unlabelled?: string;
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
 *
 * With `labelsFromColumn`, a file with the model's label column (a CSV header naming it; JSON lines whose first
 * row has that key) gives its labels too, when every row has one; with a row unlabelled, `unlabelled` says which.
 */
export async function readFeatureFile(
  path: string,
  inputWidth: number,
  columns: FeatureColumns = {},
  log: (message: string) => void = () => {},
  { labelsFromColumn = false }: { readonly labelsFromColumn?: boolean } = {},
): Promise<FeatureRows> {
  const type = extname(path).toLowerCase();
  // Named as the flag gives it; a pipe or a device (say a link to /dev/zero) is refused before anything is read.
  const naming = { what: `--input ${path}`, expected: `a ${FEATURE_FILE_TYPES.join(', ')} file` };
  if (type === '.npy') {
    const matrix = await readMatrixNpy(path, { what: naming.what, layout: '[rows, features] array (one row per input)' });
    return { ...toFeatureMatrix(matrix, inputWidth, { source: path, oneBased: true }), path, format: 'npy' };
  }
  if (type !== '.csv' && type !== '.jsonl') {
    // A directory (or a path that cannot be read) is E_IO whatever its name, as for train's --data and a known type.
    if (unreadableAsFile(path)) await inputFileSize(path, naming);
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${path}: unknown input type "${type || '(none)'}"; use ${FEATURE_FILE_TYPES.join(', ')}`,
    );
  }
  await inputFileSize(path, naming);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new HyperprotoError(ErrorCode.Io, `cannot read ${path}: ${reason}`, { cause: error });
  }
  // UTF-8 only, as `train` reads: another encoding is refused, not decoded into replacement characters.
  const text = decodeTextFile(bytes, path);
  // The files dataset's own parsers, so that a file means the same to `predict` as to `train`, message for message.
  // The model's label column is left out of the features when a CSV header has it, unread unless its labels are
  // asked for: rows not yet labelled leave it blank. JSON lines read only "features" but for the labels.
  const { labelColumn, featureNames } = columns;
  const format = type === '.csv' ? 'csv' : 'jsonl';
  let parsed: LabelledTextFeatures | undefined;
  let unlabelled: string | undefined;
  // Only names are compared, and before any value is read (a column the model does not take may hold text): a header
  // of column positions, like no header, is taken by position.
  const onHeader =
    featureNames &&
    (({ columnNames, kind, leftOut }: CsvHeaderRead) => {
      if (kind === 'names') checkColumnNames(columnNames, featureNames, path, leftOut);
    });
  const reading = onHeader ? { onHeader } : {};
  if (labelsFromColumn && labelColumn !== undefined) {
    // The reader refuses a file without that column, or with a row without a label, as it would a training file:
    // such a file is then read again as below, its rows classified and not scored, and any other refusal repeated
    // word for word. The text may be parsed twice: the first reading stops at the first row without a label.
    try {
      parsed = await parseLabelledFeatureText(text, path, format, { labelColumn, ...reading });
    } catch (error) {
      if (!isHyperprotoError(error) || error.code !== ErrorCode.InvalidInput) throw error;
      unlabelled = error.message;
    }
  }
  parsed ??= await parseLabelledFeatureText(text, path, format, {
    ...(labelColumn === undefined ? {} : { skipColumn: labelColumn }),
    ...reading,
  });
  const { rows, cols, data, columnNames, header, skippedColumn, labels, lastLine } = parsed;
  const leftOut = skippedColumn ?? (labels && format === 'csv' ? labelColumn : undefined);
  if (leftOut !== undefined) log(`${path}: left out the label column ${JSON.stringify(leftOut)}`);
  // A file without the column says nothing of labels; one with it but a row unlabelled says which row.
  const hasColumn = format === 'csv' ? leftOut !== undefined : labelColumn !== undefined && firstRowHasKey(text, labelColumn);
  const matrix = toFeatureMatrix({ rows, cols, data }, inputWidth, { source: path, oneBased: true });
  return {
    ...matrix,
    path,
    format,
    ...(columnNames ? { columnNames } : {}),
    ...(header ? { header } : {}),
    ...(lastLine === undefined ? {} : { lastLine }),
    ...(labels ? { labels } : unlabelled !== undefined && hasColumn ? { unlabelled } : {}),
  };
}

/** Whether the first row of JSON-lines text is an object with `key`: the JSON-lines form of a CSV header's column. */
function firstRowHasKey(text: string, key: string): boolean {
  const end = text.indexOf('\n');
  try {
    const first: unknown = JSON.parse(end < 0 ? text : text.slice(0, end));
    return typeof first === 'object' && first !== null && !Array.isArray(first) && Object.hasOwn(first, key);
  } catch {
    return false;
  }
}

/**
 * The feature names of a run saved before its model kept them (a run now keeps the dataset's `featureNames`), from
 * the files dataset's recorded facts: the names of its CSV header, label column left out. A header of column
 * positions (`0,1,2,3`, as pandas writes an array's columns) says nothing of what a column holds and gives none,
 * as does a file too wide for the facts to list its columns.
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
  // As the files dataset reads it: `labelColumn=4` names the header column "4".
  return labelColumnName((datasetSpec?.options as { labelColumn?: unknown } | undefined)?.labelColumn);
}

/**
 * The header's names must be the model's feature names in the model's order, compared as the files dataset
 * compares a split file with its data file. Reordering by name is refused rather than done: a file whose columns
 * were shuffled is more often a mistake upstream than a request.
 */
function checkColumnNames(names: readonly string[], expected: readonly string[], path: string, leftOut: string | undefined): void {
  const difference = columnNamesDifference(names, expected, path, 'the model');
  if (!difference) return;
  const order = `the model takes ${nameList(expected)}, in that order${leftOut === undefined ? '' : ` (label column ${JSON.stringify(leftOut)} left out)`}`;
  throw new HyperprotoError(ErrorCode.InvalidInput, `${difference.text}; ${order}`, {
    hint:
      difference.kind === 'order'
        ? "Write the columns in the model's order; with pandas: df[model_order].to_csv(path, index=False), model_order the list above."
        : 'Give a file with the columns the model was trained on, named as in its training data.',
  });
}
