import { createReadStream } from 'node:fs';
import { extname } from 'node:path';
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

  /** Lines ended so far: the number of `\n` written. */
  get linesEnded(): number {
    return this.line;
  }

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
      // UTF-16 text without a byte-order mark is valid UTF-8 while it is ASCII, and text decoded before it came
      // here (`forEachLineOfText`) has its byte-order mark as U+FFFD: both leave a NUL by every character.
      const order = text.includes('\0') ? utf16Order(text) : undefined;
      if (order) throw utf16WithoutMark(this.path, order);
      // A carriage return inside the first line: the file ends its lines with \r alone (classic Mac OS), and
      // would otherwise be read as a single row.
      const cr = text.indexOf('\r');
      if (cr >= 0 && cr < text.length - 1) throw this.crOnly();
    }
    this.onLine(text.endsWith('\r') ? text.slice(0, -1) : text, this.line);
  }

  private crOnly() {
    return badData(
      `${this.path} line 1 holds carriage returns (\\r) without newlines: its lines end in \\r alone (old Mac line ends), so it would read as one line; convert them, e.g. tr '\\r' '\\n' < ${this.path} > ${converted(this.path)}`,
    );
  }
}

/**
 * Decodes the bytes of a text file, arriving in pieces, as UTF-8, the one encoding of every text file read: a
 * UTF-16 or UTF-32 byte-order mark, or bytes that are not UTF-8 (a Latin-1 or Windows-1252 file), are refused
 * with the file, line and byte offset. Decoding them anyway would make each such byte U+FFFD, merging labels such
 * as `café` and `cafè` into one class; a U+FFFD written as UTF-8 is text like any other.
 */
export class Utf8Decoder {
  // ignoreBOM keeps a UTF-8 byte-order mark in the text: LineSplitter drops it, for text decoded elsewhere too.
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private bytesBefore = 0;
  /** The incomplete character at the end of the bytes decoded so far, which the decoder holds back. */
  private tail: Uint8Array = new Uint8Array(0);

  constructor(private readonly path: string) {}

  /**
   * The text of the next piece. `linesEnded` counts the `\n` in the text decoded before it: asked only to number
   * the line of a refusal.
   */
  decode(piece: Uint8Array, linesEnded: () => number): string {
    if (this.bytesBefore === 0) checkByteOrderMark(piece, this.path);
    let text: string;
    try {
      text = this.decoder.decode(piece, { stream: true });
    } catch {
      throw this.notUtf8(concat(this.tail, piece), linesEnded);
    }
    this.bytesBefore += piece.length;
    this.tail = incompleteTail(this.tail, piece);
    return text;
  }

  /** The end of the text: refuses a file that ends inside a character. */
  end(linesEnded: () => number): string {
    try {
      return this.decoder.decode();
    } catch {
      throw this.notUtf8(this.tail, linesEnded);
    }
  }

  /** `bytes` start at a character boundary, `this.tail.length` bytes before the piece being decoded. */
  private notUtf8(bytes: Uint8Array, linesEnded: () => number) {
    const at = invalidUtf8At(bytes);
    const start = this.bytesBefore - this.tail.length;
    if (start === 0) {
      // UTF-16 text without a byte-order mark, once it has a character beyond ASCII.
      const newline = bytes.indexOf(0x0a);
      const order = utf16Order(String.fromCharCode(...bytes.subarray(0, Math.min(newline < 0 ? bytes.length : newline, 256))));
      if (order) return utf16WithoutMark(this.path, order);
    }
    let line = linesEnded() + 1;
    for (let i = bytes.indexOf(0x0a); i >= 0 && i < at; i = bytes.indexOf(0x0a, i + 1)) line++;
    const byte = bytes[Math.min(at, bytes.length - 1)]!.toString(16).toUpperCase().padStart(2, '0');
    return badData(
      `${this.path} is not UTF-8 text: line ${line} has the byte 0x${byte} (at byte offset ${start + at}), which is not valid UTF-8 there; hyperproto reads UTF-8: convert the file, e.g. from Latin-1 with iconv -f latin1 -t utf-8 ${this.path} > ${converted(this.path)}`,
    );
  }
}

