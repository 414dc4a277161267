import { describe, expect, it } from 'vitest';
import { createRng } from './rng.js';

describe('createRng', () => {
  it('repeats its stream for the same seed and differs for another', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 20 }, () => a.uint32());
    expect(Array.from({ length: 20 }, () => b.uint32())).toEqual(seqA);
    expect(Array.from({ length: 20 }, () => c.uint32())).not.toEqual(seqA);
  });

  it('keeps seeds above 2^32 distinct', () => {
    expect(createRng(1).uint32()).not.toBe(createRng(2 ** 32 + 1).uint32());
  });

  it('keeps the stream every seed below 2^32 has always had', () => {
    // First draws as they were before seeds of 2^32 and more got their own streams: committed results use them.
    const pinned: [number, number[], number, number][] = [
      [0, [3809008728, 1133695204, 53579671, 2891528803], 0.032522145755498943, 299127175],
      [1, [2442144158, 3238099751, 3819917871, 2104621829], 0.4705824180198359, 352133775],
      [42, [2837322924, 544945897, 479756282, 3500138142], 0.0791056456144914, 1429563280],
      [12345, [518667457, 440444462, 4232892992, 3757857622], 0.9171242811587097, 1403577819],
      [2 ** 31, [3777240597, 340332888, 1644009166, 126705310], 0.5996479262656267, 522984772],
      [2 ** 32 - 1, [835879718, 1921286648, 2356205009, 1885780724], 0.2282790634437124, 2219806611],
    ];
    for (const [seed, words, float, fork] of pinned) {
      const rng = createRng(seed);
      expect(Array.from({ length: 4 }, () => rng.uint32())).toEqual(words);
      expect(rng.float()).toBe(float);
      expect(rng.fork('train').uint32()).toBe(fork);
    }
  });

  it('gives seeds of 2^32 and more their own streams', () => {
    const first = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 8 }, () => rng.uint32()).join(',');
    };
    const seeds = [0, 1, 2, 2 ** 32, 2 ** 32 + 1, 2 ** 33, 2 ** 33 + 1, 3 * 2 ** 32, 2 ** 52, 2 ** 53 - 1];
    const streams = seeds.map(first);
    expect(new Set(streams).size).toBe(seeds.length);
    // Forks of such seeds differ too.
    const forks = seeds.map((seed) => createRng(seed).fork('train').uint32());
    expect(new Set(forks).size).toBe(seeds.length);
    // The same low word under many high words, and the same high word over many low words.
    const many = new Set<string>();
    for (let high = 0; high < 64; high++) for (const low of [0, 1, 7]) many.add(first(high * 2 ** 32 + low));
    expect(many.size).toBe(64 * 3);
  });

  it('draws uniform floats in [0, 1) with the right mean and variance', () => {
    const rng = createRng(7);
    const n = 100_000;
    let sum = 0;
    let sumSq = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = rng.float();
      min = Math.min(min, x);
      max = Math.max(max, x);
      sum += x;
      sumSq += x * x;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    const mean = sum / n;
    expect(mean).toBeCloseTo(0.5, 2);
    expect(sumSq / n - mean * mean).toBeCloseTo(1 / 12, 2);
  });

  it('draws standard normals', () => {
    const values = createRng(3).fillNormal(new Float32Array(100_000));
    const mean = values.reduce((s, x) => s + x, 0) / values.length;
    const variance = values.reduce((s, x) => s + (x - mean) ** 2, 0) / values.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(variance).toBeGreaterThan(0.98);
    expect(variance).toBeLessThan(1.02);
    // About 4.55% of N(0,1) draws lie beyond 2 standard deviations.
    const tail = values.filter((x) => Math.abs(x) > 2).length / values.length;
    expect(tail).toBeGreaterThan(0.04);
    expect(tail).toBeLessThan(0.051);
  });

  it("fills with the very draws of normal() one by one, a pair's spare carried across calls and into normal()", () => {
    const oneByOne = createRng(9);
    const expected = Float32Array.from({ length: 12 }, () => 0.5 + 2 * oneByOne.normal());
    const filled = createRng(9);
    const first = filled.fillNormal(new Float32Array(3), 0.5, 2);
    const second = filled.fillNormal(new Float32Array(2), 0.5, 2);
    const single = Math.fround(0.5 + 2 * filled.normal());
    const rest = filled.fillNormal(new Float32Array(6), 0.5, 2);
    expect([...first, ...second, single, ...rest]).toEqual([...expected]);
    // The generator's state moves on as one by one: the next 32-bit draws agree too.
    expect(filled.uint32()).toBe(oneByOne.uint32());
  });

  it('forks independent streams without advancing the parent', () => {
    const parent = createRng(5);
    const before = createRng(5).uint32();
    const forkA = parent.fork('train');
    const forkB = parent.fork('test');
    expect(parent.uint32()).toBe(before);
    expect(forkA.uint32()).not.toBe(forkB.uint32());
    expect(createRng(5).fork('train').uint32()).toBe(createRng(5).fork('train').uint32());
  });

  it('shuffles into a permutation and int stays in range', () => {
    const rng = createRng(11);
    const array = Int32Array.from({ length: 100 }, (_, i) => i);
    rng.shuffle(array);
    expect([...array].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect([...array]).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
    for (let i = 0; i < 1000; i++) {
      const k = rng.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
  });

  it('refuses negative or fractional seeds', () => {
    expect(() => createRng(-1)).toThrow(/seed/);
    expect(() => createRng(1.5)).toThrow(/seed/);
  });
});
