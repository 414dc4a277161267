import { ErrorCode, HyperprotoError, type Matrix } from '@hyperproto/core';
import { parsePythonLiteral, PythonLiteralError, pythonRepr, type PythonValue } from './python-literal.js';

/** A parsed .npy array, always as row-major (C order) float32. */
export interface NpyArray {
  /** Format version of the file, e.g. `1.0`. */
  readonly version: string;
  /** The dtype the file declared, e.g. `<f4`; the data is float32 whatever it was. */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Whether the file stored the data column-major; `data` has been reordered to row-major either way. */
  readonly fortranOrder: boolean;
  readonly data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const MAGIC_LENGTH = MAGIC.length + 2;
/** numpy aligns the data to 64 bytes so that memory-mapped arrays are aligned for any dtype. */
const ARRAY_ALIGN = 64;
/** numpy leaves room for this many digits in the growable axis so that the header can be rewritten in place. */
const GROWTH_AXIS_MAX_DIGITS = 21;

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface FloatType {
  readonly bytes: 4 | 8;
  readonly littleEndian: boolean;
}

function floatType(descr: string): FloatType | undefined {
  const match = /^([<>|=])f([48])$/.exec(descr);
  if (!match) return undefined;
  // '|' (order not applicable) and '=' (native) mean the writer's byte order; take the host's.
  const littleEndian = match[1] === '<' || (match[1] !== '>' && HOST_LITTLE_ENDIAN);
  return { bytes: match[2] === '4' ? 4 : 8, littleEndian };
}

/** What a .npy header says, and where the data starts: enough to stream the data without reading it all. */
export interface NpyHeader {
  /** Format version of the file, e.g. `1.0`. */
  readonly version: string;
  /** The dtype as written, e.g. `<f4` or `<i8`; not checked here, so callers can accept other types. */
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly fortranOrder: boolean;
  /** Byte offset of the first value. */
  readonly dataOffset: number;
}

/** Bytes that hold the magic, the version and the longest header length field: enough to know the header's size. */
export const NPY_PREAMBLE_BYTES = MAGIC_LENGTH + 4;
// numpy's headers are a few hundred bytes; a length near this is corruption, not a header worth reading.
const MAX_HEADER_BYTES = 1 << 20;

/**
 * Where the data of a .npy file starts (the magic, version and header included), from its first bytes: at least
 * {@link NPY_PREAMBLE_BYTES} of them, or the whole file when it is shorter. Refuses what is not a .npy file of a
 * known version, and header lengths no array needs, so that a reader knows how much to read before reading it.
 */
export function npyDataOffset(bytes: Uint8Array, source = 'npy data'): number {
  const fail = failure(source);
  if (bytes.length < MAGIC_LENGTH || MAGIC.some((byte, i) => bytes[i] !== byte)) {
    const zip = bytes[0] === 0x50 && bytes[1] === 0x4b;
    fail(
      zip ? ' is a zip archive (.npz), not a single .npy array' : ' is not a .npy file: it does not start with "\\x93NUMPY"',
      zip
        ? 'Save one array with np.save, or extract the array you want from the .npz archive.'
        : 'Save the array with np.save(path, array) (for a torch tensor, np.save(path, tensor.numpy())).',
    );
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (!(minor === 0 && (major === 1 || major === 2 || major === 3))) {
    fail(` uses .npy format version ${major}.${minor}; supported versions are 1.0, 2.0 and 3.0`);
  }
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < MAGIC_LENGTH + lengthBytes) fail(' is truncated: it ends inside the header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = lengthBytes === 2 ? view.getUint16(MAGIC_LENGTH, true) : view.getUint32(MAGIC_LENGTH, true);
  if (headerLength > MAX_HEADER_BYTES)
    fail(` declares a header of ${headerLength} bytes; a plain array's header is a few hundred, so the file is corrupt`);
  return MAGIC_LENGTH + lengthBytes + headerLength;
}

/**
 * Parses the magic, version and header dict at the start of a .npy file. `bytes` needs to hold the header only
 * (the data may follow or not); `source` names the file in error messages. The dtype is returned unchecked.
 */
export function parseNpyHeader(bytes: Uint8Array, source = 'npy data'): NpyHeader {
  const fail = failure(source);
  const dataStart = npyDataOffset(bytes, source);
  const major = bytes[6]!;
  const headerStart = MAGIC_LENGTH + (major === 1 ? 2 : 4);
  const headerLength = dataStart - headerStart;
  if (bytes.length < dataStart) fail(` is truncated: the header promises ${headerLength} bytes, found ${bytes.length - headerStart}`);
  // Versions 1 and 2 store the header in latin1, version 3 in UTF-8.
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const { descr, fortranOrder, shape } = readHeader(header, fail);
  return { version: `${major}.0`, dtype: descr, shape, fortranOrder, dataOffset: dataStart };
}

/**
 * The float type a parsed header declares, checked against `totalBytes`, the length of the whole file, as
 * {@link checkNpyLength} does. A reader calls this before it reads the data.
 */
export function checkFloatNpy(header: NpyHeader, totalBytes: number, source = 'npy data'): FloatType & { readonly count: number } {
  const type = floatType(header.dtype);
  if (!type) {
    return failure(source)(
      `: dtype '${header.dtype}' is not supported; expected float32 ('<f4') or float64 ('<f8')`,
      'Convert the array first, e.g. np.save(path, array.astype(np.float32)).',
    );
  }
  return { ...type, count: checkNpyLength(header, type.bytes, totalBytes, source) };
}

/**
 * The number of values a parsed header declares, checked against `totalBytes`, the length of the whole file: it
 * must be exactly the header plus shape x `itemBytes` bytes, whatever the dtype (`itemBytes` is the caller's reading
 * of it). A reader calls this before it reads the data, so that it never reads more than the header promises, nor
 * starts on a file that is cut short.
 */
export function checkNpyLength(header: NpyHeader, itemBytes: number, totalBytes: number, source = 'npy data'): number {
  const fail = failure(source);
  const { dtype, shape, dataOffset } = header;
  const count = shape.reduce((product, size) => product * size, 1);
  const dataBytes = count * itemBytes;
  const name = dtypeName(dtype);
  const declared = `${name.startsWith('i') ? 'an' : 'a'} ${name} array of shape ${pythonShape(shape)}`;
  if (!Number.isSafeInteger(dataBytes)) fail(`: its header declares ${declared}, more data than any file holds; the file is corrupt`);
  const expected = dataOffset + dataBytes;
  const needs = `${declared}, which takes ${expected} bytes (${dataOffset} header + ${dataBytes} data)`;
  if (totalBytes < expected)
    fail(` is truncated: its header declares ${needs}, but the file has ${totalBytes} bytes`, 'The file was cut short; write it again.');
  if (totalBytes > expected)
    fail(
      ` is longer than its header declares: ${needs}, but the file has ${totalBytes} bytes (${totalBytes - expected} extra)`,
      'The file is corrupt or holds more than one array; write it again with np.save.',
    );
  return count;
}

/** numpy's name for a dtype, e.g. `float32`, `int64`, `bool`; any other dtype as written, e.g. `'<U5'`. */
function dtypeName(dtype: string): string {
  const match = /^[<>|=]([fiuc])(\d+)$/.exec(dtype);
  if (match) return `${{ f: 'float', i: 'int', u: 'uint', c: 'complex' }[match[1]!]}${Number(match[2]) * 8}`;
  return dtype === '|b1' ? 'bool' : `'${dtype}'`;
}

/**
 * Parses the bytes of a .npy file (format 1.0, 2.0 or 3.0) holding float32 or float64 values in either byte order
 * and either memory order. `source` names the file in error messages.
 */
export function parseNpy(bytes: Uint8Array, source = 'npy data'): NpyArray {
  const header = parseNpyHeader(bytes, source);
  const { bytes: itemBytes, littleEndian, count } = checkFloatNpy(header, bytes.length, source);
  const { version, dtype, shape, fortranOrder, dataOffset } = header;
  const values = readFloats(bytes, dataOffset, count, itemBytes, littleEndian, failure(source));
  return { version, dtype, shape, fortranOrder, data: fortranOrder ? fortranToRowMajor(values, shape) : values };
}

/** A shape as Python writes it: `()`, `(5,)`, `(2, 3)`. */
export function pythonShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Throws E_INVALID_INPUT with `source` followed by `problem` (which starts with its own separator). */
function failure(source: string): (problem: string, hint?: string) => never {
  return (problem, hint) => {
    throw new HyperprotoError(ErrorCode.InvalidInput, `${source}${problem}`, hint ? { hint } : {});
  };
}

function readHeader(
  header: string,
  fail: (problem: string, hint?: string) => never,
): { descr: string; fortranOrder: boolean; shape: number[] } {
  let parsed: PythonValue;
  try {
    parsed = parsePythonLiteral(header);
  } catch (error) {
    if (!(error instanceof PythonLiteralError)) throw error;
    return fail(` has a malformed header (${error.message}): ${JSON.stringify(header.trim())}`);
  }
  if (parsed === null || typeof parsed !== 'object' || !('dict' in parsed))
    return fail(` has a malformed header: expected a dict, got ${JSON.stringify(header.trim())}`);
  const dict = parsed.dict;
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!dict.has(key)) fail(`'s header has no '${key}' entry: ${JSON.stringify(header.trim())}`);
  }
  const descr = dict.get('descr');
  if (typeof descr !== 'string') return fail(`: structured dtype ${pythonRepr(descr!)} is not supported; expected float32 ('<f4')`);
  const fortranOrder = dict.get('fortran_order');
  if (typeof fortranOrder !== 'boolean') return fail(`'s header has fortran_order ${pythonRepr(fortranOrder!)}, expected True or False`);
  const shapeValue = dict.get('shape');
  const shape = shapeValue !== null && typeof shapeValue === 'object' && 'tuple' in shapeValue ? shapeValue.tuple : undefined;
  if (!shape?.every((size): size is number => typeof size === 'number' && Number.isSafeInteger(size) && size >= 0)) {
    return fail(`'s header has shape ${pythonRepr(shapeValue!)}, expected a tuple of non-negative integers`);
  }
  return { descr, fortranOrder, shape };
}

