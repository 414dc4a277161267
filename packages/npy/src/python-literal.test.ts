import { describe, expect, it } from 'vitest';
import { parsePythonLiteral, PythonLiteralError, pythonRepr } from './python-literal.js';

describe('parsePythonLiteral', () => {
  it('reads the values .npy headers contain', () => {
    expect(parsePythonLiteral("'<f4'")).toBe('<f4');
    expect(parsePythonLiteral('"it\\\'s"')).toBe("it's");
    expect(parsePythonLiteral('True')).toBe(true);
    expect(parsePythonLiteral('None')).toBe(null);
    expect(parsePythonLiteral('-12')).toBe(-12);
    expect(parsePythonLiteral('12L')).toBe(12);
    expect(parsePythonLiteral('[1, (2,), "x"]')).toEqual([1, { tuple: [2] }, 'x']);
    expect(parsePythonLiteral('()')).toEqual({ tuple: [] });
    expect(parsePythonLiteral('{"a": {"b": (1, 2)}}')).toEqual({ dict: new Map([['a', { dict: new Map([['b', { tuple: [1, 2] }]]) }]]) });
  });

  it('tells a one-element tuple from a parenthesised value', () => {
    expect(parsePythonLiteral('(7,)')).toEqual({ tuple: [7] });
    expect(parsePythonLiteral('( 7 , )')).toEqual({ tuple: [7] });
    expect(parsePythonLiteral('(7)')).toBe(7);
  });

  it.each(["'open", '{1: 2}', '(1 2)', '{"a" 1}', 'nope', '[1,', ''])('rejects %j', (text) => {
    expect(() => parsePythonLiteral(text)).toThrowError(PythonLiteralError);
  });
});

describe('pythonRepr', () => {
  it('writes values back in the syntax they were read in', () => {
    for (const text of [
      "[('x', '<f4'), ('y', '<i8', (2,))]",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'n': None, 'ok': True}",
      "('it\\'s', -3)",
    ]) {
      expect(pythonRepr(parsePythonLiteral(text))).toBe(text);
    }
  });
});
