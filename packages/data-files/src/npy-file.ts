import { open, type FileHandle } from 'node:fs/promises';
import { parseNpyHeader, type NpyHeader } from '@hyperproto/npy';
import { badData, unreadableFile } from './file-errors.js';

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A .npy file opened for streaming: its parsed header and the size of its data, checked against the header. */
export interface OpenNpy {
  readonly handle: FileHandle;
  readonly header: NpyHeader;
  readonly fileBytes: number;
}

/** numpy's dtype string split into kind (`f`, `i`, `u`, `b`, `U`, `S`), item size and byte order. */
export interface NpyType {
  readonly kind: string;
  readonly itemBytes: number;
  readonly littleEndian: boolean;
}

export function npyType(descr: string): NpyType | undefined {
  const match = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr);
  if (!match) return undefined;
  const kind = match[2]!;
  const count = Number(match[3]);
  // '<U5' counts 4-byte code points, every other kind counts bytes. '|' and '=' mean the writer's order: take ours.
  return { kind, itemBytes: kind === 'U' ? 4 * count : count, littleEndian: match[1] === '<' || (match[1] !== '>' && HOST_LITTLE_ENDIAN) };
}

// numpy's headers are a few hundred bytes; anything near this is a corrupt length, not a header to read.
const MAX_HEADER_BYTES = 1 << 20;
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

function isNpyStart(bytes: Uint8Array): boolean {
  return (
    bytes.length === 12 &&
    MAGIC.every((byte, i) => bytes[i] === byte) &&
    bytes[7] === 0 &&
    (bytes[6] === 1 || bytes[6] === 2 || bytes[6] === 3)
  );
}

/** Opens `path` and reads its header only; the caller reads the data and closes the handle. */
export async function openNpy(path: string): Promise<OpenNpy> {
  let handle: FileHandle;
  let fileBytes: number;
  try {
    handle = await open(path, 'r');
    fileBytes = (await handle.stat()).size;
  } catch (error) {
    throw unreadableFile(path, error);
  }
  try {
    if (fileBytes === 0) throw badData(`${path} is empty; save an array into it with np.save`);
    // Magic (6) + version (2) + header length (2 or 4): the length tells how much more to read.
    const start = await readAt(handle, path, 0, Math.min(fileBytes, 12));
    // Not a .npy file (or an unknown version): let the header parser say so, before reading any further.
    if (!isNpyStart(start)) parseNpyHeader(start, path);
    const lengthBytes = start[6] === 1 ? 2 : 4;
    const headerLength =
      start.length < 8 + lengthBytes
        ? 0
        : lengthBytes === 2
          ? start[8]! | (start[9]! << 8)
          : new DataView(start.buffer, start.byteOffset).getUint32(8, true);
    if (headerLength > MAX_HEADER_BYTES)
      throw badData(`${path} has a header of ${headerLength} bytes; a .npy header this large is not a plain array, save it with np.save`);
    const prefix = await readAt(handle, path, 0, Math.min(fileBytes, 8 + lengthBytes + headerLength));
    const header = parseNpyHeader(prefix, path);
    return { handle, header, fileBytes };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Checks that the file holds exactly the data its header promises. */
export function checkDataSize(npy: OpenNpy, path: string, itemBytes: number): void {
  const count = npy.header.shape.reduce((product, size) => product * size, 1);
  const expected = count * itemBytes;
  const found = npy.fileBytes - npy.header.dataOffset;
  const promise = `${npy.header.shape.join(' x ')} values of ${itemBytes} bytes (${expected} bytes)`;
  if (found < expected)
    throw badData(`${path} is truncated: the header promises ${promise}, found ${found}; the file was cut short, write it again`);
  if (found > expected)
    throw badData(`${path} has ${found - expected} bytes after the data: the header promises ${promise}; write it again with np.save`);
}

export async function readAt(handle: FileHandle, path: string, position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
  const target = into ?? new Uint8Array(length);
  let done = 0;
  try {
    while (done < length) {
      const { bytesRead } = await handle.read(target, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } catch (error) {
    throw unreadableFile(path, error);
  }
  if (done < length)
    throw badData(
      `${path} ended early: expected ${length} bytes at offset ${position}, found ${done}; the file changed while it was read or was cut short`,
    );
  return target.subarray(0, length);
}

export function shapeText(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}
