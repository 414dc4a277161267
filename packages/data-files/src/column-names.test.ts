import { describe, expect, it } from 'vitest';
import { columnNamesDifference } from './column-names.js';

describe('columnNamesDifference: a header against the names expected', () => {
  const expected = ['width', 'height', 'depth'];

  it('finds no difference in the same names in the same order', () => {
    expect(columnNamesDifference([...expected], expected, 'x.csv', 'the model')).toBeUndefined();
  });

  it('names the first column out of place when only the order differs', () => {
    expect(columnNamesDifference(['width', 'depth', 'height'], expected, 'x.csv', 'the model')).toEqual({
      kind: 'order',
      text: 'x.csv line 1 names the columns of the model in another order: feature column 2 is "depth" in x.csv but "height" in the model',
    });
  });

  it('lists other names once each, and counts a shorter or longer list as different', () => {
    expect(columnNamesDifference(['width', 'id', 'id', 'length'], expected, 'x.csv', 'data.csv')).toEqual({
      kind: 'names',
      text: 'x.csv line 1 names other columns than data.csv: "id", "length" are not in data.csv, and "height", "depth" are missing',
    });
    expect(columnNamesDifference(['width', 'height'], expected, 'x.csv', 'data.csv')?.text).toBe(
      'x.csv line 1 names other columns than data.csv: "depth" is missing',
    );
    expect(columnNamesDifference([...expected, 'id'], expected, 'x.csv', 'data.csv')?.text).toBe(
      'x.csv line 1 names other columns than data.csv: "id" is not in data.csv',
    );
  });

  it('says what both lists are when only a repeated name differs', () => {
    expect(columnNamesDifference(['a', 'a', 'b'], ['a', 'b', 'b'], 'x.csv', 'data.csv')?.text).toBe(
      'x.csv line 1 names other columns than data.csv: "a", "a", "b" against "a", "b", "b"',
    );
  });
});