function readFloats(
  bytes: Uint8Array,
  start: number,
  count: number,
  itemBytes: 4 | 8,
  littleEndian: boolean,
  fail: (problem: string, hint?: string) => never,
): Float32Array {
  if (itemBytes === 4 && littleEndian === HOST_LITTLE_ENDIAN) {
    // Copy into a fresh buffer: the input may be unaligned or a view into a larger (pooled) buffer.
    const copy = new Uint8Array(count * 4);
    copy.set(bytes.subarray(start, start + count * 4));
    return new Float32Array(copy.buffer);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * itemBytes);
  const out = new Float32Array(count);
  if (itemBytes === 4) for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, littleEndian);
  else {
    for (let i = 0; i < count; i++) {
      const value = view.getFloat64(i * 8, littleEndian);
      out[i] = value;
      // A finite float64 beyond float32's range would become an infinity that no later check could tell apart
      // from one written in the file.
      if (!Number.isFinite(out[i]!) && Number.isFinite(value))
        fail(
          `: ${value} (value ${i + 1} in the file's order) does not fit a float32 (largest magnitude about 3.4e38)`,
          'Rescale the values.',
        );
    }
  }
  return out;
}

/** Reorders column-major (first axis fastest) values into row-major (last axis fastest), for any number of axes. */
export function fortranToRowMajor(values: Float32Array, shape: readonly number[]): Float32Array {
  const out = new Float32Array(values.length);
  if (values.length === 0) return out;
  const axes = shape.length;
  // Column-major strides: axis 0 moves by 1.
  const strides = new Array<number>(axes);
  let stride = 1;
  for (let axis = 0; axis < axes; axis++) {
    strides[axis] = stride;
    stride *= shape[axis]!;
  }
  const index = new Array<number>(axes).fill(0);
  let source = 0;
  for (let target = 0; target < out.length; target++) {
    out[target] = values[source]!;
    // Advance the row-major odometer (last axis fastest), keeping the column-major offset in step.
    for (let axis = axes - 1; axis >= 0; axis--) {
      index[axis]!++;
      source += strides[axis]!;
      if (index[axis]! < shape[axis]!) break;
      source -= strides[axis]! * shape[axis]!;
      index[axis] = 0;
    }
  }
  return out;
}

