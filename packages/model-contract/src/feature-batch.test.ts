import { describe, expect, it } from 'vitest';
import { InvalidFeaturesError, toFeatureMatrix, type FeatureBatch, type FeatureCheckOptions, type InvalidFeaturesDetail } from './index.js';

const row = (width = 4, value = 0.5) => Array.from({ length: width }, () => value);

/** The refusal of a batch: its code, message, detail and hint. */
function refusal(input: unknown, width = 4, options: FeatureCheckOptions = {}) {
  try {
    toFeatureMatrix(input as FeatureBatch, width, options);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidFeaturesError);
    const { code, name, message, detail, hint } = error as InvalidFeaturesError;
    expect({ code, name }).toEqual({ code: 'E_INVALID_INPUT', name: 'HyperprotoError' });
    return { message, detail, ...(hint === undefined ? {} : { hint }) } as {
      message: string;
      detail: InvalidFeaturesDetail;
      hint?: string;
    };
  }
  return undefined;
}

describe('toFeatureMatrix', () => {
  it('turns rows into one float32 matrix, and passes a float32 matrix or flat batch through', () => {
    expect(
      toFeatureMatrix(
        [
          [1, 2],
          [3, 4.25],
        ],
        2,
      ),
    ).toEqual({ rows: 2, cols: 2, data: Float32Array.from([1, 2, 3, 4.25]) });
    expect(toFeatureMatrix([Float64Array.from([0.1, 2]), Int8Array.from([-3, 4])], 2).data).toEqual(Float32Array.from([0.1, 2, -3, 4]));
    const matrix = { rows: 1, cols: 2, data: Float32Array.from([5, 6]) };
    expect(toFeatureMatrix(matrix, 2)).toBe(matrix);
    const flat = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const fromFlat = toFeatureMatrix(flat, 3);
    expect(fromFlat).toEqual({ rows: 2, cols: 3, data: flat });
    expect(fromFlat.data).toBe(flat);
  });

  it('refuses an empty batch, in every form', () => {
    const empty = { message: 'the batch is empty: send at least one row of 4 features', detail: { problem: 'empty-batch' } };
    expect(refusal([])).toEqual(empty);
    expect(refusal(new Float32Array(0))).toEqual(empty);
    expect(refusal({ rows: 0, cols: 4, data: new Float32Array(0) })).toEqual(empty);
    expect(refusal([], 4, { source: 'rows.csv' })?.message).toBe('rows.csv is empty: send at least one row of 4 features');
  });

  it('refuses more rows than allowed', () => {
    expect(refusal([row(), row(), row()], 4, { maxRows: 2 })).toEqual({
      message: 'the batch has 3 rows; at most 2 are accepted at once',
      detail: { problem: 'too-many-rows' },
      hint: 'Split the rows into smaller batches.',
    });
    expect(refusal(new Float32Array(12), 4, { maxRows: 2 })?.detail).toEqual({ problem: 'too-many-rows' });
  });

  it('refuses ragged rows at the first row that differs from row 0', () => {
    expect(refusal([row(), row(), row(3), row(2)])).toEqual({
      message: "the batch has ragged rows: row 0 has 4 values but row 2 has 3; every row needs the model's 4 features",
      detail: { problem: 'ragged-rows', row: 2 },
    });
    expect(refusal({ rows: 2, cols: 4, data: new Float32Array(7) })).toEqual({
      message: 'the batch has 7 values for 2 x 4',
      detail: { problem: 'ragged-rows' },
    });
  });

  it('refuses the wrong width', () => {
    const hint = 'Send features made the same way as the training data (the model metadata names its inputWidth).';
    expect(refusal([row(3), row(3)])).toEqual({
      message: 'the batch has rows of 3 features; the model expects 4',
      detail: { problem: 'wrong-width' },
      hint,
    });
    expect(refusal({ rows: 1, cols: 5, data: new Float32Array(5) })).toEqual({
      message: 'the batch has rows of 5 features; the model expects 4',
      detail: { problem: 'wrong-width' },
      hint,
    });
    expect(refusal(new Float32Array(6))).toEqual({
      message: "the batch has 6 values, not a whole number of rows of the model's 4 features",
      detail: { problem: 'wrong-width' },
    });
  });

  it('refuses values that are not finite numbers, at their 0-based row and column', () => {
    const at = (value: unknown, r = 1, c = 3) => {
      const rows: unknown[][] = [row(), row(), row()];
      rows[r]![c] = value;
      return refusal(rows);
    };
    expect(at(Number.NaN)).toEqual({
      message: 'the batch: row 1, column 3 is NaN; features must be finite numbers',
      detail: { problem: 'not-finite', row: 1, column: 3 },
    });
    expect(at(-Infinity, 0, 0)).toEqual({
      message: 'the batch: row 0, column 0 is -Infinity; features must be finite numbers',
      detail: { problem: 'not-finite', row: 0, column: 0 },
    });
    expect(at(1e39, 2, 1)).toEqual({
      message: 'the batch: row 2, column 1 is 1e+39, beyond the float32 range the model computes in',
      detail: { problem: 'not-finite', row: 2, column: 1 },
    });
    expect(at('7')).toEqual({
      message: 'the batch: row 1, column 3 is "7", not a number',
      detail: { problem: 'not-a-number', row: 1, column: 3 },
    });
    expect(at(null, 1, 2)).toEqual({
      message: 'the batch: row 1, column 2 is null, not a number',
      detail: { problem: 'not-a-number', row: 1, column: 2 },
    });
    expect(at(undefined, 2, 3)).toEqual({
      message: 'the batch: row 2, column 3 is undefined, not a number',
      detail: { problem: 'not-a-number', row: 2, column: 3 },
    });
    const flat = new Float32Array(8);
    flat[6] = Number.POSITIVE_INFINITY;
    expect(refusal(flat)).toEqual({
      message: 'the batch: row 1, column 2 is Infinity; features must be finite numbers',
      detail: { problem: 'not-finite', row: 1, column: 2 },
    });
    expect(refusal({ rows: 2, cols: 4, data: flat })?.detail).toEqual({ problem: 'not-finite', row: 1, column: 2 });
  });

  it('describes a value that is not a number by its type, however deep or long, never by writing it out', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const at = (value: unknown) => refusal([row(), [0.5, value, 0.5, 0.5]])?.message;
    expect(at(deep)).toBe('the batch: row 1, column 1 is an array of 1 item, not a number');
    expect(at({ features: deep })).toBe('the batch: row 1, column 1 is an object, not a number');
    expect(at('x'.repeat(100_000))).toBe(`the batch: row 1, column 1 is "${'x'.repeat(37)}...", not a number`);
    expect(at(true)).toBe('the batch: row 1, column 1 is true, not a number');
    expect(at(7n)).toBe('the batch: row 1, column 1 is 7n, not a number');
  });

  it('numbers rows and columns from 1 in messages for a file (oneBased), keeping detail 0-based', () => {
    const rows: unknown[][] = [row(), row(), row()];
    rows[1]![3] = Number.NaN;
    expect(refusal(rows, 4, { source: 'x.npy', oneBased: true })).toEqual({
      message: 'x.npy: row 2, column 4 is NaN; features must be finite numbers',
      detail: { problem: 'not-finite', row: 1, column: 3 },
    });
    const flat = new Float32Array(8);
    flat[4] = Number.NEGATIVE_INFINITY;
    expect(refusal({ rows: 2, cols: 4, data: flat }, 4, { source: 'x.npy', oneBased: true })).toEqual({
      message: 'x.npy: row 2, column 1 is -Infinity; features must be finite numbers',
      detail: { problem: 'not-finite', row: 1, column: 0 },
    });
    expect(refusal([row(), row(), row(3)], 4, { oneBased: true })?.message).toBe(
      "the batch has ragged rows: row 1 has 4 values but row 3 has 3; every row needs the model's 4 features",
    );
    expect(refusal([row(), 'abcd'], 4, { oneBased: true })).toEqual({
      message: 'the batch: row 2 is not an array of numbers',
      detail: { problem: 'not-a-number', row: 1 },
    });
  });

  it('numbers rows from firstRow in messages for a chunk of a larger input, keeping detail within the batch', () => {
    const rows: unknown[][] = [row(), row()];
    rows[1]![3] = Number.NaN;
    expect(refusal(rows, 4, { source: 'x.csv', oneBased: true, firstRow: 1001 })).toEqual({
      message: 'x.csv: row 1002, column 4 is NaN; features must be finite numbers',
      detail: { problem: 'not-finite', row: 1, column: 3 },
    });
    expect(refusal(rows, 4, { firstRow: 1000 })?.message).toBe('the batch: row 1001, column 3 is NaN; features must be finite numbers');
  });

  it('refuses a row that is not an array, holes included', () => {
    expect(refusal([row(), 'abcd'])).toEqual({
      message: 'the batch: row 1 is not an array of numbers',
      detail: { problem: 'not-a-number', row: 1 },
    });
    expect(refusal([row(), undefined, row()])).toEqual({
      message: 'the batch: row 1 is not an array of numbers',
      detail: { problem: 'not-a-number', row: 1 },
    });
    expect(refusal([row(), new DataView(new ArrayBuffer(4))])?.detail).toEqual({ problem: 'not-a-number', row: 1 });
  });
});
