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

  it('tells numbers (even refused ones) from header names', () => {
    for (const text of ['1', '-0.5', 'nan', 'INF', '0x1F']) expect(looksNumeric(text), text).toBe(true);
    for (const text of ['x1', 'petal width', 'label', 'e5', '']) expect(looksNumeric(text), text).toBe(false);
  });
});
