import { splitCsvLine } from './csv-fields.js';
import { hasDecimalComma, isDecimalNumber, isMissingValue, looksNumeric, parseDecimalField } from './decimal-field.js';
import type { CsvHeader, FeatureTable } from './feature-table.js';
import { badData, count } from './file-errors.js';
import { LabelValues, missingLabel } from './label-values.js';
import { RowBlocks } from './row-blocks.js';
import { type FeatureLineReader, forEachLine, type LineHooks } from './text-lines.js';

/** Which columns of a CSV or JSON-lines file are not features. */
export interface TextColumnOptions {
  /** Header name (CSV) or object key (JSON lines) of the labels, when they live in the feature file. */
  readonly labelColumn?: string;
  /** The separate labels file of this features file, if any: named in the hint for a column of words. */
  readonly labelsPath?: string;
  /**
   * A column (other than `labelColumn`) left out without reading its values, when the header has it: the label
   * column of a file to classify, blank in rows not yet labelled. JSON lines read only `features` and
   * `labelColumn`, so any other key is left unread already.
   */
  readonly skipColumn?: string;
  /**
   * Refuse a header that names two columns alike: the names of a training file become the model's feature names,
   * by which rows to classify are matched, so each must name one column.
   */
  readonly distinctNames?: boolean;
  /**
   * Called with a CSV header as soon as it is read, before any row: its names without the label and skipped
   * columns, what it was read as, and which of those columns it had. A caller that knows the columns it needs
   * (`predict`, from the model) refuses other ones here, before a value of a column it does not take is judged.
   */
  readonly onHeader?: (header: CsvHeaderRead) => void;
}

/** A CSV header as `onHeader` is told it. */
export interface CsvHeaderRead {
  /** The names of the feature columns: the label and skipped columns left out. */
  readonly columnNames: readonly string[];
  readonly kind: CsvHeader;
  /** The label or skipped column, when the header has it. */
  readonly leftOut?: string;
}

export interface TextFeatureOptions extends TextColumnOptions {
  readonly hooks: LineHooks;
}

/**
 * Features from a CSV file: comma-separated decimal numbers, one row per line, with an optional header line
 * (see `isCsvHeader`). With `labelColumn` the header is required and that column holds the labels (any text);
 * every other field must be a finite decimal number.
 */
export async function readCsvFeatures(path: string, { hooks, ...columns }: TextFeatureOptions): Promise<FeatureTable> {
  const reader = csvLineReader(path, { ...columns, distinctNames: true });
  await forEachLine(path, reader.onLine, hooks);
  return reader.finish();
}

/**
 * How to read the labels from the header column `name`: `labelColumn=NAME (--dataset-option labelColumn=NAME)`,
 * the flag quoted for a shell when the name needs it.
 */
export function readLabelsFromColumn(name: string): string {
  const option = `labelColumn=${name}`;
  const flag = /^[\w.-]+$/.test(name) ? option : `'${option.replaceAll("'", "'\\''")}'`;
  return `${option} (--dataset-option ${flag})`;
}

/**
 * Whether the first line of a CSV file is a header. It is when none of its fields is a number (`a,b,label`), or
 * when its numbers are the column positions 0, 1, 2, ... in order: the names pandas gives the columns of a
 * DataFrame made from an array, which `df.to_csv()` writes (`0,1,2,3`; `0,1,2,3,label` with a label column;
 * `,0,1,2,3` with the row index first). A file without a header whose first row is exactly 0, 1, 2, ... is read
 * as having one: give such a file a header line.
 */
export function isCsvHeader(fields: readonly string[]): boolean {
  return csvHeader(fields) !== undefined;
}

/** The kind of header the first line of a CSV file is (see `isCsvHeader`), or undefined for a data row. */
function csvHeader(fields: readonly string[]): CsvHeader | undefined {
  let position = 0;
  for (const field of fields) {
    if (!looksNumeric(field)) continue;
    if (field !== String(position)) return undefined;
    position++;
  }
  return position > 0 ? 'column positions' : 'names';
}

const SEPARATORS = [
  { char: '\t', name: 'tab', shell: '\\t' },
  { char: ';', name: 'semicolon', shell: ';' },
] as const;

/**
 * Why a CSV line looks written with another separator, or undefined: tabs or semicolons and no commas (a TSV
 * file, or a spreadsheet's CSV in a locale whose decimal mark is a comma), or numbers with decimal commas between
 * them. Asked of the first line before it is taken for a header, so that such a file is not read as one column
 * named after its first row.
 */
