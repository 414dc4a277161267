/**
 * A reader for the small subset of Python literal syntax that .npy headers use: dicts, tuples, lists, strings,
 * integers, True/False/None. numpy writes the header with `repr` and reads it with `ast.literal_eval`, so this
 * accepts what `literal_eval` would for those types (either quote style, trailing commas, Python 2 `3L` integers).
 */
export type PythonValue = string | number | boolean | null | PythonValue[] | PythonTuple | PythonDict;
export interface PythonTuple {
  readonly tuple: PythonValue[];
}
export interface PythonDict {
  readonly dict: Map<string, PythonValue>;
}

export class PythonLiteralError extends Error {}

/**
 * Deepest nesting accepted. numpy's headers nest two levels (a dict holding a shape tuple); the parser recurses, so
 * a hostile header of thousands of brackets would otherwise overflow the stack.
 */
export const MAX_LITERAL_DEPTH = 32;

export function parsePythonLiteral(text: string): PythonValue {
  let at = 0;
  let depth = 0;

  const fail = (what: string): never => {
    const near = text.slice(at, at + 20);
    throw new PythonLiteralError(`${what} at character ${at}${near ? ` (near ${JSON.stringify(near)})` : ''}`);
  };
  const skipSpace = () => {
    while (at < text.length && /\s/.test(text[at]!)) at++;
  };
  const expect = (char: string) => {
    skipSpace();
    if (text[at] !== char) fail(`expected '${char}'`);
    at++;
  };

  const sequence = (close: string): PythonValue[] => {
    const items: PythonValue[] = [];
    skipSpace();
    while (text[at] !== close) {
      items.push(value());
      skipSpace();
      if (text[at] === ',') at++;
      else if (text[at] !== close) fail(`expected ',' or '${close}'`);
      skipSpace();
    }
    at++;
    return items;
  };

  const string = (): string => {
    const quote = text[at]!;
    at++;
    let out = '';
    while (at < text.length && text[at] !== quote) {
      if (text[at] === '\\') {
        at++;
        const escaped = text[at];
        if (escaped === undefined) break;
        out += escaped === 'n' ? '\n' : escaped === 't' ? '\t' : escaped;
      } else {
        out += text[at];
      }
      at++;
    }
    if (text[at] !== quote) fail('unterminated string');
    at++;
    return out;
  };

  const value = (): PythonValue => {
    skipSpace();
    const char = text[at];
    if (char === undefined) return fail('unexpected end');
    if (char === "'" || char === '"') return string();
    if (char !== '(' && char !== '[' && char !== '{') return scalar();
    if (++depth > MAX_LITERAL_DEPTH) fail(`nested deeper than ${MAX_LITERAL_DEPTH} levels`);
    const nested = container(char);
    depth--;
    return nested;
  };

  const container = (char: string): PythonValue => {
    if (char === '(') {
      at++;
      const start = at;
      const items = sequence(')');
      // `(3)` is just 3 in Python; only a comma makes a one-element tuple.
      if (items.length === 1 && !/,\s*\)$/.test(text.slice(start, at))) return items[0]!;
      return { tuple: items };
    }
    if (char === '[') {
      at++;
      return sequence(']');
    }
    if (char === '{') {
      at++;
      const dict = new Map<string, PythonValue>();
      skipSpace();
      while (text[at] !== '}') {
        const key = value();
        if (typeof key !== 'string') fail('expected a string key');
        expect(':');
        dict.set(key as string, value());
        skipSpace();
        if (text[at] === ',') at++;
        else if (text[at] !== '}') fail("expected ',' or '}'");
        skipSpace();
      }
      at++;
      return { dict };
    }
    return fail('unexpected character');
  };

  const scalar = (): PythonValue => {
    const word = /^(?:-?\d+L?|True|False|None)/.exec(text.slice(at));
    if (!word) return fail('unexpected character');
    at += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    if (word[0] === 'None') return null;
    return Number(word[0].replace('L', ''));
  };

  const result = value();
  skipSpace();
  if (at !== text.length) fail('unexpected text after the value');
  return result;
}

/** `value` as Python's `repr` writes it, so that messages quote a header in the syntax it was written in. */
export function pythonRepr(value: PythonValue): string {
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string')
    return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\t/g, '\\t')}'`;
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if ('tuple' in value)
    return value.tuple.length === 1 ? `(${pythonRepr(value.tuple[0]!)},)` : `(${value.tuple.map(pythonRepr).join(', ')})`;
  return `{${[...value.dict].map(([key, item]) => `${pythonRepr(key)}: ${pythonRepr(item)}`).join(', ')}}`;
}
