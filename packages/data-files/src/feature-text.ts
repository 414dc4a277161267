import { csvLineReader, type TextColumnOptions } from './csv-features.js';
import { type CsvHeader, wholeFilePlacement } from './feature-table.js';
import { jsonlLineReader } from './jsonl-features.js';
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
  const reader = format === 'csv' ? csvLineReader(path, options) : jsonlLineReader(path, options);
  forEachLineOfText(text, path, reader.onLine);
  const table = reader.finish();
  const data = new Float32Array(table.rows * table.cols);
  await table.copyInto(wholeFilePlacement(table.rows, data), new WorkPacer(undefined, `reading ${path}`));
  const labels = table.labels && Array.from(table.labels.rowCodes(), (code) => table.labels!.distinct[code]!);
  return {
    rows: table.rows,
    cols: table.cols,
    data,
    ...(table.columnNames ? { columnNames: table.columnNames } : {}),
    ...(table.header ? { header: table.header } : {}),
    ...(table.skippedColumn === undefined ? {} : { skippedColumn: table.skippedColumn }),
    ...(labels ? { labels } : {}),
  };
}
