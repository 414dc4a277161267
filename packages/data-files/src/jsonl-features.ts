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
    // JSON.parse keeps the last of a repeated key: the first value would be dropped without a word.
    if (isObject(value) && mayRepeatKey(trimmed, value)) {
      const key = repeatedKey(trimmed);
      if (key !== undefined) {
        throw badData(
          `${path} line ${line}: key ${JSON.stringify(shorten(key))} appears more than once in the object, and only its last value would be read; write each key once per line (remove the repeat, or rename it if both values are needed)`,
        );
      }
    }
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
 * False when no key of `value` can be written twice in `text`, its JSON: the quick test of every object line. Each
 * key written in the text has its `:`, and numbers have none, so no more colons than distinct keys means no key
 * repeats; more (a colon in a string, a nested object, a repeat) leaves it to {@link repeatedKey}.
 */
function mayRepeatKey(text: string, value: Record<string, unknown>): boolean {
  const keys = Object.keys(value).length;
  let colons = 0;
  for (let at = text.indexOf(':'); at >= 0; at = text.indexOf(':', at + 1)) if (++colons > keys) return true;
  return false;
}

// What changes the nesting of JSON text, or starts a string inside which brackets mean nothing.
const JSON_STRUCTURE = /["[\]{}]/g;

/**
 * The first key that a JSON object written in `text` (valid JSON, an object) names twice, decoded, else undefined.
 * Only the object's own keys, which are what a row is read from: nested values are skipped a bracket at a time.
 */
function repeatedKey(text: string): string | undefined {
  const keys = new Set<string>();
  let depth = 0;
  JSON_STRUCTURE.lastIndex = 0;
  for (let match = JSON_STRUCTURE.exec(text); match; match = JSON_STRUCTURE.exec(text)) {
    const at = match.index;
    const char = text[at];
    if (char !== '"') {
      depth += char === '{' || char === '[' ? 1 : -1;
      continue;
    }
    const end = stringEnd(text, at);
    JSON_STRUCTURE.lastIndex = end + 1;
    if (depth !== 1 || !followedByColon(text, end + 1)) continue;
    const quoted = text.slice(at, end + 1);
    // `"a"` and `"\u0061"` are one key: escapes are decoded, as JSON.parse decodes them.
    const key = quoted.includes('\\') ? (JSON.parse(quoted) as string) : quoted.slice(1, -1);
    if (keys.has(key)) return key;
    keys.add(key);
  }
  return undefined;
}

/**
 * Where the JSON string that opens at `open` closes: the first `"` after it not escaped by an odd run of `\`. The
 * end of `text` for a string never closed, which valid JSON has not: the scan then ends rather than starting over.
 */
function stringEnd(text: string, open: number): number {
  let end = text.indexOf('"', open + 1);
  for (;;) {
    if (end < 0) return text.length;
    let backslashes = 0;
    while (text[end - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 0) return end;
    end = text.indexOf('"', end + 1);
  }
}

/** Whether the next character after JSON whitespace from `from` is `:`, which makes the string before it a key. */
function followedByColon(text: string, from: number): boolean {
  let at = from;
  while (text[at] === ' ' || text[at] === '\t' || text[at] === '\n' || text[at] === '\r') at++;
  return text[at] === ':';
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
