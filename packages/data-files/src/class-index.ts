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
  const allInteger = [...all].every(isIntegerLabel);

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

/**
 * Refuses a label of a validation or test file (sources after the first) whose class has no rows in the training
 * labels (the first source): a model cannot learn a class it never sees. Says so when the files mix integer labels
 * with names, the likely cause.
 */
export function checkHeldOutClasses(sources: readonly LabelValues[], index: ClassIndex): void {
  const training = new Int32Array(index.classes);
  for (const label of index.labels[0]!) training[label]!++;
  for (let s = 1; s < sources.length; s++) {
    const source = sources[s]!;
    const labels = index.labels[s]!;
    const row = labels.findIndex((label) => training[label] === 0);
    if (row < 0) continue;
    const code = source.rowCodes()[row]!;
    const main = sources[0]!;
    const kinds = [main, source].map(labelKind);
    const mixed =
      kinds[0] === kinds[1]
        ? ''
        : `; ${main.source} holds ${kinds[0]} (${example(main)}) but ${source.source} holds ${kinds[1]} (${example(source)}): write the labels of every file the same way`;
    throw badData(
      `label ${JSON.stringify(source.distinct[code])} at ${source.where(code)} is not a class of the training labels (${main.source}); every class needs training rows, so fix the label or add rows of its class to the training data${mixed}`,
    );
  }
}

/** `integers` when every label of a file is a whole number, else `names`. */
function labelKind(source: LabelValues): 'integers' | 'names' {
  return source.distinct.every(isIntegerLabel) ? 'integers' : 'names';
}

function isIntegerLabel(text: string): boolean {
  return INTEGER.test(text) && Number.isSafeInteger(Number(text));
}

function example(source: LabelValues): string {
  return `e.g. ${preview(source.distinct.slice(0, 3))}`;
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
