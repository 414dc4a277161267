import type { Rng } from '@hyperproto/core';

/**
 * Fills `size` inverted-dropout mask values from `offset`: each unit kept with probability 1 - rate and scaled by
 * 1 / (1 - rate), so inference needs no rescaling. The draws come from a xoshiro128** stream whose state is four
 * draws from `rng`: seeded from the run's seed like everything else, but inlined, and each 32-bit draw serves two
 * units (16 bits each, so the keep probability is exact to 2^-16). Masks take as many draws per batch as the batch
 * has hidden activations; drawn through `rng` one by one they took as long as the training step itself.
 */
export function fillDropoutMask(rng: Rng, into: Float32Array, offset: number, size: number, rate: number): void {
  const threshold = Math.round((1 - rate) * 0x10000);
  // The kept value's bits, stored through an integer view: the keep test becomes a mask, with no branch to mispredict
  // on every unit (three times faster than choosing between two floats).
  const kept = new Int32Array(Float32Array.of(1 / (1 - rate)).buffer)[0]!;
  const bits = new Int32Array(into.buffer, into.byteOffset, into.length);
  let a = rng.uint32() | 0;
  let b = rng.uint32() | 0;
  let c = rng.uint32() | 0;
  let d = rng.uint32() | 0;
  if ((a | b | c | d) === 0) a = 1;
  const end = offset + size;
  for (let i = offset; i < end; i += 2) {
    const b5 = Math.imul(b, 5);
    const draw = Math.imul((b5 << 7) | (b5 >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    // (x - threshold) >> 31 is all ones when x < threshold (both below 2^16), else zero.
    bits[i] = kept & (((draw & 0xffff) - threshold) >> 31);
    if (i + 1 < end) bits[i + 1] = kept & (((draw >>> 16) - threshold) >> 31);
  }
}
