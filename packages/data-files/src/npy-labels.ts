import { badData } from './file-errors.js';
import { LabelValues, MISSING_LABEL_FIX, missingLabel } from './label-values.js';
import { checkDataSize, npyType, openNpy, readAt, shapeText, type NpyType } from './npy-file.js';
import type { WorkPacer } from './work-pacer.js';

/**
 * Labels from a .npy file of shape (N,) or (N, 1): integers of any width, booleans, floats that hold whole
 * numbers, or strings ('<U', '|S'). Fractional floats are refused: they are not class labels.
 */
export async function readNpyLabels(path: string, pacer: WorkPacer): Promise<LabelValues> {
  const npy = await openNpy(path);
  try {
    const { dtype, shape, dataOffset } = npy.header;
    const type = npyType(dtype);
    const readable =
      type && (type.kind === 'i' || type.kind === 'u' || type.kind === 'b' || type.kind === 'f' || type.kind === 'U' || type.kind === 'S');
    const widthOk =
      type &&
      (type.kind === 'U' ||
        type.kind === 'S' ||
        (type.kind === 'f' ? type.itemBytes === 4 || type.itemBytes === 8 : [1, 2, 4, 8].includes(type.itemBytes)));
    if (!readable || !widthOk) {
      // Strings saved from a list or from pandas are Python objects: numpy writes them as a pickle, not as values.
      const what = /^[<>|=]?O\d*$/.test(dtype) ? `Python objects (dtype '${dtype}', stored as a pickle)` : `dtype '${dtype}'`;
      throw badData(
        `${path} holds ${what}; labels must be integers (e.g. '<i8') or strings ('<U'): save integer labels with np.save(path, labels.astype(np.int64)), string labels with np.save(path, labels.astype(str)) or as a text file with one label per line`,
      );
    }
    if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
      throw badData(`${path} holds an array of shape ${shapeText(shape)}; labels must be 1-D (one label per row), save labels.reshape(-1)`);
    }
    const rows = shape[0]!;
    if (rows === 0) throw badData(`${path} holds no labels; it needs one label per feature row`);
    checkDataSize(npy, path, type.itemBytes);
    const bytes = await readAt(npy.handle, path, dataOffset, rows * type.itemBytes);
    const labels = new LabelValues(path, 'row');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let row = 0; row < rows; row++) {
      labels.add(labelAt(view, row, type, path), row + 1);
      if ((row & 0xffff) === 0 && pacer.due()) await pacer.pause();
    }
    return labels;
  } finally {
    await npy.handle.close();
  }
}

function labelAt(view: DataView, row: number, type: NpyType, path: string): string {
  const at = row * type.itemBytes;
  const le = type.littleEndian;
  switch (type.kind) {
    case 'b':
      return view.getUint8(at) ? '1' : '0';
    case 'i':
    case 'u': {
      const signed = type.kind === 'i';
      if (type.itemBytes === 1) return String(signed ? view.getInt8(at) : view.getUint8(at));
      if (type.itemBytes === 2) return String(signed ? view.getInt16(at, le) : view.getUint16(at, le));
      if (type.itemBytes === 4) return String(signed ? view.getInt32(at, le) : view.getUint32(at, le));
      return (signed ? view.getBigInt64(at, le) : view.getBigUint64(at, le)).toString();
    }
    case 'f': {
      const value = type.itemBytes === 4 ? view.getFloat32(at, le) : view.getFloat64(at, le);
      // NaN is how numpy and pandas hold a missing label in a float array.
      if (Number.isNaN(value)) throw badData(`${path} row ${row + 1} (index ${row}): NaN marks a missing label; ${MISSING_LABEL_FIX}`);
      if (!Number.isSafeInteger(value)) {
        throw badData(
          `${path} row ${row + 1} (index ${row}): ${value} is not a whole number; labels must be class indices or names, save them as integers with labels.astype(np.int64)`,
        );
      }
      return String(value === 0 ? 0 : value);
    }
    default:
      return stringAt(view, at, type, path, row);
  }
}

function stringAt(view: DataView, at: number, type: NpyType, path: string, row: number): string {
  let text = '';
  if (type.kind === 'U') {
    for (let i = 0; i < type.itemBytes; i += 4) {
      const code = view.getUint32(at + i, type.littleEndian);
      if (code === 0) break;
      text += String.fromCodePoint(code);
    }
  } else {
    const bytes = new Uint8Array(view.buffer, view.byteOffset + at, type.itemBytes);
    const end = bytes.indexOf(0);
    // Byte strings must be UTF-8 like every text input: Latin-1 bytes would merge labels into U+FFFD.
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(end < 0 ? bytes : bytes.subarray(0, end));
    } catch {
      throw badData(
        `${path} row ${row + 1} (index ${row}): the label's bytes are not UTF-8 text; save the labels as unicode strings (labels.astype(str)) or as a text file in UTF-8`,
      );
    }
  }
  text = text.trim();
  const missing = missingLabel(text);
  if (missing) throw badData(`${path} row ${row + 1} (index ${row}): ${missing}`);
  return text;
}
