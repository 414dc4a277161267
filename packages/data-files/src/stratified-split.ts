import type { Rng } from '@hyperproto/core';
import { badData, count } from './file-errors.js';
import { optionName } from './files-options.js';
import type { WorkPacer } from './work-pacer.js';

export const TRAIN = 0;
export const VALIDATION = 1;
export const TEST = 2;

export interface SplitFractions {
  /** Share of each class for validation; undefined when the validation split is its own file. */
  readonly validation: number | undefined;
  /** Share of each class for testing; undefined when the test split is its own file. */
  readonly test: number | undefined;
}

export interface StratifiedSplit {
  /** TRAIN, VALIDATION or TEST for every row of the file. */
  readonly splitOf: Uint8Array;
  /** Each row's position within its split: file order is kept inside a split. */
  readonly slotOf: Int32Array;
  /** Rows per split. */
  readonly sizes: readonly [number, number, number];
  /** Rows per class, per split. */
  readonly perClass: readonly [Int32Array, Int32Array, Int32Array];
}

/**
 * Splits the rows of one file by class: in each class, round(n * fraction) rows (at least 1) go to each split
 * that comes from a fraction and the rest to training, chosen by shuffling the class's rows with `rng`. Every
 * class is thus in every split in proportion, and the same seed gives the same split.
 *
 * `describeClass(c)` names a class in the error for a class too small to split.
 */
export async function stratifiedSplit(
  labels: Int32Array,
  classes: number,
  fractions: SplitFractions,
  rng: Rng,
  pacer: WorkPacer,
  describeClass: (c: number, rows: number) => string,
): Promise<StratifiedSplit> {
  const counts = new Int32Array(classes);
  for (const label of labels) counts[label]!++;

  const needs = [['1 training row', 1]] as [string, number][];
  if (fractions.validation !== undefined) needs.push(['1 validation row', 1]);
  if (fractions.test !== undefined) needs.push(['1 test row', 1]);
  const minimum = needs.length;
  const perClass: [Int32Array, Int32Array, Int32Array] = [new Int32Array(classes), new Int32Array(classes), new Int32Array(classes)];
  for (let c = 0; c < classes; c++) {
    const n = counts[c]!;
    if (n < minimum) {
      // Held-out files help only a class that has rows to keep for training.
      const fix =
        minimum === 1 || n === 0
          ? 'add rows of this class to the training data or drop the class'
          : `add rows of this class, drop the class, or give the held-out splits as files: ${heldOutFiles(fractions)}`;
      throw badData(
        `${describeClass(c, n)}; each class needs at least ${needs.map(([what]) => what).join(', ')} (${count(minimum, 'row')}), so ${fix}`,
      );
    }
    let validation = fractions.validation === undefined ? 0 : Math.max(1, Math.round(n * fractions.validation));
    let test = fractions.test === undefined ? 0 : Math.max(1, Math.round(n * fractions.test));
    // Rounding up small classes can leave no training row: take back from the larger held-out split.
    while (n - validation - test < 1) {
      if (validation >= test && validation > 1) validation--;
      else test--;
    }
    perClass[VALIDATION][c] = validation;
    perClass[TEST][c] = test;
    perClass[TRAIN][c] = n - validation - test;
  }

  // Rows grouped by class (counting sort), then each class's rows shuffled in place.
  const start = new Int32Array(classes + 1);
  for (let c = 0; c < classes; c++) start[c + 1] = start[c]! + counts[c]!;
  const fill = start.slice(0, classes);
  const order = new Int32Array(labels.length);
  for (let row = 0; row < labels.length; row++) order[fill[labels[row]!]!++] = row;

  const splitOf = new Uint8Array(labels.length);
  for (let c = 0; c < classes; c++) {
    const rows = order.subarray(start[c]!, start[c + 1]!);
    await shuffle(rows, rng, pacer);
    const test = perClass[TEST][c]!;
    const heldOut = test + perClass[VALIDATION][c]!;
    for (let i = 0; i < test; i++) splitOf[rows[i]!] = TEST;
    for (let i = test; i < heldOut; i++) splitOf[rows[i]!] = VALIDATION;
    if ((c & 0xff) === 0 && pacer.due()) await pacer.pause();
  }

  const sizes: [number, number, number] = [0, 0, 0];
  const slotOf = new Int32Array(labels.length);
  for (let row = 0; row < labels.length; row++) slotOf[row] = sizes[splitOf[row] as 0 | 1 | 2]++;
  return { splitOf, slotOf, sizes, perClass };
}

