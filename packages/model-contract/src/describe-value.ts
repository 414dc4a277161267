/**
 * A value a caller gave where something else was expected, for messages: numbers and short strings as they are
 * (strings quoted, so `"3"` is told apart from 3), typed arrays by their type and length, anything else by its
 * type. Never serialised whole: it may be huge or deeply nested.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || value === undefined || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const length = (value as unknown as ArrayLike<unknown>).length;
    return `a ${value.constructor.name} of ${length} value${length === 1 ? '' : 's'}`;
  }
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
