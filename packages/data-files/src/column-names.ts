import { nameList, shorten } from './csv-features.js';

/** How a CSV header's feature column names differ from those expected: the same names in another order, or others. */
export interface ColumnNamesDifference {
  readonly kind: 'order' | 'names';
  /** What differs, without what to do: the caller, which knows where the expected names come from, adds that. */
  readonly text: string;
}

/**
 * The one comparison of a header's feature column names (label column left out) with the names expected: a split
 * file's against the data file's, a file to classify against the model's. Undefined when they are the same names
 * in the same order. `against` names where the expected names come from (`data.csv`, `the model`).
 */
export function columnNamesDifference(
  names: readonly string[],
  expected: readonly string[],
  path: string,
  against: string,
): ColumnNamesDifference | undefined {
  if (names.length === expected.length && names.every((name, k) => name === expected[k])) return undefined;
  const sorted = (list: readonly string[]) => [...list].sort().join('\u0000');
  if (sorted(names) === sorted(expected)) {
    const at = names.findIndex((name, k) => name !== expected[k]);
    return {
      kind: 'order',
      text: `${path} line 1 names the columns of ${against} in another order: feature column ${at + 1} is ${JSON.stringify(shorten(names[at]!))} in ${path} but ${JSON.stringify(shorten(expected[at]!))} in ${against}`,
    };
  }
  const extra = [...new Set(names.filter((name) => !expected.includes(name)))];
  const missing = [...new Set(expected.filter((name) => !names.includes(name)))];
  const are = (list: readonly string[]) => (list.length === 1 ? 'is' : 'are');
  const differs = [
    ...(extra.length > 0 ? [`${nameList(extra)} ${are(extra)} not in ${against}`] : []),
    ...(missing.length > 0 ? [`${nameList(missing)} ${are(missing)} missing`] : []),
  ];
  // Only a name given twice in one list and once in the other gets here with nothing to list.
  const what = differs.length > 0 ? differs.join(', and ') : `${nameList(names)} against ${nameList(expected)}`;
  return { kind: 'names', text: `${path} line 1 names other columns than ${against}: ${what}` };
}