function otherSeparator(path: string, text: string, line: number): string | undefined {
  const trimmed = text.trim();
  for (const { char, name, shell } of SEPARATORS) {
    if (!trimmed.includes(char)) continue;
    if (!trimmed.includes(',')) {
      return `${path} line ${line} looks ${name}-separated (it has ${name}s and no commas); hyperproto reads comma-separated values only: convert the file, e.g. tr '${shell}' ',' < ${path} > converted.csv, or write it with pandas' to_csv(path, index=False), which separates with commas`;
    }
    const fields = trimmed.split(char).map((field) => field.trim().replace(/^"(.*)"$/, '$1'));
    const comma = fields.find(hasDecimalComma);
    if (comma !== undefined && fields.every((field) => hasDecimalComma(field) || isDecimalNumber(field))) {
      return `${path} line ${line} looks ${name}-separated with decimal commas (${JSON.stringify(shorten(comma))}); hyperproto reads comma-separated values with decimal points: convert the file, e.g. tr ',${shell}' '.,' < ${path} > converted.csv, or pandas' read_csv(path, sep='${shell}', decimal=',') and then to_csv(out, index=False)`;
    }
  }
  return undefined;
}

/**
 * The one CSV parser: `train` (the files dataset) streams a file through it, `predict` the text of one, so a
 * file means the same to both. Blank lines may only follow the last row: one between rows would shift the rows
 * after it against their labels.
 */
export function csvLineReader(
  path: string,
  { labelColumn, labelsPath, skipColumn, distinctNames, onHeader }: TextColumnOptions = {},
): FeatureLineReader {
  let header: string[] | undefined;
  let headerKind: CsvHeader | undefined;
  let width = -1;
  let widthLine = 0;
  let labelIndex = -1;
  let skipIndex = -1;
  let blocks: RowBlocks | undefined;
  let labels: LabelValues | undefined;
  let blank: number | undefined;
  let lastLine = 0;

  /** The header's names of the feature columns: all but the label and skipped columns. */
  const featureNames = (names: readonly string[]) => names.filter((_, k) => k !== labelIndex && k !== skipIndex);
  const column = (k: number) => `column ${k + 1}${header ? ` (${JSON.stringify(shorten(header[k]!))})` : ''}`;

  /** More about a field that is not a number: a separator inside it, or a named column of words beside a labels file. */
  const fieldHint = (field: string, k: number): string => {
    const separator = SEPARATORS.find(({ char }) => field.includes(char));
    if (separator) return ` (it holds a ${separator.name}: hyperproto separates fields with commas only)`;
    if (headerKind !== 'names' || labelsPath === undefined || looksNumeric(field) || isMissingValue(field) || hasDecimalComma(field))
      return '';
    const name = header![k]!;
    return `; if column ${JSON.stringify(shorten(name))} holds the labels, read them from it with ${readLabelsFromColumn(name)} instead of ${labelsPath}, or drop the column`;
  };

  const onLine = (text: string, line: number) => {
    if (text.trim() === '') {
      blank ??= line;
      return;
    }
    if (blank !== undefined) throw badData(`${path} line ${blank} is empty; remove blank lines between rows (every line is one row)`);
    const fields = splitCsvLine(text);
    if (!fields) throw badData(`${path} line ${line} has a quote that is not closed; a quoted field must end on its own line`);

    if (width < 0) {
      const separator = otherSeparator(path, text, line);
      if (separator) throw badData(separator);
      width = fields.length;
      widthLine = line;
      headerKind = csvHeader(fields);
      if (!headerKind) refuseMixedHeader(path, line, fields);
      if (headerKind) {
        const unnamed = fields.indexOf('');
        if (unnamed >= 0) {
          // An unnamed first column is the row index that pandas' to_csv() writes by default: refuse rather than learn from it.
          const fix = unnamed === 0 ? 'pandas writes its row index so: save with df.to_csv(path, index=False)' : 'name every column';
          throw badData(`${path} line ${line} looks like a header but column ${unnamed + 1} has no name; ${fix}`);
        }
        header = fields;
      }
      if (labelColumn !== undefined) {
        if (!header) {
          if (!looksNumeric(labelColumn) && fields.includes(labelColumn)) refuseNumberNames(path, line, fields);
          throw badData(
            `${path} line ${line} is not a header line, but labelColumn ${JSON.stringify(labelColumn)} needs one; add a first line naming the columns`,
          );
        }
        labelIndex = header.indexOf(labelColumn);
        if (labelIndex < 0) {
          throw badData(
            `${path} line ${line}: the header has no column ${JSON.stringify(labelColumn)} (it has ${nameList(header)}); set labelColumn to one of them`,
          );
        }
        if (header.indexOf(labelColumn, labelIndex + 1) >= 0)
          throw badData(`${path} line ${line}: the header names column ${JSON.stringify(labelColumn)} twice; rename one`);
        labels = new LabelValues(`${path} ${column(labelIndex)}`, 'line');
      }
      if (header && skipColumn !== undefined && skipColumn !== labelColumn) {
        skipIndex = header.indexOf(skipColumn);
        if (skipIndex >= 0 && header.indexOf(skipColumn, skipIndex + 1) >= 0)
          throw badData(`${path} line ${line}: the header names column ${JSON.stringify(skipColumn)} twice; rename one`);
      }
      if (header && distinctNames) refuseRepeatedName(path, line, header);
      const featureCols = width - (labelIndex >= 0 ? 1 : 0) - (skipIndex >= 0 ? 1 : 0);
      if (featureCols === 0) throw badData(`${path} line ${line} has no feature columns besides the labels`);
      blocks = new RowBlocks(featureCols);
      if (header) {
        const leftOut = skipIndex >= 0 ? skipColumn : labelIndex >= 0 ? labelColumn : undefined;
        onHeader?.({ columnNames: featureNames(header), kind: headerKind!, ...(leftOut === undefined ? {} : { leftOut }) });
        return;
      }
    }

    if (fields.length !== width) {
      throw badData(
        `${path} line ${line} has ${count(fields.length, 'field')} but ${header ? 'the header' : `line ${widthLine}`} has ${width}; every row needs the same columns (ragged rows are refused)`,
      );
    }
    const target = blocks!;
    let out = target.append();
    const values = target.current;
    for (let k = 0; k < width; k++) {
      if (k === skipIndex) continue;
      const field = fields[k]!;
      if (k === labelIndex) {
        const missing = missingLabel(field);
        if (missing) throw badData(`${path} line ${line}, ${column(k)}: ${missing}`);
        labels!.add(field, line);
        continue;
      }
      const value = parseDecimalField(field);
      if (typeof value === 'string')
        throw badData(`${path} line ${line}, ${column(k)}: ${JSON.stringify(shorten(field))} ${value}${fieldHint(field, k)}`);
      values[out++] = value;
    }
    lastLine = line;
  };

  const finish = (): FeatureTable => {
    if (!blocks || blocks.rows === 0) {
      throw badData(
        header
          ? `${path} has a header line but no data rows; add rows below the header`
          : `${path} is empty; write one row of comma-separated numbers per line`,
      );
    }
    const rows = blocks;
    const columnNames = header && featureNames(header);
    return {
      path,
      format: 'csv',
      rows: rows.rows,
      cols: rows.cols,
      ...(columnNames ? { columnNames } : {}),
      ...(headerKind ? { header: headerKind } : {}),
      ...(skipIndex >= 0 ? { skippedColumn: skipColumn } : {}),
      ...(labels ? { labels } : {}),
      lastLine,
      copyInto: (placement, pacer) => rows.copyInto(placement, pacer),
      release: async () => rows.release(),
    };
  };

  return { onLine, finish };
}

