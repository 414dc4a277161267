import { badData } from './file-errors.js';
import type { LabelValues } from './label-values.js';

// Whole numbers, also as floats print them ("3.0", as pandas writes integer labels with a missing value).
const INTEGER = /^[+-]?\d+(?:\.0*)?$/;

/** How label texts became class indices. */
export interface ClassIndex {
  readonly classes: number;
  /** Undefined when the labels were already indices 0..C-1 and no names were given. */
  readonly classNames: readonly string[] | undefined;
  /** `indices`: labels are positions (0..C-1); `names`: labels are looked up by name. */
  readonly labelKind: 'indices' | 'names';
  /** One Int32Array of class indices per label source, in the order given. */
  readonly labels: Int32Array[];
}

/**
 * Turns the labels of every file into class indices, the same mapping for all of them.
 *
 * Without `classNames`: integer labels (`3` or `3.0`) that are exactly 0..C-1 stay indices; any other labels become class names,
 * sorted (numerically when all are integers, else by code point) so that the order does not depend on the file.
 * With `classNames`: labels that are all among the names are looked up by name; otherwise integer labels are
 * indices into the names and must be in range; anything else is refused, naming the file and line.
 */
export function indexClasses(
  sources: readonly LabelValues[],
  classNames: { names: readonly string[]; source: string } | undefined,
): ClassIndex {
  const all = new Set<string>();
  for (const source of sources) for (const text of source.distinct) all.add(text);
  const allInteger = [...all].every((text) => INTEGER.test(text) && Number.isSafeInteger(Number(text)));

  if (classNames) {
    const { names } = classNames;
    const byName = new Map(names.map((name, i) => [name, i]));
    if ([...all].every((text) => byName.has(text))) return mapped(sources, names, 'names', (text) => byName.get(text)!);
    if (allInteger) {
      for (const source of sources) {
        source.distinct.forEach((text, code) => {
          const index = Number(text);
          if (index < 0 || index >= names.length) {
            throw badData(
              `${source.where(code)}: label ${text} is outside 0..${names.length - 1}; integer labels index into classNames (${classNames.source}, ${names.length} names), fix the label or the names`,
            );
          }
        });
      }
      return mapped(sources, names, 'indices', Number);
    }
    for (const source of sources) {
      const code = source.distinct.findIndex((text) => !byName.has(text));
      if (code >= 0) {
        throw badData(
          `${source.where(code)}: label ${JSON.stringify(source.distinct[code])} is not among classNames (${preview(names)}); add it to ${classNames.source} or fix the label`,
        );
      }
    }
  }

  if (allInteger) {
    const values = [...new Set([...all].map(Number))].sort((a, b) => a - b);
    if (values[0] === 0 && values.at(-1) === values.length - 1) return mapped(sources, undefined, 'indices', Number, values.length);
    const byValue = new Map(values.map((value, i) => [value, i]));
    return mapped(sources, values.map(String), 'names', (text) => byValue.get(Number(text))!);
  }
  // Code-point order, not localeCompare: the class order must not depend on the machine's locale.
  const names = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const byName = new Map(names.map((name, i) => [name, i]));
  return mapped(sources, names, 'names', (text) => byName.get(text)!);
}

function mapped(
  sources: readonly LabelValues[],
  names: readonly string[] | undefined,
  labelKind: 'indices' | 'names',
  indexOf: (text: string) => number,
  classes = names?.length ?? 0,
): ClassIndex {
  const labels = sources.map((source) => {
    const lookup = Int32Array.from(source.distinct, indexOf);
    const codes = source.rowCodes();
    const out = new Int32Array(codes.length);
    for (let i = 0; i < codes.length; i++) out[i] = lookup[codes[i]!]!;
    return out;
  });
  return { classes, classNames: names, labelKind, labels };
}

function preview(names: readonly string[]): string {
  const shown = names
    .slice(0, 5)
    .map((name) => JSON.stringify(name))
    .join(', ');
  return names.length > 5 ? `${shown}, ... ${names.length} in all` : shown;
}
