import { badData } from './file-errors.js';
import { isMissingValue } from './decimal-field.js';

/** What to do about a missing label, said the same for every labels file and label column. */
export const MISSING_LABEL_FIX = 'every row needs a label: drop the rows whose label is missing (and their features) or fill them in';

/**
 * Why a label text is no label (a phrase that completes `<where>: ...`), or undefined when it is one. A label is
 * missing when it is written as a missing feature value is (`NaN`, `NA`, `null`, empty, ...: see `isMissingValue`),
 * as pandas, R and spreadsheets write one: taken as a class, it would teach the model a class named "nan".
 */
export function missingLabel(text: string): string | undefined {
  if (text === '') return `the label is empty; ${MISSING_LABEL_FIX}`;
  if (isMissingValue(text))
    return `${JSON.stringify(text)} marks a missing label; ${MISSING_LABEL_FIX} (a class really named ${JSON.stringify(text)} needs another name)`;
  return undefined;
}

/**
 * The labels of one file as read, before they become class indices: each row's label is a code into the list of
 * distinct label texts, and each text remembers where it first appeared (for messages).
 */
export class LabelValues {
  /** Distinct label texts in first-seen order. */
  readonly distinct: string[] = [];
  /** 1-based line (text files) or row (.npy) where each distinct text first appears. */
  readonly firstAt: number[] = [];
  private readonly codeOf = new Map<string, number>();
  private codes = new Int32Array(1024);
  private length = 0;

  /**
   * @param source how messages name the labels, e.g. `labels.txt` or `data.csv column 5 ("species")`
   * @param unit what a position is called: `line` in text files, `row` in .npy files
   */
  constructor(
    readonly source: string,
    readonly unit: 'line' | 'row',
  ) {}

  get count(): number {
    return this.length;
  }

  /** Adds the label of the row at `at`; a missing one (see `missingLabel`) is refused, naming where it is. */
  add(text: string, at: number): void {
    let code = this.codeOf.get(text);
    if (code === undefined) {
      // Each distinct text is checked once, when first seen. Readers that name a place in their own words (a CSV
      // column, a JSON key, a .npy index) check first; this check holds for every reader.
      const missing = missingLabel(text);
      if (missing) throw badData(`${this.source} ${this.unit} ${at}: ${missing}`);
      code = this.distinct.length;
      this.codeOf.set(text, code);
      this.distinct.push(text);
      this.firstAt.push(at);
    }
    if (this.length === this.codes.length) {
      const grown = new Int32Array(this.codes.length * 2);
      grown.set(this.codes);
      this.codes = grown;
    }
    this.codes[this.length++] = code;
  }

  /** Each row's index into `distinct`. */
  rowCodes(): Int32Array {
    return this.codes.subarray(0, this.length);
  }

  /** `labels.txt line 12`: where a distinct label first appears. */
  where(code: number): string {
    return `${this.source} ${this.unit} ${this.firstAt[code]}`;
  }
}
