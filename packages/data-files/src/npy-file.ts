import { open, type FileHandle } from 'node:fs/promises';
import { checkNpyLength, NPY_PREAMBLE_BYTES, npyDataOffset, parseNpyHeader, readInto, type NpyHeader } from '@hyperproto/npy';
import { badData, unreadableFile } from './file-errors.js';

/** A shape as Python writes it, e.g. `(6,)`: the npy package's wording, under the name this package's readers use. */
export { pythonShape as shapeText } from '@hyperproto/npy';

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
    // The first bytes say how long the header is (and refuse what is not a .npy file): read that much, no more.
    const dataOffset = npyDataOffset(await readAt(handle, path, 0, Math.min(fileBytes, NPY_PREAMBLE_BYTES)), path);
    const header = parseNpyHeader(await readAt(handle, path, 0, Math.min(fileBytes, dataOffset)), path);
    return { handle, header, fileBytes };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Checks that the file holds exactly the data its header promises, `itemBytes` per value. */
export function checkDataSize(npy: OpenNpy, path: string, itemBytes: number): void {
  checkNpyLength(npy.header, itemBytes, npy.fileBytes, path);
}

export async function readAt(handle: FileHandle, path: string, position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
  const target = into ?? new Uint8Array(length);
  let done: number;
  try {
    done = await readInto(handle, target.subarray(0, length), position);
  } catch (error) {
    throw unreadableFile(path, error);
  }
  if (done < length)
    throw badData(
      `${path} ended early: expected ${length} bytes at offset ${position}, found ${done}; the file changed while it was read or was cut short`,
    );
  return target.subarray(0, length);
}
