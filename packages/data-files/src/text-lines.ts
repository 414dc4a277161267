import { createReadStream } from 'node:fs';
import { extname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { FeatureTable } from './feature-table.js';
import { badData, unreadableFile } from './file-errors.js';
import type { WorkPacer } from './work-pacer.js';

// Big enough that the per-chunk overhead vanishes, small enough that a slice of parsing stays well under 100 ms.
const CHUNK_BYTES = 1 << 20;

// A row of features is far shorter than this (16 MiB holds a row of about 2 million 8-character numbers); a longer
// line means a file that is not line-oriented text (a binary file, one huge JSON array). Refusing it early keeps
// a file without newlines from being gathered into one ever-growing string.
export const MAX_LINE_CHARS = 16 * 1024 * 1024;
const MAX_LINE_TEXT = `${MAX_LINE_CHARS / (1024 * 1024)} MiB`;

export interface LineHooks {
  readonly pacer: WorkPacer;
  /** Bytes read so far, after each chunk. */
  readonly onBytes?: (bytes: number) => void;
}

/** Parses a CSV or JSON-lines feature file line by line: `onLine` for each line as it arrives, `finish` once after the last. */
export interface FeatureLineReader {
  onLine(text: string, line: number): void;
  finish(): FeatureTable;
}

/**
 * Cuts text that arrives in pieces into lines, the one definition of a line for every text file: line ends are
 * `\n` or `\r\n`; a byte-order mark before the first line is dropped; a last line without a newline counts, an
 * empty string after a final newline does not; more than MAX_LINE_CHARS before a `\n` is refused, and so is a
 * first line with a `\r` inside (a file whose lines end in `\r` alone). Each piece is searched once, so the time is
 * linear in the text however long its lines.
 */
export class LineSplitter {
  private readonly pending: string[] = [];
  private pendingChars = 0;
  private line = 0;

  constructor(
    private readonly path: string,
    private readonly onLine: (text: string, line: number) => void,
  ) {}

  write(text: string): void {
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      this.checkLength(end - start, text, start, end);
      const tail = text.slice(start, end);
      this.emit(this.pendingChars === 0 ? tail : this.pending.join('') + tail);
      this.pending.length = 0;
      this.pendingChars = 0;
      start = end + 1;
    }
    if (start < text.length) {
      this.checkLength(text.length - start, text, start, text.length);
      this.pending.push(start === 0 ? text : text.slice(start));
      this.pendingChars += text.length - start;
    }
  }

  /** Emits the last line, if it had no newline, and returns the number of lines. */
  end(): number {
    if (this.pendingChars > 0) this.emit(this.pending.join(''));
    this.pending.length = 0;
    this.pendingChars = 0;
    return this.line;
  }

  /** `piece` from `from` to `to` is the part of the line that `more` counts: looked into only to word the refusal. */
  private checkLength(more: number, piece: string, from: number, to: number): void {
    // Counted in UTF-16 code units: each is at least one byte of UTF-8, so a line refused here has over 16 MiB.
    if (this.pendingChars + more > MAX_LINE_CHARS) {
      if (this.line === 0 && (piece.slice(from, to).includes('\r') || this.pending.some((part) => part.includes('\r'))))
        throw this.crOnly();
      throw badData(
        `${this.path} line ${this.line + 1} is longer than ${MAX_LINE_TEXT}: is this a CSV/JSONL file? Every line must hold one row of features`,
      );
    }
  }

  private emit(text: string): void {
    this.line++;
    if (this.line === 1) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      // A carriage return inside the first line: the file ends its lines with \r alone (classic Mac OS), and
      // would otherwise be read as a single row.
      const cr = text.indexOf('\r');
      if (cr >= 0 && cr < text.length - 1) throw this.crOnly();
    }
    this.onLine(text.endsWith('\r') ? text.slice(0, -1) : text, this.line);
  }

  private crOnly() {
    return badData(
      `${this.path} line 1 holds carriage returns (\\r) without newlines: its lines end in \\r alone (old Mac line ends), so it would read as one line; convert them, e.g. tr '\\r' '\\n' < ${this.path} > converted${extname(this.path)}`,
    );
  }
}

/**
 * Calls `onLine` for every line of a UTF-8 text file with its 1-based number, reading it in chunks (never the
 * whole file as one string); lines are cut as LineSplitter says. Returns the number of lines.
 */
export async function forEachLine(path: string, onLine: (text: string, line: number) => void, hooks: LineHooks): Promise<number> {
  const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  const decoder = new StringDecoder('utf8');
  const lines = new LineSplitter(path, onLine);
  let bytes = 0;
  try {
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        lines.write(decoder.write(chunk));
        hooks.onBytes?.(bytes);
        hooks.pacer.check();
        if (hooks.pacer.due()) await hooks.pacer.pause();
      }
    } catch (error) {
      // Errors thrown by onLine are ours already; only the stream's own errors are I/O problems.
      if (error instanceof Error && 'syscall' in error) throw unreadableFile(path, error);
      throw error;
    }
    lines.write(decoder.end());
    return lines.end();
  } finally {
    stream.destroy();
  }
}

/** Calls `onLine` for every line of text already in memory, cut exactly as `forEachLine` cuts a file. */
export function forEachLineOfText(text: string, path: string, onLine: (text: string, line: number) => void): number {
  const lines = new LineSplitter(path, onLine);
  lines.write(text);
  return lines.end();
}