// A held-out share is reported when it is off from its fraction by both more than 5 percentage points and more
// than a factor of 1.5, either way. Points alone would report a large fraction missed by a row of small classes
// (0.45 of 3 rows holds out 1, 33%), still a fair share; the factor alone would report a small fraction's extra
// row or two (0.01 held out as 3%), which costs training little. 100 classes of 3 rows, 10% held out as 33%, is
// reported; so is 10% held out as 17% (6 rows per class), not 12.5% (8 rows).
const SHARE_POINTS_OFF = 0.05;
const SHARE_FACTOR_OFF = 1.5;

/**
 * A warning when a held-out split that comes from a fraction holds a share of the rows of `path` far from that
 * fraction (see SHARE_POINTS_OFF), else undefined: small classes, split by whole rows with at least one in every
 * split, can hold out far more (or less) than asked.
 */
export function splitShareWarning(split: StratifiedSplit, fractions: SplitFractions, path: string): string | undefined {
  const rows = split.splitOf.length;
  const percent = (share: number) => `${Number((100 * share).toFixed(1))}%`;
  const shares: { text: string; off: boolean }[] = [];
  for (const [which, name, fraction] of [
    [VALIDATION, 'validation', fractions.validation],
    [TEST, 'test', fractions.test],
  ] as const) {
    if (fraction === undefined) continue;
    const share = split.sizes[which] / rows;
    const factor = share / fraction;
    const off = Math.abs(share - fraction) > SHARE_POINTS_OFF && (factor > SHARE_FACTOR_OFF || factor < 1 / SHARE_FACTOR_OFF);
    shares.push({ text: `${name} ${percent(share)} (${name}Fraction ${fraction} asks ${percent(fraction)})`, off });
  }
  if (!shares.some((share) => share.off)) return undefined;
  const [train, validation, test] = split.perClass;
  let smallest = Number.POSITIVE_INFINITY;
  for (let c = 0; c < train.length; c++) smallest = Math.min(smallest, train[c]! + validation[c]! + test[c]!);
  return `warning: the rows of ${path} are split far from the fractions asked: ${shares.map((share) => share.text).join(', ')}, leaving ${percent(split.sizes[TRAIN] / rows)} for training. Each class is split by whole rows, at least 1 in every split, so classes with few rows (the smallest has ${count(smallest, 'row')}) cannot be split in those shares; give the held-out splits as files, ${heldOutFiles(fractions)}, or more rows per class`;
}

/** The options (and flags) of each held-out split that comes from a fraction: what would give it as a file. */
function heldOutFiles(fractions: SplitFractions): string {
  const files = [
    ...(fractions.validation === undefined ? [] : [optionName('validationData', 'validationLabels')]),
    ...(fractions.test === undefined ? [] : [optionName('testData', 'testLabels')]),
  ];
  return files.join(', ');
}

/** Fisher-Yates, as Rng.shuffle draws it, but pausing now and then so that a huge class stays interruptible. */
async function shuffle(rows: Int32Array, rng: Rng, pacer: WorkPacer): Promise<void> {
  for (let i = rows.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const row = rows[i]!;
    rows[i] = rows[j]!;
    rows[j] = row;
    if ((i & 0xffff) === 0 && pacer.due()) await pacer.pause();
  }
}
