import { describe, expect, it } from 'vitest';
import { splitCsvLine } from './csv-fields.js';
import { looksNumeric, parseDecimalField } from './decimal-field.js';

describe('splitCsvLine', () => {
  it('splits and trims plain fields', () => {
    expect(splitCsvLine(' 1, 2 ,3')).toEqual(['1', '2', '3']);
    expect(splitCsvLine('1,,3,')).toEqual(['1', '', '3', '']);
  });

  it('unquotes fields that hold commas and doubled quotes', () => {
    expect(splitCsvLine('"a, b",1, "say ""hi""" ,2')).toEqual(['a, b', '1', 'say "hi"', '2']);
    expect(splitCsvLine('"",x')).toEqual(['', 'x']);
  });

  it('refuses an unclosed quote and text after a closing quote', () => {
    expect(splitCsvLine('"open,1')).toBeUndefined();
    expect(splitCsvLine('"a"b,1')).toBeUndefined();
  });
});

describe('parseDecimalField', () => {
  it.each([
    ['0', 0],
    ['-12.5', -12.5],
    ['.25', 0.25],
    ['3.', 3],
    ['+1e3', 1000],
    ['1E-2', Math.fround(0.01)],
    ['007', 7],
  ])('reads %j', (text, value) => {
    expect(parseDecimalField(text)).toBe(value);
  });

  it.each(['0x10', '0b1', '0o7', 'NaN', '-inf', 'Infinity', '', '1e', '1.2.3', '1_0', '٣', '1e39'])('refuses %j with a reason', (text) => {
    expect(typeof parseDecimalField(text)).toBe('string');
  });

  it.each(['', 'NA', 'n/a', '#N/A', 'NaN', '-nan', 'null', 'NULL', 'None'])(
    'reports %j as a missing value, the same for train and predict',
    (text) => {
      const what = text === '' ? 'is empty' : 'marks a missing value';
      expect(parseDecimalField(text)).toBe(`${what}; every feature needs a value (fill in or drop rows with missing values)`);
    },
  );

  it('names a decimal comma and an infinity', () => {
    expect(parseDecimalField('-3,25')).toBe('has a decimal comma; write decimal points (-3.25)');
    expect(parseDecimalField('inf')).toBe('is not a finite number; replace or drop rows with infinite values');
    expect(parseDecimalField('NAN1')).toBe('is not a decimal number; features must be plain decimal numbers such as -1.5 or 2e-3');
  });

  it('tells numbers (even refused ones) from header names', () => {
    for (const text of ['1', '-0.5', 'nan', 'INF', '0x1F']) expect(looksNumeric(text), text).toBe(true);
    for (const text of ['x1', 'petal width', 'label', 'e5', '']) expect(looksNumeric(text), text).toBe(false);
  });
});
