import type { LabelValues } from './label-values.js';
import type { WorkPacer } from './work-pacer.js';

/** Where every row of a feature file goes: split `splitOf[row]`, at row `slotOf[row]` of `outputs[split]`. */
export interface RowPlacement {
  readonly splitOf: Uint8Array;
  readonly slotOf: Int32Array;
  readonly outputs: readonly Float32Array[];
}

/**
 * What the first line of a CSV file was read as: column names (`a,b,label`), or the column positions pandas writes
 * as names (`0,1,2,3`), which also makes a first data row of exactly `0` or `0,1` a header.
 */
export type CsvHeader = 'names' | 'column positions';

/** A feature file whose size is known and whose rows can be copied, once, to their final places. */
export interface FeatureTable {
  readonly path: string;
  readonly format: 'npy' | 'csv' | 'jsonl';
  readonly rows: number;
  readonly cols: number;
  /** Column names from a CSV header line, label column excluded. */
  readonly columnNames?: readonly string[];
  /** What a CSV file's first line was read as; undefined when it has no header (and for .npy, JSON lines). */
  readonly header?: CsvHeader;
  /** The header column left out unread (`skipColumn`), when the header had it. */
  readonly skippedColumn?: string;
  /** Labels that came from the file itself (`labelColumn`). */
  readonly labels?: LabelValues;
  /** 1-based line of the last row, in text files: for messages about row counts. */
  readonly lastLine?: number;
  /** Copies each row to its place (each value is checked to be finite on the way). Call once. */
  copyInto(placement: RowPlacement, pacer: WorkPacer, onBytes?: (bytes: number) => void): Promise<void>;
  /** Lets go of what the table holds (an open file, parsed rows) when it will not be copied after all. */
  release(): Promise<void>;
}

/** Every row to split 0, in file order: for a split given as its own file. */
export function wholeFilePlacement(rows: number, output: Float32Array): RowPlacement {
  const slotOf = new Int32Array(rows);
  for (let i = 0; i < rows; i++) slotOf[i] = i;
  return { splitOf: new Uint8Array(rows), slotOf, outputs: [output] };
}
