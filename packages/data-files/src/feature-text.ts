import { csvLineReader, type TextColumnOptions } from './csv-features.js';
import { type CsvHeader, wholeFilePlacement } from './feature-table.js';
import { jsonlLineReader } from './jsonl-features.js';
import type { LabelValues } from './label-values.js';
import { forEachLineOfText } from './text-lines.js';
import { WorkPacer } from './work-pacer.js';

/** Feature rows read from the text of a CSV or JSON-lines file. */
export interface TextFeatures {
  readonly rows: number;
  readonly cols: number;
  /** Row-major float32 features, every one finite. */
  readonly data: Float32Array;
  /** Column names from a CSV header line, label column and skipped column excluded. */
  readonly columnNames?: readonly string[];
  /** What a CSV file's first line was read as (a header of column positions drops what may be a data row). */
  readonly header?: CsvHeader;
  /** `skipColumn`, when a CSV header had it and its values were left unread. */
  readonly skippedColumn?: string;
  /** Each row's label, when `labelColumn` names where they are. */
  readonly labels?: readonly string[];
  /** 1-based line of the last row: where `checkLabelCount` says a row without a label is. */
  readonly lastLine?: number;
}

/** {@link parseFeatureText}'s result with the labels as read: texts that remember their line, for messages. */
export interface LabelledTextFeatures extends Omit<TextFeatures, 'labels'> {
  /** The `labelColumn` values, when the file has that column. */
  readonly labels?: LabelValues;
}

/**
 * Feature rows from the text of a CSV or JSON-lines file already in memory (`predict --input`), parsed by the
 * very readers the `files` dataset streams its files through: line ends, blank lines, the header rule, quoting,
 * number syntax and every message (1-based line and column) are the same for `predict` as for `train`.
 * `skipColumn` leaves out a header column without reading it: the label column of rows still to be labelled.
 */
export async function parseFeatureText(
  text: string,
  path: string,
  format: 'csv' | 'jsonl',
  options: Pick<TextColumnOptions, 'labelColumn' | 'skipColumn'> = {},
): Promise<TextFeatures> {
  const { labels, ...parsed } = await parseLabelledFeatureText(text, path, format, options);
  return labels ? { ...parsed, labels: Array.from(labels.rowCodes(), (code) => labels.distinct[code]!) } : parsed;
}

/**
 * {@link parseFeatureText} keeping the labels as {@link LabelValues}: what `indexClasses` takes, so that `predict`
 * maps a label column to the model's classes as `train` maps it, with the same messages naming file and line.
 */
export async function parseLabelledFeatureText(
  text: string,
  path: string,
  format: 'csv' | 'jsonl',
  options: Pick<TextColumnOptions, 'labelColumn' | 'skipColumn' | 'onHeader'> = {},
): Promise<LabelledTextFeatures> {
  const reader = format === 'csv' ? csvLineReader(path, options) : jsonlLineReader(path, options);
  forEachLineOfText(text, path, reader.onLine);
  const table = reader.finish();
  const data = new Float32Array(table.rows * table.cols);
  await table.copyInto(wholeFilePlacement(table.rows, data), new WorkPacer(undefined, `reading ${path}`));
  return {
    rows: table.rows,
    cols: table.cols,
    data,
    ...(table.columnNames ? { columnNames: table.columnNames } : {}),
    ...(table.header ? { header: table.header } : {}),
    ...(table.skippedColumn === undefined ? {} : { skippedColumn: table.skippedColumn }),
    ...(table.labels ? { labels: table.labels } : {}),
    ...(table.lastLine === undefined ? {} : { lastLine: table.lastLine }),
  };
}
