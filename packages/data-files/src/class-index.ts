import { shorten } from './csv-features.js';
import { isDecimalNumber } from './decimal-field.js';
import { badData } from './file-errors.js';
import type { LabelValues } from './label-values.js';

// An integer label written plainly (`0`, `7`, `-2`): the only text read as a class index or sorted as a number, so
// that no two texts read as one integer. `01`, `+1` and `1.0` are labels of their own, each its own class.
const PLAIN_INTEGER = /^(?:0|-?[1-9]\d*)$/;

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
 * Turns the labels of every file into class indices, the same mapping for all of them. Two labels are one class only
 * when their texts are the same: a class name is the label as the file wrote it.
 *
 * Without `classNames`: plain integer labels (`3`, not `03` or `3.0`) that are exactly 0..C-1 stay indices; any
 * other labels become class names, sorted so that the order does not depend on the file: as numbers when all are
 * plain integers, else by code point (`01` before `1`, `10.0` before `2.0`).
 * With `classNames`: labels that are all among the names are looked up by name; otherwise plain integer labels are
 * indices into the names, when no name could be read as another index (see {@link takesIndices}), and must be in
 * range; anything else is refused, naming the file and line of the first label that is not a name.
 */
export function indexClasses(
  sources: readonly LabelValues[],
  classNames: { names: readonly string[]; source: string } | undefined,
): ClassIndex {
  const all = new Set<string>();
  for (const source of sources) for (const text of source.distinct) all.add(text);
  const allIntegers = [...all].every(isPlainInteger);

  if (classNames) {
    const { names } = classNames;
    const byName = new Map(names.map((name, i) => [name, i]));
    if ([...all].every((text) => byName.has(text))) return mapped(sources, names, 'names', (text) => byName.get(text)!);
    const hint = labelsRule(names, classNames.source);
    if (allIntegers && takesIndices(names)) {
      for (const source of sources) {
        source.distinct.forEach((text, code) => {
          const index = Number(text);
          if (index < 0 || index >= names.length) {
            throw badData(
              `${source.where(code)}: label ${text} is outside 0..${names.length - 1}; integer labels index into classNames (${classNames.source}, ${names.length} names), fix the label or the names`,
              hint,
            );
          }
        });
      }
      return mapped(sources, names, 'indices', Number);
    }
    for (const source of sources) {
      const code = source.distinct.findIndex((text) => !byName.has(text));
      if (code >= 0) {
        const text = source.distinct[code]!;
        const fix =
          writtenOtherwise(text, names) ??
          normalisedOtherwise(text, names, `in the label files and ${classNames.source}`) ??
          `add it to ${classNames.source} or fix the label`;
        throw badData(`${source.where(code)}: label ${JSON.stringify(text)} is not among classNames (${preview(names)}); ${fix}`, hint);
      }
    }
  }

  // Code-point order, not localeCompare: the class order must not depend on the machine's locale.
  const names = allIntegers ? [...all].sort((a, b) => Number(a) - Number(b)) : [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (allIntegers && Number(names[0]) === 0 && Number(names.at(-1)) === names.length - 1) {
    return mapped(sources, undefined, 'indices', Number, names.length);
  }
  const byName = new Map(names.map((name, i) => [name, i]));
  return mapped(sources, names, 'names', (text) => byName.get(text)!);
}

// Enough pairs to recognise the problem by; a file of many would bury the message.
const LOOK_ALIKES_NAMED = 3;

/**
 * A warning when class names differ only in Unicode normalisation (`\u00e9` and `e\u0301` are both "é"), else
 * undefined. A class is a label by its exact text, so such names are different classes that look alike. Names up
 * to LOOK_ALIKES_NAMED pairs, each with where its names first appear in `sources`; one pass over the classes.
 */
export function lookAlikeClassesWarning(index: ClassIndex, sources: readonly LabelValues[]): string | undefined {
  if (!index.classNames) return undefined;
  const byForm = new Map<string, string>();
  const pairs: [string, string][] = [];
  let found = 0;
  for (const name of index.classNames) {
    const form = name.normalize('NFC');
    const first = byForm.get(form);
    if (first === undefined) byForm.set(form, name);
    else if (found++ < LOOK_ALIKES_NAMED) pairs.push([first, name]);
  }
  if (found === 0) return undefined;
  const shown = (name: string) => {
    const source = sources.find((labels) => labels.distinct.includes(name));
    const at = source ? ` (${source.where(source.distinct.indexOf(name))})` : '';
    return `${escapedText(name)}${at}`;
  };
  const listed = pairs.map(([a, b]) => `${shown(a)} and ${shown(b)}`).join('; ');
  const more = found > pairs.length ? `, and ${found - pairs.length} more such pair${found - pairs.length === 1 ? '' : 's'}` : '';
  return `warning: class names ${listed}${more} differ only in Unicode normalisation: they look the same but are different texts, so each is a class of its own. If they are meant as one class, ${nfcFix('where they are written')}`;
}

/** How to make look-alike labels one class, `where` the labels are: said the same by the warning and by every refusal. */
function nfcFix(where: string): string {
  return `normalise the labels to one form (NFC) ${where}, e.g. with uconv -x any-nfc or Python's unicodedata.normalize('NFC', label)`;
}

/**
 * What to do when `text` is one of `names` in another Unicode normalisation (NFD `e\u0301` for NFC `\u00e9`), else
 * undefined. Both spellings are shown escaped: printed, they look the same.
 */
function normalisedOtherwise(text: string, names: readonly string[], where: string): string | undefined {
  const form = text.normalize('NFC');
  const same = names.find((name) => name.normalize('NFC') === form);
  if (same === undefined) return undefined;
  return `it is the class ${escapedText(same)} in another Unicode normalisation (here ${escapedText(text)}): the two look the same but are different texts, so ${nfcFix(where)}`;
}

/** A text JSON-quoted with every character outside printable ASCII as a \u escape: what tells look-alikes apart. */
function escapedText(text: string): string {
  return JSON.stringify(shorten(text)).replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Whether plain integer labels may be read as positions in `names`: only when no name is a number other than its
 * own position. Were one such a number ("1" at position 0, as training on labels 1..3 names the classes), a single
 * label that is not a name would turn a file of names into indices, every label one class off.
 */
function takesIndices(names: readonly string[]): boolean {
  return names.every((name, i) => numberOf(name) === undefined || numberOf(name) === i);
}

/** What a file of labels for `names` may hold, by the rule of {@link indexClasses}: the hint of every refused label. */
function labelsRule(names: readonly string[], source: string): string {
  const those = `a class name (${source}: ${preview(names)})`;
  return takesIndices(names)
    ? `Write every label as ${those}, or every label as a class index 0..${names.length - 1}; one file cannot mix them.`
    : `Write every label as ${those}, exactly as written there; as the class names include numbers, labels are never read as class indices.`;
}

/**
 * What to do when `text` is the number of one class written otherwise (`1.0` or `01` for `1`), else undefined; also
 * when two classes are that number (`01` and `1`), as the label could be either.
 */
function writtenOtherwise(text: string, names: readonly string[]): string | undefined {
  const value = numberOf(text);
  const same = value === undefined ? [] : names.filter((name) => numberOf(name) === value);
  if (same.length !== 1) return undefined;
  return `it is the class ${JSON.stringify(same[0])} written otherwise, and a label is a class by its exact text: write it ${JSON.stringify(same[0])}`;
}

/**
 * Refuses a label of a validation or test file (sources after the first) whose class has no rows in the training
 * labels (the first source): a model cannot learn a class it never sees. Says so when the files mix integer labels
 * with names, write a number of the training labels otherwise, or write a training label in another Unicode
 * normalisation, the likely causes.
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
    const text = source.distinct[code]!;
    const kinds = [main, source].map(labelKind);
    const otherwise = writtenOtherwise(text, main.distinct);
    const normalised = normalisedOtherwise(text, main.distinct, 'in every file');
    const why = otherwise
      ? `; ${otherwise} in every file`
      : normalised
        ? `; ${normalised}`
        : kinds[0] === kinds[1]
          ? ''
          : `; ${main.source} holds ${kinds[0]} (${example(main)}) but ${source.source} holds ${kinds[1]} (${example(source)}): write the labels of every file the same way`;
    throw badData(
      `label ${JSON.stringify(text)} at ${source.where(code)} is not a class of the training labels (${main.source}); every class needs training rows, so fix the label or add rows of its class to the training data${why}`,
    );
  }
}

/** `integers` when every label of a file is a whole number (however written), else `names`. */
function labelKind(source: LabelValues): 'integers' | 'names' {
  return source.distinct.every((text) => Number.isInteger(numberOf(text))) ? 'integers' : 'names';
}

function isPlainInteger(text: string): boolean {
  return PLAIN_INTEGER.test(text) && Number.isSafeInteger(Number(text));
}

/** The number a label is written as (`01`, `1.0` and `1e0` are all 1), else undefined. */
function numberOf(text: string): number | undefined {
  return isDecimalNumber(text) ? Number(text) : undefined;
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
