import { isDecimalNumber } from './decimal-field.js';
import type { RowPlacement } from './feature-table.js';
import type { LabelValues } from './label-values.js';

/**
 * The first feature column (0-based) whose value is the row's label, read as a number, on every row, else undefined:
 * a label column left among the features. Only for labels that are all numbers, of at least two values (a constant
 * column equal to a single label says nothing). Reads the rows where `placement` put them, once; a column drops out
 * at its first other value, so on ordinary data the pass ends within a few rows.
 */
export function labelValuedColumn(labels: LabelValues, placement: RowPlacement, cols: number): number | undefined {
  // As a feature stores it: a label 0.1 matches the float32 0.1 of a feature column.
  const numberOfLabel = labels.distinct.map((text) => (isDecimalNumber(text) ? Math.fround(Number(text)) : Number.NaN));
  if (numberOfLabel.some(Number.isNaN) || new Set(numberOfLabel).size < 2) return undefined;
  const { splitOf, slotOf, outputs } = placement;
  const codes = labels.rowCodes();
  const candidates = Int32Array.from({ length: cols }, (_, k) => k);
  let alive = cols;
  for (let row = 0; row < codes.length && alive > 0; row++) {
    const values = outputs[splitOf[row]!]!;
    const at = slotOf[row]! * cols;
    const label = numberOfLabel[codes[row]!]!;
    let kept = 0;
    for (let i = 0; i < alive; i++) {
      const k = candidates[i]!;
      if (values[at + k] === label) candidates[kept++] = k;
    }
    alive = kept;
  }
  return alive > 0 ? candidates[0] : undefined;
}
