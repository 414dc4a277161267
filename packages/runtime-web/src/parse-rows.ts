import { isDecimalNumber, otherBaseProblem } from './contract.js';
import { RuntimeWebError } from './errors.js';

export interface ParsedRows {
  readonly rows: number[][];
  /** The 1-based line of each row in the text, for messages that point back at the input. */
  readonly lines: number[];
  /** A first CSV line of non-numbers, taken as column names and skipped. */
  readonly header: string[] | undefined;
  readonly format: 'csv' | 'jsonl' | 'json';
}

/**
 * Parses feature rows pasted or uploaded by a user: a JSON array of rows, JSON lines (`[1, 2, 3]` or
 * `{"features": [1, 2, 3]}` per line) or CSV (separated by commas, semicolons, tabs or spaces, with an optional
 * header line). Blank lines and lines starting with `#` are skipped. Numbers are plain decimals, as for
 * `hyperproto predict --input`: `0x1F`, `0b101` and `0o17` are refused with the same words. `NaN` and `Infinity`
 * parse as numbers so that `predict` can name the offending value; anything else that is not a number is an error
 * naming its line and column.
 */
export function parseFeatureRows(text: string): ParsedRows {
  const trimmed = text.trim();
  if (trimmed === '') throw invalid('no rows: the input is empty');
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    const whole = tryJson(trimmed);
    if (Array.isArray(whole) && whole.length > 0 && whole.every((row) => Array.isArray(row) || isFeatureObject(row))) {
      const rows = whole.map((row: unknown, index) => jsonRow(row, `row ${index + 1}`));
      return checked({ rows, lines: rows.map((_, i) => i + 1), header: undefined, format: 'json' });
    }
    return parseJsonLines(text);
  }
  return parseCsv(text);
}

function parseJsonLines(text: string): ParsedRows {
  const rows: number[][] = [];
  const lines: number[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `line ${index + 1}`;
    const value = tryJson(line);
    if (value === undefined) throw invalid(`${where} is not valid JSON: ${preview(line)}`);
    rows.push(jsonRow(value, where));
    lines.push(index + 1);
  });
  return checked({ rows, lines, header: undefined, format: 'jsonl' });
}

function parseCsv(text: string): ParsedRows {
  const rows: number[][] = [];
  const lines: number[] = [];
  let header: string[] | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const cells = splitCsvLine(line);
    const values = cells.map(parseNumber);
    // A line of words is a header; `0x1F` is a number written in another base, refused below, not a name.
    if (rows.length === 0 && header === undefined && values.every((v) => v === undefined) && !cells.some(otherBaseProblem)) {
      header = cells;
      return;
    }
    const bad = values.indexOf(undefined);
    if (bad >= 0) throw invalid(`line ${index + 1}, column ${bad + 1}: ${preview(cells[bad] ?? '')} ${notANumber(cells[bad] ?? '')}`);
    rows.push(values as number[]);
    lines.push(index + 1);
  });
  return checked({ rows, lines, header, format: 'csv' });
}

function splitCsvLine(line: string): string[] {
  const separator = line.includes(',') ? ',' : line.includes(';') ? ';' : line.includes('\t') ? '\t' : /\s+/;
  return line.split(separator).map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'));
}

/**
 * A cell's number, or undefined. Only plain decimals count (the model contract's rule, which `predict --input`
 * follows too): `Number()` alone would read `0x1F` as 31 and `''` as 0.
 */
function parseNumber(cell: string): number | undefined {
  if (/^[+-]?nan$/i.test(cell)) return Number.NaN;
  if (/^[+-]?inf(inity)?$/i.test(cell)) return cell.startsWith('-') ? -Infinity : Infinity;
  return isDecimalNumber(cell) ? Number(cell) : undefined;
}

/** Why a cell is not a number, completing `"<cell>" ...`: `0x1F` gets the words `predict --input` uses. */
function notANumber(cell: string): string {
  return otherBaseProblem(cell) ?? 'is not a number';
}

function isFeatureObject(value: unknown): value is { features: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'features' in value;
}

function jsonRow(value: unknown, where: string): number[] {
  const row = isFeatureObject(value) ? value.features : value;
  if (!Array.isArray(row)) throw invalid(`${where} is not an array of numbers (or an object with "features")`);
  return row.map((cell: unknown, index) => {
    if (typeof cell === 'number') return cell;
    // JSON has no NaN or Infinity: accept them spelled as strings so the message can name them.
    const parsed = typeof cell === 'string' ? parseNumber(cell) : undefined;
    if (parsed === undefined) {
      const problem = typeof cell === 'string' ? notANumber(cell) : 'is not a number';
      throw invalid(`${where}, column ${index + 1}: ${clip(JSON.stringify(cell) ?? String(cell))} ${problem}`);
    }
    return parsed;
  });
}

function checked(parsed: ParsedRows): ParsedRows {
  const first = parsed.rows[0];
  if (first === undefined) throw invalid('no rows: the input has only blank lines, comments or a header');
  parsed.rows.forEach((row, index) => {
    if (row.length !== first.length) {
      throw invalid(`ragged rows: line ${parsed.lines[index]} has ${row.length} values, line ${parsed.lines[0]} has ${first.length}`);
    }
  });
  return parsed;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function preview(text: string): string {
  return JSON.stringify(clip(text));
}

function invalid(message: string): RuntimeWebError {
  return new RuntimeWebError('E_INVALID_INPUT', message);
}
