import { invalidOptionError } from './contract-error.js';
import type { FeatureMatrix } from './feature-batch.js';

/**
 * The most one onnxruntime run of a model may make in tensors, by default, by the bound readOnnxModelInfo works out
 * for the file (`valuesPerRow`): every runtime runs a larger batch in parts. Exported models stay far below it at any
 * batch a server takes (at width 300, two hidden layers of 300 and 1,000 classes about 9,500 values per row: 3,500
 * rows per run); a file built to make each row cost much more gets only a few rows per run.
 */
export const RUN_BYTES = 256 * 2 ** 20;

/** The most bytes one value of a tensor takes (int64, float64): `valuesPerRow` counts values, not bytes. */
const VALUE_BYTES = 8;

/**
 * The most rows one run may take so that what it makes stays within `runBytes` (RUN_BYTES when absent), for a file
 * whose rows cost up to `valuesPerRow` values each (OnnxModelInfo): at least 1, since a row cannot be split.
 */
export function rowsPerRun(valuesPerRow: number, runBytes: number = RUN_BYTES): number {
  return Math.max(1, Math.floor(runBytes / (VALUE_BYTES * Math.max(1, valuesPerRow))));
}

/**
 * Refuses a `runBytes` option that is not a positive safe integer (E_INVALID_OPTIONS, naming it), the one rule of
 * every runtime's option; absent is allowed (RUN_BYTES).
 */
export function checkRunBytes(runBytes: unknown): void {
  if (runBytes !== undefined && !(Number.isSafeInteger(runBytes) && (runBytes as number) >= 1))
    throw invalidOptionError('runBytes', 'an integer of at least 1 (bytes one run may make in tensors), or absent for 256 MiB', runBytes);
}

/** What a runtime reads out of one run, by output name: what `runInParts` joins. */
export type PartValues = Float32Array | Int32Array | BigInt64Array;

/**
 * Runs `batch` in parts of at most `rowsPerRun` rows, one after another, and joins what each part gave, output by
 * output, in row order, so that the caller sees one run's answers. `run` gets the part and the batch row it starts
 * at (for messages naming rows); it checks the part's answers itself, so that a part that breaks the model's
 * interface fails the batch before the next part runs. Every output must hold the same number of values per row
 * in every part (the dims a runtime checks ensure it). A batch that fits one run is run whole and its outputs are
 * returned as given, uncopied.
 */
export async function runInParts<T extends Readonly<Record<string, PartValues>>>(
  batch: FeatureMatrix,
  rowsPerRun: number,
  run: (part: FeatureMatrix, startRow: number) => Promise<T>,
): Promise<T> {
  if (batch.rows <= rowsPerRun) return run(batch, 0);
  const parts: T[] = [];
  for (const { part, startRow } of partsOf(batch, rowsPerRun)) parts.push(await run(part, startRow));
  const joined: Record<string, PartValues> = {};
  for (const name of Object.keys(parts[0]!)) joined[name] = joinValues(parts.map((part) => part[name]!));
  return joined as T;
}

/** `batch` in parts of at most `rowsPerRun` rows, in order, each a view of its rows (no copy). */
export function* partsOf(batch: FeatureMatrix, rowsPerRun: number): Generator<{ part: FeatureMatrix; startRow: number }> {
  for (let start = 0; start < batch.rows; start += rowsPerRun) {
    const rows = Math.min(rowsPerRun, batch.rows - start);
    yield { part: { rows, cols: batch.cols, data: batch.data.subarray(start * batch.cols, (start + rows) * batch.cols) }, startRow: start };
  }
}

/** The values of `pieces` one after another, in an array of the first one's type. */
function joinValues(pieces: readonly PartValues[]): PartValues {
  const first = pieces[0]!;
  const whole = new (first.constructor as new (length: number) => PartValues)(pieces.reduce((sum, piece) => sum + piece.length, 0));
  let offset = 0;
  for (const piece of pieces) {
    // The model file fixes each output's element type, so every part gives the same one.
    (whole as Float32Array).set(piece as Float32Array, offset);
    offset += piece.length;
  }
  return whole;
}
