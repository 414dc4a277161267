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

  add(text: string, at: number): void {
    let code = this.codeOf.get(text);
    if (code === undefined) {
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