/** Refuses the first name a header gives two columns, naming both positions (1-based, as every column message does). */
function refuseRepeatedName(path: string, line: number, header: readonly string[]): void {
  const firstAt = new Map<string, number>();
  header.forEach((name, k) => {
    const first = firstAt.get(name);
    if (first === undefined) return void firstAt.set(name, k);
    throw badData(
      `${path} line ${line}: columns ${first + 1} and ${k + 1} are both named ${JSON.stringify(shorten(name))}; a model takes its features by name, so every column needs a name of its own: rename one`,
    );
  });
}

/**
 * A first line of mostly words with a number or two among them (`age,income,height,2020`) is a header with a
 * column named by a number, which the header rule cannot tell from data: say so, rather than that "age" is not a
 * number.
 */
function refuseMixedHeader(path: string, line: number, fields: readonly string[]): void {
  const numbers = fields.filter(looksNumeric);
  const words = fields.filter((field) => field !== '' && !looksNumeric(field) && !isMissingValue(field) && !hasDecimalComma(field));
  if (words.length <= numbers.length) return;
  throw badData(
    `${path} line ${line} looks like a header (${nameList(words)}) but names ${numbers.length === 1 ? 'a column' : 'columns'} with ${numbers.length === 1 ? 'a number' : 'numbers'} (${nameList(numbers)}); a header names every column with text: rename ${numbers.length === 1 ? 'it' : 'them'} (e.g. "x${shorten(numbers[0]!)}") or remove the header line`,
  );
}

/**
 * A first line that names the label column among numbers other than the column positions (`400,410,...,class`, as
 * for wavelengths): such names cannot be told from data, so the line is read as a row; say so, not that it names
 * nothing.
 */
function refuseNumberNames(path: string, line: number, fields: readonly string[]): never {
  const numbers = fields.filter(looksNumeric);
  const examples = numbers.slice(0, 2).map((name) => JSON.stringify(`w${shorten(name)}`));
  throw badData(
    `${path} line ${line} looks like a header, but its names must not be numbers other than the column positions 0, 1, 2, ... (${nameList(numbers)}): those cannot be told from data, so it was read as a row of data; prefix those names with a letter (e.g. ${examples.join(', ')}, ...)`,
  );
}

/** Text from a file, cut short for a message: a field can be megabytes long. */
export function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

// Enough header names to recognise the file by; a wide file's full list would bury the message.
const LISTED_NAMES = 10;

/** Names for a message, quoted and shortened, at most LISTED_NAMES of them. */
export function nameList(names: readonly string[]): string {
  const listed = names.slice(0, LISTED_NAMES).map((name) => JSON.stringify(shorten(name)));
  return names.length > LISTED_NAMES ? `${listed.join(', ')} and ${names.length - LISTED_NAMES} more` : listed.join(', ');
}
