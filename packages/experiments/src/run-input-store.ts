import type { ExperimentInputs, ReusedInput } from '@hyperproto/core';

/**
 * Bytes a worker's input store may hold by default: the seed grid's largest dataset (100 classes x 1,000 rows of 300
 * features, 120 MB) with room for the others and for dozens of 1,000 x 1,000 prototype sets (4 MB each).
 */
export const DEFAULT_INPUT_STORE_BYTES = 512 * 2 ** 20;

export interface InputStoreStats {
  readonly entries: number;
  readonly bytes: number;
  /** Values handed out from the store. */
  readonly hits: number;
  /** Values made because the store did not hold them. */
  readonly misses: number;
  /** Values made but not kept: larger than the store, or not plain data. */
  readonly refused: number;
  readonly evicted: number;
  /** Seconds spent copying values into and out of the store. */
  readonly copySeconds: number;
}

/**
 * The datasets, prototype sets and derived values runs of one worker share ({@link ExperimentInputs}): at most
 * `maxBytes` of them, the least recently used dropped first. The store keeps its own copy of what it is given and
 * hands out a fresh copy each time, so a plugin that writes into its dataset or prototypes changes its own run only
 * (a copy of a 1,000-class dataset costs milliseconds, `pnpm bench grid`). Only plain data is kept (objects, arrays,
 * typed arrays, strings, numbers); anything else is passed through unkept.
 */
export class RunInputStore implements ExperimentInputs {
  private readonly entries = new Map<string, { readonly value: unknown; readonly bytes: number }>();
  private held = 0;
  private counts = { hits: 0, misses: 0, refused: 0, evicted: 0, copySeconds: 0 };

  constructor(readonly maxBytes = DEFAULT_INPUT_STORE_BYTES) {}

  async reuse<T>(key: string, make: () => Promise<T>): Promise<ReusedInput<T>> {
    const entry = this.entries.get(key);
    if (entry) {
      // Most recently used last: the Map's order is the eviction order.
      this.entries.delete(key);
      this.entries.set(key, entry);
      this.counts.hits++;
      return { value: this.copy(entry.value) as T, reused: true };
    }
    this.counts.misses++;
    const value = await make();
    this.keep(key, value);
    return { value, reused: false };
  }

  stats(): InputStoreStats {
    return { entries: this.entries.size, bytes: this.held, ...this.counts };
  }

  private keep(key: string, value: unknown): void {
    const bytes = plainDataBytes(value);
    if (bytes === undefined || bytes > this.maxBytes) {
      this.counts.refused++;
      return;
    }
    // Two runs that made the same value at once (inline slots): the first one kept stays.
    if (this.entries.has(key)) return;
    for (const [oldest, entry] of this.entries) {
      if (this.held + bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.held -= entry.bytes;
      this.counts.evicted++;
    }
    this.entries.set(key, { value: this.copy(value), bytes });
    this.held += bytes;
  }

  private copy(value: unknown): unknown {
    const started = performance.now();
    const copied = copyPlainData(value);
    this.counts.copySeconds += (performance.now() - started) / 1000;
    return copied;
  }
}

type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

function isTypedArray(value: unknown): value is TypedArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Bytes a value of plain data takes (typed arrays by their length, everything else roughly), or undefined when it is
 * not plain data: a function, a class instance, a Map, a cycle.
 */
export function plainDataBytes(value: unknown, seen = new Set<object>()): number | undefined {
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return 8;
  if (typeof value === 'string') return 2 * value.length + 8;
  if (typeof value !== 'object') return undefined;
  if (isTypedArray(value)) return value.byteLength + 64;
  if (seen.has(value)) return undefined;
  if (!Array.isArray(value) && !isPlainObject(value)) return undefined;
  seen.add(value);
  let bytes = 64;
  for (const [name, item] of Object.entries(value)) {
    const itemBytes = plainDataBytes(item, seen);
    if (itemBytes === undefined) return undefined;
    bytes += itemBytes + 2 * name.length;
  }
  seen.delete(value);
  return bytes;
}

/** A deep copy of plain data (see {@link plainDataBytes}): every typed array gets its own buffer. */
export function copyPlainData<T>(value: T): T {
  if (isTypedArray(value)) return (value as TypedArray).slice() as T;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => copyPlainData(item)) as T;
  const copy: Record<string, unknown> = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
  // defineProperty: an own "__proto__" key stays a key instead of setting the copy's prototype.
  for (const [name, item] of Object.entries(value))
    Object.defineProperty(copy, name, { value: copyPlainData(item), enumerable: true, writable: true, configurable: true });
  return copy as T;
}
