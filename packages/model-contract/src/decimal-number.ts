/**
 * How a feature value written as text is read, defined once for `hyperproto train`/`predict` (through
 * `@hyperproto/data-files`) and for pages (`@hyperproto/runtime-web`'s `parseFeatureRows`), so that the same text
 * means the same number, or the same refusal, everywhere.
 */

/** Plain decimal floats only: `12`, `-0.5`, `.5`, `1.`, `3e-7`. No hex, binary, octal, separators or words. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
// JavaScript's Number() reads `0x1F` as 31, `0b101` as 5 and `0o17` as 15; a data file almost never means that.
const OTHER_BASE = /^[+-]?0([xXbBoO])[0-9a-fA-F_]*$/;
const BASE_NAMES = { x: 'hexadecimal', b: 'binary', o: 'octal' } as const;

/** Whether `text` is a plain decimal number (no hex, binary, octal, separators, words or surrounding space). */
export function isDecimalNumber(text: string): boolean {
  return DECIMAL.test(text);
}

/** The base `text` is written in when it is a `0x`, `0b` or `0o` number (refused as a feature), else undefined. */
export function otherBaseOf(text: string): 'hexadecimal' | 'binary' | 'octal' | undefined {
  const base = OTHER_BASE.exec(text);
  return base ? BASE_NAMES[base[1]!.toLowerCase() as keyof typeof BASE_NAMES] : undefined;
}

/**
 * Why a `0x`, `0b` or `0o` number cannot be a feature, as a phrase that completes `"<text>" ...`
 * (`is written in hexadecimal; write features as decimal numbers (e.g. 31)`), or undefined for any other text.
 */
export function otherBaseProblem(text: string): string | undefined {
  const name = otherBaseOf(text);
  if (name === undefined) return undefined;
  return `is written in ${name}; write features as decimal numbers (e.g. ${decimalOf(text) ?? '31'})`;
}

/** `0x1F` -> `31`, `-0b101` -> `-5`: the decimal a user probably meant, for the message. */
function decimalOf(text: string): string | undefined {
  const value = Number(text.replace(/^[+-]/, ''));
  if (!Number.isFinite(value)) return undefined;
  return `${text.startsWith('-') ? '-' : ''}${value}`;
}