const BYTE_ORDER_MARKS = [
  // UTF-32LE before UTF-16LE, whose mark it starts with.
  { bytes: [0xff, 0xfe, 0x00, 0x00], encoding: 'UTF-32', order: 'LE' },
  { bytes: [0x00, 0x00, 0xfe, 0xff], encoding: 'UTF-32', order: 'BE' },
  { bytes: [0xff, 0xfe], encoding: 'UTF-16', order: 'LE' },
  { bytes: [0xfe, 0xff], encoding: 'UTF-16', order: 'BE' },
] as const;

function checkByteOrderMark(start: Uint8Array, path: string): void {
  const mark = BYTE_ORDER_MARKS.find(({ bytes }) => bytes.every((byte, i) => start[i] === byte));
  if (mark)
    throw badData(
      `${path} is ${mark.encoding} text (it starts with a ${mark.encoding}${mark.order} byte-order mark); hyperproto reads UTF-8: convert it, e.g. iconv -f ${mark.encoding.toLowerCase()} -t utf-8 ${path} > ${converted(path)}`,
    );
}

/**
 * 'LE' or 'BE' when the start of a first line has a NUL after (before) every character and nowhere else: UTF-16
 * text of ASCII characters, each byte read as one character.
 */
function utf16Order(firstLine: string): 'LE' | 'BE' | undefined {
  const sample = firstLine.slice(0, 128);
  let even = 0;
  let odd = 0;
  for (let i = sample.indexOf('\0'); i >= 0; i = sample.indexOf('\0', i + 1)) i % 2 === 0 ? even++ : odd++;
  if (even + odd === 0) return undefined;
  // A quarter, not a half: characters beyond ASCII have no NUL byte (and a decoded byte-order mark leads two).
  const enough = sample.length / 4;
  if (odd >= enough && even === 0) return 'LE';
  if (even >= enough && odd === 0) return 'BE';
  return undefined;
}

function utf16WithoutMark(path: string, order: 'LE' | 'BE') {
  return badData(
    `${path} looks like UTF-16${order} text (its first line has a NUL byte ${order === 'LE' ? 'after' : 'before'} each character); hyperproto reads UTF-8: convert it, e.g. iconv -f utf-16${order.toLowerCase()} -t utf-8 ${path} > ${converted(path)}`,
  );
}

function converted(path: string): string {
  return `converted${extname(path)}`;
}

/** The incomplete character at the end of `before` followed by `piece` (an empty array when the last one is complete). */
function incompleteTail(before: Uint8Array, piece: Uint8Array): Uint8Array {
  // An incomplete character has at most 3 bytes: in a piece of 3 or more it lies within the piece.
  const bytes = piece.length >= 3 ? piece : concat(before, piece);
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? bytes.slice(bytes.length - back) : new Uint8Array(0);
  }
  return new Uint8Array(0);
}

/** Where the first character that is not valid UTF-8 starts in `bytes` (which start at a character boundary), as the WHATWG decoder judges. */
function invalidUtf8At(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    // The bounds of the second byte exclude overlong forms, surrogates and code points past U+10FFFF.
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k < length; k++) {
      const byte = bytes[i + k];
      if (byte === undefined || byte < (k === 1 ? low : 0x80) || byte > (k === 1 ? high : 0xbf)) return i;
    }
    i += length;
  }
  return bytes.length;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/** The text of a whole file already read (a list of class names, `predict --input`), decoded as `Utf8Decoder` says. */
export function decodeTextFile(bytes: Uint8Array, path: string): string {
  const decoder = new Utf8Decoder(path);
  const text = decoder.decode(bytes, () => 0);
  return text + decoder.end(() => text.split('\n').length - 1);
}

/**
 * Calls `onLine` for every line of a UTF-8 text file with its 1-based number, reading it in chunks (never the
 * whole file as one string); bytes are decoded as Utf8Decoder says and lines cut as LineSplitter says. Returns
 * the number of lines.
 */
export async function forEachLine(path: string, onLine: (text: string, line: number) => void, hooks: LineHooks): Promise<number> {
  const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  const decoder = new Utf8Decoder(path);
  const lines = new LineSplitter(path, onLine);
  let bytes = 0;
  try {
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        lines.write(decoder.decode(chunk, () => lines.linesEnded));
        hooks.onBytes?.(bytes);
        hooks.pacer.check();
        if (hooks.pacer.due()) await hooks.pacer.pause();
      }
    } catch (error) {
      // Errors thrown by onLine are ours already; only the stream's own errors are I/O problems.
      if (error instanceof Error && 'syscall' in error) throw unreadableFile(path, error);
      throw error;
    }
    lines.write(decoder.end(() => lines.linesEnded));
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