/** The header numpy's np.save writes for a C-order '<f4' array of `shape`, padded the same way, byte for byte. */
export function npyHeader(shape: readonly number[]): string {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${pythonShape(shape)}, }`;
  if (shape.length > 0) header += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  // numpy pads to the next multiple of 64 including the newline, a full 64 spaces when already aligned.
  const padding = ARRAY_ALIGN - ((MAGIC_LENGTH + 2 + header.length + 1) % ARRAY_ALIGN);
  return `${header}${' '.repeat(padding)}\n`;
}

/** The bytes of a .npy file (format 1.0, little-endian float32, C order) holding `matrix`, as np.save writes them. */
export function encodeNpy(matrix: Matrix): Uint8Array {
  const { rows, cols, data } = matrix;
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows < 0 || cols < 0 || data.length !== rows * cols) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `cannot encode a ${rows} x ${cols} matrix holding ${data.length} values; rows x cols must equal the values`,
    );
  }
  const header = npyHeader([rows, cols]);
  if (header.length > 0xffff) throw new HyperprotoError(ErrorCode.Internal, `npy header of ${header.length} bytes does not fit format 1.0`);
  const out = new Uint8Array(MAGIC_LENGTH + 2 + header.length + data.length * 4);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(MAGIC_LENGTH, header.length, true);
  // The header is ASCII (digits, quotes, spaces), so char codes are its bytes.
  for (let i = 0; i < header.length; i++) out[MAGIC_LENGTH + 2 + i] = header.charCodeAt(i);
  const dataStart = MAGIC_LENGTH + 2 + header.length;
  if (HOST_LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), dataStart);
  else for (let i = 0; i < data.length; i++) view.setFloat32(dataStart + i * 4, data[i]!, true);
  return out;
}
