import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { WorkPacer } from './work-pacer.js';
import { unreadableFile } from './file-errors.js';

// Big enough that the per-chunk overhead vanishes, small enough that a slice of parsing stays well under 100 ms.
const CHUNK_BYTES = 1 << 20;

export interface LineHooks {
  readonly pacer: WorkPacer;
  /** Bytes read so far, after each chunk. */
  readonly onBytes?: (bytes: number) => void;
}

/**
 * Calls `onLine` for every line of a UTF-8 text file with its 1-based number, reading it in chunks (never the
 * whole file as one string). Line ends are `\n` or `\r\n`; a byte-order mark is dropped; a last line without a
 * newline counts, an empty string after a final newline does not. Returns the number of lines.
 */
export async function forEachLine(path: string, onLine: (text: string, line: number) => void, hooks: LineHooks): Promise<number> {
  const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let line = 0;
  let bytes = 0;
  const emit = (text: string) => {
    line++;
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    onLine(text.endsWith('\r') ? text.slice(0, -1) : text, line);
  };
  try {
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        const text = carry + decoder.write(chunk);
        let start = 0;
        for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
          emit(text.slice(start, end));
          start = end + 1;
        }
        carry = text.slice(start);
        hooks.onBytes?.(bytes);
        hooks.pacer.check();
        if (hooks.pacer.due()) await hooks.pacer.pause();
      }
    } catch (error) {
      // Errors thrown by onLine are ours already; only the stream's own errors are I/O problems.
      if (error instanceof Error && 'syscall' in error) throw unreadableFile(path, error);
      throw error;
    }
    const last = carry + decoder.end();
    if (last !== '') emit(last);
    return line;
  } finally {
    stream.destroy();
  }
}
