import type { FeatureTable, RowPlacement } from './feature-table.js';
import { badData } from './file-errors.js';
import { checkDataSize, HOST_LITTLE_ENDIAN, npyType, openNpy, readAt, shapeText, type OpenNpy } from './npy-file.js';
import type { WorkPacer } from './work-pacer.js';

// The only buffer besides the split arrays themselves: the file is read through it, never whole.
const CHUNK_BYTES = 8 << 20;

const TYPE_NAMES: Record<string, string> = {
  i: 'signed integers',
  u: 'unsigned integers',
  b: 'booleans',
  U: 'strings',
  S: 'byte strings',
  c: 'complex numbers',
  O: 'Python objects',
};

/**
 * A [N, d] float32 or float64 .npy file, header read and checked; `copyInto` streams its values straight into
 * the split arrays (float64 converted on the way), so no second copy of the data is ever held.
 */
export async function openNpyFeatures(path: string): Promise<FeatureTable> {
  const npy = await openNpy(path);
  try {
    const { dtype, shape } = npy.header;
    const type = npyType(dtype);
    if (type?.kind !== 'f' || (type.itemBytes !== 4 && type.itemBytes !== 8)) {
      const what = type && TYPE_NAMES[type.kind] ? `${TYPE_NAMES[type.kind]} ('${dtype}')` : `dtype '${dtype}'`;
      throw badData(
        `${path} holds ${what}; features must be float32 or float64, convert them with np.save(path, array.astype(np.float32))`,
      );
    }
    if (shape.length !== 2) {
      const fix = shape.length === 1 ? '; for a single feature per row save array.reshape(-1, 1)' : '; save a 2-D [rows, features] array';
      throw badData(`${path} holds an array of shape ${shapeText(shape)}; features must be a 2-D [rows, features] array${fix}`);
    }
    const [rows, cols] = shape as [number, number];
    if (rows === 0) throw badData(`${path} holds no rows (shape ${shapeText(shape)}); it needs at least one row per class`);
    if (cols === 0) throw badData(`${path} holds rows without features (shape ${shapeText(shape)})`);
    checkDataSize(npy, path, type.itemBytes);
    let used = false;
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await npy.handle.close();
    };
    return {
      path,
      format: 'npy',
      rows,
      cols,
      async copyInto(placement, pacer, onBytes) {
        if (used) throw new Error(`${path} was already copied`);
        used = true;
        try {
          const copy: ValueCopy = {
            npy,
            path,
            itemBytes: type.itemBytes as 4 | 8,
            littleEndian: type.littleEndian,
            placement,
            pacer,
            onBytes,
          };
          await (npy.header.fortranOrder ? copyColumnMajor(copy) : copyRowMajor(copy));
        } finally {
          await close();
        }
      },
      release: close,
    };
  } catch (error) {
    await npy.handle.close();
    throw error;
  }
}

/** One pass of a file's values into the split arrays: where they come from, in what form, and where they go. */
interface ValueCopy {
  readonly npy: OpenNpy;
  readonly path: string;
  readonly itemBytes: 4 | 8;
  readonly littleEndian: boolean;
  readonly placement: RowPlacement;
  readonly pacer: WorkPacer;
  readonly onBytes?: (bytes: number) => void;
}

async function copyRowMajor({ npy, path, itemBytes, littleEndian, placement, pacer, onBytes }: ValueCopy): Promise<void> {
  const { splitOf, slotOf, outputs } = placement;
  const [rows, cols] = npy.header.shape as [number, number];
  const rowBytes = cols * itemBytes;
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / rowBytes));
  // A fresh ArrayBuffer starts at offset 0, so typed views of whole rows are aligned for either item size.
  const chunk = new Uint8Array(rowsPerChunk * rowBytes);
  const native = littleEndian === HOST_LITTLE_ENDIAN;
  const f32 = native && itemBytes === 4 ? new Float32Array(chunk.buffer) : undefined;
  const f64 = native && itemBytes === 8 ? new Float64Array(chunk.buffer) : undefined;
  const view = new DataView(chunk.buffer);

  for (let first = 0; first < rows; first += rowsPerChunk) {
    const count = Math.min(rowsPerChunk, rows - first);
    await readAt(npy.handle, path, npy.header.dataOffset + first * rowBytes, count * rowBytes, chunk);
    for (let i = 0; i < count; i++) {
      const row = first + i;
      const out = outputs[splitOf[row]!]!;
      const at = slotOf[row]! * cols;
      const from = i * cols;
      if (f32) out.set(f32.subarray(from, from + cols), at);
      else if (f64) for (let k = 0; k < cols; k++) out[at + k] = f64[from + k]!;
      else if (itemBytes === 4) for (let k = 0; k < cols; k++) out[at + k] = view.getFloat32((from + k) * 4, littleEndian);
      else for (let k = 0; k < cols; k++) out[at + k] = view.getFloat64((from + k) * 8, littleEndian);
      for (let k = 0; k < cols; k++) {
        if (!Number.isFinite(out[at + k]!)) throw nonFinite(path, row, k, sourceValue(view, from + k, itemBytes, littleEndian, f32, f64));
      }
    }
    onBytes?.(npy.header.dataOffset + (first + count) * rowBytes);
    pacer.check();
    if (pacer.due()) await pacer.pause();
  }
}

/** Fortran order stores column after column: walk the file once and scatter each value to its row. */
async function copyColumnMajor({ npy, path, itemBytes, littleEndian, placement, pacer, onBytes }: ValueCopy): Promise<void> {
  const { splitOf, slotOf, outputs } = placement;
  const [rows, cols] = npy.header.shape as [number, number];
  const total = rows * cols;
  const perChunk = Math.floor(CHUNK_BYTES / itemBytes);
  const chunk = new Uint8Array(perChunk * itemBytes);
  const view = new DataView(chunk.buffer);
  for (let first = 0; first < total; first += perChunk) {
    const count = Math.min(perChunk, total - first);
    await readAt(npy.handle, path, npy.header.dataOffset + first * itemBytes, count * itemBytes, chunk);
    let col = Math.floor(first / rows);
    let row = first - col * rows;
    for (let i = 0; i < count; i++) {
      const value = itemBytes === 4 ? view.getFloat32(i * 4, littleEndian) : view.getFloat64(i * 8, littleEndian);
      const stored = Math.fround(value);
      if (!Number.isFinite(stored)) throw nonFinite(path, row, col, value);
      outputs[splitOf[row]!]![slotOf[row]! * cols + col] = stored;
      if (++row === rows) {
        row = 0;
        col++;
      }
    }
    onBytes?.(npy.header.dataOffset + (first + count) * itemBytes);
    pacer.check();
    if (pacer.due()) await pacer.pause();
  }
}

function sourceValue(
  view: DataView,
  index: number,
  itemBytes: 4 | 8,
  littleEndian: boolean,
  f32?: Float32Array,
  f64?: Float64Array,
): number {
  if (f32) return f32[index]!;
  if (f64) return f64[index]!;
  return itemBytes === 4 ? view.getFloat32(index * 4, littleEndian) : view.getFloat64(index * 8, littleEndian);
}

function nonFinite(path: string, row: number, col: number, value: number): Error {
  const what = Number.isFinite(value)
    ? `${value} does not fit a float32 (largest magnitude about 3.4e38); rescale the feature`
    : `${value} is not a finite number; remove or impute missing and infinite values`;
  return badData(`${path} row ${row + 1}, column ${col + 1} (array index [${row}, ${col}]): ${what}`);
}
