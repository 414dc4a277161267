import { describe, expect, it } from 'vitest';
import { isDecimalNumber, otherBaseOf, otherBaseProblem } from './decimal-number.js';

describe('isDecimalNumber', () => {
  it('accepts plain decimal numbers', () => {
    for (const text of ['12', '-0.5', '+3', '.5', '1.', '3e-7', '2E+3', '0', '007']) expect(isDecimalNumber(text), text).toBe(true);
  });

  it('refuses what Number() would read but a data file does not mean', () => {
    for (const text of ['0x1F', '0b101', '0o17', 'Infinity', 'NaN', '1_000', '1,5', ' 1', '', 'e5', '.', '-']) {
      expect(isDecimalNumber(text), text).toBe(false);
    }
  });
});

describe('otherBaseProblem', () => {
  it('names the base and the decimal meant, the same words `predict` and the web page use', () => {
    expect(otherBaseProblem('0x1F')).toBe('is written in hexadecimal; write features as decimal numbers (e.g. 31)');
    expect(otherBaseProblem('0b101')).toBe('is written in binary; write features as decimal numbers (e.g. 5)');
    expect(otherBaseProblem('0O17')).toBe('is written in octal; write features as decimal numbers (e.g. 15)');
    expect(otherBaseProblem('-0xff')).toBe('is written in hexadecimal; write features as decimal numbers (e.g. -255)');
    // Not a valid literal (Number() gives NaN): still hexadecimal, with a stand-in example.
    expect(otherBaseProblem('0x1_F')).toBe('is written in hexadecimal; write features as decimal numbers (e.g. 31)');
  });

  it('is undefined for anything else', () => {
    for (const text of ['31', '0', '0.5', 'x1F', 'abc', '']) expect(otherBaseProblem(text), text).toBeUndefined();
    expect(otherBaseOf('0b1')).toBe('binary');
    expect(otherBaseOf('10')).toBeUndefined();
  });
});
