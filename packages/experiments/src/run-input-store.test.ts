import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyPlainData, plainDataBytes, RunInputStore } from './run-input-store.js';

const floats = (n: number, value = 1) => new Float32Array(n).fill(value);

describe('RunInputStore', () => {
  it('makes a value once and hands out copies of it that later calls cannot see changed', async () => {
    const store = new RunInputStore(10_000);
    let makes = 0;
    const make = async () => (
      makes++, { features: { rows: 2, cols: 2, data: floats(4, 0.5) }, labels: Int32Array.of(0, 1), info: { n: 2 } }
    );
    const first = await store.reuse('a', make);
    expect(first.reused).toBe(false);
    // The maker's value is the first run's own: changing it leaves the store's copy as made.
    first.value.features.data.fill(9);
    const second = await store.reuse('a', make);
    const third = await store.reuse('a', make);
    expect(makes).toBe(1);
    expect(second).toMatchObject({ reused: true, value: { features: { rows: 2, cols: 2 }, info: { n: 2 } } });
    expect([...second.value.features.data]).toEqual([0.5, 0.5, 0.5, 0.5]);
    second.value.features.data[0] = -1;
    second.value.labels[1] = 7;
    second.value.info.n = 3;
    expect([...third.value.features.data]).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect([...third.value.labels]).toEqual([0, 1]);
    expect(third.value.info.n).toBe(2);
    expect(store.stats()).toMatchObject({ entries: 1, hits: 2, misses: 1, refused: 0, evicted: 0 });
  });

  it('drops the least recently used values to stay within its bytes, and keeps none larger than all of it', async () => {
    // Each value: 4,000 bytes of data plus the store's small per-value count.
    const bytes = plainDataBytes(floats(1000))!;
    const store = new RunInputStore(3 * bytes);
    const made: string[] = [];
    const get = (key: string, size = 1000) => store.reuse(key, async () => (made.push(key), floats(size)));
    await get('a');
    await get('b');
    await get('c');
    await get('a'); // a is now the most recently used; b the least
    await get('d'); // evicts b
    expect(made).toEqual(['a', 'b', 'c', 'd']);
    await get('a');
    await get('c');
    await get('d');
    expect(made).toEqual(['a', 'b', 'c', 'd']);
    await get('b');
    expect(made).toEqual(['a', 'b', 'c', 'd', 'b']);
    expect(store.stats()).toMatchObject({ entries: 3, bytes: 3 * bytes, evicted: 2 });

    // Too large for the store: made, handed over as made, and not kept (nothing else is evicted for it).
    const huge = await get('huge', 4000);
    expect(huge).toMatchObject({ reused: false });
    expect(huge.value).toHaveLength(4000);
    await get('huge', 4000);
    expect(made.filter((k) => k === 'huge')).toHaveLength(2);
    expect(store.stats()).toMatchObject({ entries: 3, refused: 2 });
  });

  it('keeps nothing when making fails, and passes through values that are not plain data', async () => {
    const store = new RunInputStore();
    await expect(
      store.reuse('x', async () => {
        throw new Error('generator broke');
      }),
    ).rejects.toThrow('generator broke');
    expect(await store.reuse('x', async () => 5)).toEqual({ value: 5, reused: false });
    expect(await store.reuse('x', async () => 6)).toEqual({ value: 5, reused: true });

    class Matrixish {
      data = floats(2);
    }
    let makes = 0;
    const instance = await store.reuse('class', async () => (makes++, new Matrixish()));
    expect(instance.value).toBeInstanceOf(Matrixish);
    await store.reuse('class', async () => (makes++, new Matrixish()));
    await store.reuse('map', async () => new Map([[1, 2]]));
    await store.reuse('function', async () => ({ predict: () => 1 }));
    expect(makes).toBe(2);
    expect(store.stats()).toMatchObject({ entries: 1, refused: 4 });
  });
});

describe('plain data', () => {
  const plain = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.string(),
      fc.constant(null),
      fc.float32Array({ maxLength: 20 }),
      fc.int32Array({ maxLength: 20 }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
    ),
  })).value;

  it('copies deeply: equal to the original, and no typed array or object shared with it', () => {
    fc.assert(
      fc.property(plain, (value) => {
        const copy = copyPlainData(value);
        expect(copy).toEqual(value);
        expect(plainDataBytes(value)).toBeGreaterThan(0);
        const walk = (a: unknown, b: unknown): void => {
          if (a === null || typeof a !== 'object') return;
          expect(b).not.toBe(a);
          if (ArrayBuffer.isView(a)) expect((b as ArrayBufferView).buffer).not.toBe(a.buffer);
          else for (const key of Object.keys(a)) walk((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]);
        };
        walk(value, copy);
      }),
    );
  });

  it('counts typed arrays by their length and refuses what a copy would not reproduce', () => {
    expect(plainDataBytes(new Float32Array(1000))! - plainDataBytes(new Float32Array(0))!).toBe(4000);
    expect(plainDataBytes({ a: new Float64Array(10) })! - plainDataBytes({ a: new Float64Array(0) })!).toBe(80);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const value of [cycle, () => 1, new Date(0), new Map(), Symbol('s'), new DataView(new ArrayBuffer(4))]) {
      expect(plainDataBytes(value)).toBeUndefined();
    }
  });
});
