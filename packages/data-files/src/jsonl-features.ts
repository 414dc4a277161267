import { shorten, type TextColumnOptions, type TextFeatureOptions } from './csv-features.js';
import type { FeatureTable } from './feature-table.js';
import { MISSING_VALUE_FIX } from './decimal-field.js';
import { badData, count } from './file-errors.js';
import { LabelValues, MISSING_LABEL_FIX, missingLabel } from './label-values.js';
import { RowBlocks } from './row-blocks.js';
import { type FeatureLineReader, forEachLine } from './text-lines.js';

// JSON has no NaN or Infinity, but Python's json.dumps writes them: recognise them to say what is wrong.
const NON_FINITE_TOKEN = /-?\b(?:NaN|Infinity)\b/g;

/**
 * Features from a JSON-lines file: each line a JSON array of numbers, or an object whose `features` key holds
 * one. With `labelColumn` every line must be an object and that key holds its label (a string or an integer).
 */
export async function readJsonlFeatures(path: string, { hooks, ...columns }: TextFeatureOptions): Promise<FeatureTable> {
  const reader = jsonlLineReader(path, columns);
  await forEachLine(path, reader.onLine, hooks);
  return reader.finish();
}

/**
 * The one JSON-lines parser: `train` (the files dataset) streams a file through it, `predict` the text of one, so
 * a file means the same to both. Blank lines may only follow the last row, as in CSV.
 */
export function jsonlLineReader(path: string, { labelColumn }: TextColumnOptions = {}): FeatureLineReader {
  let blocks: RowBlocks | undefined;
  let widthLine = 0;
  const labels = labelColumn === undefined ? undefined : new LabelValues(`${path} key ${JSON.stringify(labelColumn)}`, 'line');
  let blank: number | undefined;
  let lastLine = 0;

  const onLine = (text: string, line: number) => {
    const trimmed = text.trim();
    if (trimmed === '') {
      blank ??= line;
      return;
    }
    if (blank !== undefined) throw badData(`${path} line ${blank} is empty; remove blank lines between rows (every line is one row)`);
    const value = parseLine(trimmed, path, line, labelColumn);
    const row = Array.isArray(value) ? value : isObject(value) ? value.features : undefined;
    if (!Array.isArray(row)) {
      const found = isObject(value) ? `an object whose "features" is ${describeJson(value.features)}` : describeJson(value);
      throw badData(`${path} line ${line} holds ${found}; expected a JSON array of numbers or an object with a "features" array`);
    }
    if (labels) {
      if (!isObject(value)) {
        throw badData(
          `${path} line ${line} is an array, but labelColumn ${JSON.stringify(labelColumn)} needs objects such as {"features": [...], ${JSON.stringify(labelColumn)}: "cat"}`,
        );
      }
      labels.add(labelText(value[labelColumn!], path, line, labelColumn!), line);
    }
    if (!blocks) {
      if (row.length === 0) throw badData(`${path} line ${line} has no features; every row needs at least one number`);
      blocks = new RowBlocks(row.length);
      widthLine = line;
    }
    if (row.length !== blocks.cols) {
      throw badData(
        `${path} line ${line} has ${count(row.length, 'feature')} but line ${widthLine} has ${blocks.cols}; every row needs the same number (ragged rows are refused)`,
      );
    }
    let out = blocks.append();
    const values = blocks.current;
    for (let k = 0; k < row.length; k++) {
      const item: unknown = row[k];
      if (item === null) throw badData(`${path} line ${line}, column ${k + 1}: null marks a missing value; ${MISSING_VALUE_FIX}`);
      if (typeof item !== 'number') {
        throw badData(`${path} line ${line}, column ${k + 1}: ${describeJson(item)} is not a number; features must be JSON numbers`);
      }
      const stored = Math.fround(item);
      if (!Number.isFinite(stored)) {
        throw badData(
          `${path} line ${line}, column ${k + 1}: ${item} does not fit a float32 (largest magnitude about 3.4e38); rescale the feature`,
        );
      }
      values[out++] = stored;
    }
    lastLine = line;
  };

  const finish = (): FeatureTable => {
    if (!blocks || blocks.rows === 0) throw badData(`${path} is empty; write one JSON array of numbers per line`);
    const rows = blocks;
    return {
      path,
      format: 'jsonl',
      rows: rows.rows,
      cols: rows.cols,
      ...(labels ? { labels } : {}),
      lastLine,
      copyInto: (placement, pacer) => rows.copyInto(placement, pacer),
      release: async () => rows.release(),
    };
  };

  return { onLine, finish };
}

function parseLine(text: string, path: string, line: number, labelColumn: string | undefined): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const nonFinite = nonFiniteColumn(text, labelColumn);
    if (nonFinite?.column === 'label')
      throw badData(`${labelPlace(path, line, labelColumn!)}: ${nonFinite.token} marks a missing label; ${MISSING_LABEL_FIX}`);
    if (nonFinite) {
      const what = nonFinite.token.endsWith('NaN')
        ? `marks a missing value; ${MISSING_VALUE_FIX}`
        : 'is not a finite number; replace or drop rows with infinite values';
      throw badData(`${path} line ${line}, column ${nonFinite.column}: ${nonFinite.token} ${what}`);
    }
    throw badData(`${path} line ${line} is not valid JSON (${(error as Error).message}); write one JSON array per line`);
  }
}

/**
 * Where the first NaN/Infinity sits, a feature column or the label (Python's json.dumps writes a missing label
 * as NaN), found by parsing the line again with those tokens as null.
 */
function nonFiniteColumn(text: string, labelColumn: string | undefined): { token: string; column: number | 'label' } | undefined {
  const token = text.match(NON_FINITE_TOKEN)?.[0];
  if (!token) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text.replace(NON_FINITE_TOKEN, 'null'));
  } catch {
    return undefined;
  }
  const row = Array.isArray(value) ? value : isObject(value) ? value.features : undefined;
  const index = Array.isArray(row) ? row.indexOf(null) : -1;
  if (index >= 0) return { token, column: index + 1 };
  return labelColumn !== undefined && isObject(value) && value[labelColumn] === null ? { token, column: 'label' } : undefined;
}

function labelText(value: unknown, path: string, line: number, key: string): string {
  if (value === null) throw badData(`${labelPlace(path, line, key)}: null marks a missing label; ${MISSING_LABEL_FIX}`);
  if (typeof value === 'string') {
    const missing = missingLabel(value.trim());
    if (missing) throw badData(`${labelPlace(path, line, key)}: ${missing}`);
    return value.trim();
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw badData(
    `${path} line ${line}: label ${JSON.stringify(key)} is ${describeJson(value)}; every line needs a label that is a string or an integer`,
  );
}

/** `y.jsonl line 4, key "label"`: where a line's label is, for messages. */
function labelPlace(path: string, line: number, key: string): string {
  return `${path} line ${line}, key ${JSON.stringify(key)}`;
}

/**
 * A JSON value for a message: its type, with short numbers, booleans and strings shown. Never the value itself,
 * which may be megabytes long or nested too deep to turn back into text.
 */
export function describeJson(value: unknown): string {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(shorten(value))}`;
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (value === undefined) return 'missing';
  return 'an object';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
