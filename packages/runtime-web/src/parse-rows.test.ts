import { describe, expect, it } from 'vitest';
import { parseFeatureRows } from './parse-rows.js';

describe('parseFeatureRows', () => {
  it('reads CSV with a header, comments and blank lines, remembering each row line', () => {
    const parsed = parseFeatureRows('f1,f2,f3\n# a comment\n1, 2, 3\n\n-4.5,5e-1,6\n');
    expect(parsed).toEqual({
      rows: [
        [1, 2, 3],
        [-4.5, 0.5, 6],
      ],
      lines: [3, 5],
      header: ['f1', 'f2', 'f3'],
      format: 'csv',
    });
  });

  it('accepts semicolons, tabs and spaces as separators', () => {
    expect(parseFeatureRows('1;2\n3;4').rows).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(parseFeatureRows('1\t2\n3\t4').rows).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(parseFeatureRows('1 2\n3   4').rows).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('reads JSON lines of arrays or {"features": [...]} and a whole JSON array of rows', () => {
    expect(parseFeatureRows('[1, 2]\n{"features": [3, 4]}\n')).toMatchObject({
      rows: [
        [1, 2],
        [3, 4],
      ],
      format: 'jsonl',
    });
    expect(parseFeatureRows('[[1, 2], [3, 4]]')).toMatchObject({
      rows: [
        [1, 2],
        [3, 4],
      ],
      format: 'json',
    });
    expect(parseFeatureRows('[1, 2, 3]')).toMatchObject({ rows: [[1, 2, 3]], format: 'jsonl' });
  });

  it('keeps NaN and infinities as numbers so that prediction can name them', () => {
    const rows = parseFeatureRows('1,NaN,inf\n-Infinity,2,3').rows;
    expect(rows[0]![1]).toBeNaN();
    expect(rows[0]![2]).toBe(Infinity);
    expect(rows[1]![0]).toBe(-Infinity);
    expect(parseFeatureRows('["NaN", 1]').rows[0]![0]).toBeNaN();
  });

  it('names the line and column of anything that is not a number', () => {
    expect(() => parseFeatureRows('1,2\n3,abc')).toThrow('line 2, column 2: "abc" is not a number');
    expect(() => parseFeatureRows('1,2\n3,')).toThrow('line 2, column 2: "" is not a number');
    expect(() => parseFeatureRows('1,2\n3,1_000')).toThrow('line 2, column 2: "1_000" is not a number');
    expect(() => parseFeatureRows('[1, 2]\n[3, true]')).toThrow('line 2, column 2: true is not a number');
    expect(() => parseFeatureRows('[1, 2]\n[3, 4')).toThrow(/line 2 is not valid JSON/);
    expect(() => parseFeatureRows('{"x": 1}')).toThrow(/line 1 is not an array of numbers/);
  });

  // `hyperproto predict --input` says the same of the same file (packages/data-files reads by the same rule):
  // /path/hex.csv line 1, column 1: "0x1F" is written in hexadecimal; write features as decimal numbers (e.g. 31)
  it('refuses hexadecimal, binary and octal numbers with the words `predict --input` uses', () => {
    const refusals: [string, string][] = [
      ['0x1F,0.5', 'line 1, column 1: "0x1F" is written in hexadecimal; write features as decimal numbers (e.g. 31)'],
      ['1,2\n0.5,0b101', 'line 2, column 2: "0b101" is written in binary; write features as decimal numbers (e.g. 5)'],
      ['f1,f2\n-0o17,1', 'line 2, column 1: "-0o17" is written in octal; write features as decimal numbers (e.g. -15)'],
      // A first line of such numbers is data to refuse, not a header of names.
      ['0x1F,0x2\n1,2', 'line 1, column 1: "0x1F" is written in hexadecimal; write features as decimal numbers (e.g. 31)'],
      ['[1, "0x1F"]', 'line 1, column 2: "0x1F" is written in hexadecimal; write features as decimal numbers (e.g. 31)'],
    ];
    for (const [text, message] of refusals) expect(thrownBy(text), text).toMatchObject({ code: 'E_INVALID_INPUT', message });
  });

  it('rejects ragged rows, naming both lines', () => {
    expect(() => parseFeatureRows('1,2,3\n4,5')).toThrow('ragged rows: line 2 has 2 values, line 1 has 3');
    expect(() => parseFeatureRows('[[1, 2], [3]]')).toThrow('ragged rows: line 2 has 1 values, line 1 has 2');
  });

  it('rejects empty input', () => {
    expect(() => parseFeatureRows('  \n ')).toThrow('no rows: the input is empty');
    expect(() => parseFeatureRows('a,b\n# nothing else')).toThrow(/no rows/);
  });
});

function thrownBy(text: string): unknown {
  try {
    parseFeatureRows(text);
  } catch (error) {
    return error;
  }
  return 'nothing thrown';
}
