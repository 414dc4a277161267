import { bchCodes, MAX_FIELD_DEGREE, type BchCode } from './bch-generator.js';

/** A binary linear code of length `dims` and dimension `bits`, as packed generator rows. */
export interface BinaryCode {
  readonly description: string;
  readonly dims: number;
  /** `bits` rows, each ceil(dims / 32) words. */
  readonly rows: readonly Uint32Array[];
  /** Fewest positions in which two codewords differ: exact when `exact`, else the BCH bound. */
  readonly minimumDistance: number;
  readonly exact: boolean;
}

/** Word operations allowed for exact minimum distances across all candidates (about a second). */
const DISTANCE_BUDGET = 2 ** 28;

/**
 * The best code this construction knows for 2^bits codewords of length `dims`: narrow-sense BCH codes of length
 * 2^m - 1 near `dims`, shortened to `bits` information positions (only the rows x^i g(x), i < bits, are used),
 * optionally extended by a parity position, then punctured or padded by repetition to exactly `dims`. The
 * candidates are ranked by their guaranteed distance, and the exact minimum distance of as many as the budget
 * allows decides.
 */
export function chooseCode(bits: number, dims: number): BinaryCode {
  const candidates: { code: BinaryCode; guaranteed: number }[] = [];
  const trivial = repeatedIdentity(bits, dims);
  candidates.push({ code: trivial, guaranteed: trivial.minimumDistance });
  const mMin = Math.max(2, Math.ceil(Math.log2(Math.max(2, dims - bits + 2))));
  for (let m = mMin; m <= Math.min(mMin + 2, MAX_FIELD_DEGREE); m++) {
    for (const bch of bchCodes(m, bits)) {
      for (const extended of [false, true]) {
        const support = bch.generator.length - 1 + bits + (extended ? 1 : 0);
        const boundBeforeCut = extended && bch.designedDistance % 2 === 1 ? bch.designedDistance + 1 : bch.designedDistance;
        for (const cut of support > dims ? (['end', 'start', 'spread'] as const) : (['repeat'] as const)) {
          const guaranteed = support > dims ? boundBeforeCut - (support - dims) : boundBeforeCut * Math.floor(dims / support);
          if (guaranteed < 1) continue;
          candidates.push({ code: shortenedBch(bch, bits, dims, extended, cut, guaranteed), guaranteed });
        }
      }
    }
  }
  candidates.sort((a, b) => b.guaranteed - a.guaranteed);
  const words = Math.ceil(dims / 32);
  let budget = DISTANCE_BUDGET;
  let best = candidates[0]!.code;
  for (const { code } of candidates) {
    const cost = 2 ** bits * words;
    if (cost > budget) break;
    budget -= cost;
    const measured = { ...code, minimumDistance: minimumDistance(code.rows, words), exact: true };
    if (!best.exact || measured.minimumDistance > best.minimumDistance) best = measured;
  }
  return best;
}

/**
 * Visits the first `count` codewords in Gray-code order (a bijection on [0, 2^bits), so they are distinct): each
 * differs from the previous one by a single generator row.
 */
export function walkCodewords(
  rows: readonly Uint32Array[],
  words: number,
  count: number,
  visit: (word: Uint32Array, index: number) => void,
): void {
  const word = new Uint32Array(words);
  visit(word, 0);
  for (let t = 1; t < count; t++) {
    const row = rows[31 - Math.clz32(t & -t)]!;
    for (let w = 0; w < words; w++) word[w]! ^= row[w]!;
    visit(word, t);
  }
}

/** Smallest weight of a non-zero codeword (= the minimum distance of a linear code). */
export function minimumDistance(rows: readonly Uint32Array[], words: number): number {
  let smallest = Infinity;
  walkCodewords(rows, words, 2 ** rows.length, (word, t) => {
    if (t === 0) return;
    let weight = 0;
    for (let w = 0; w < words; w++) weight += popcount(word[w]!);
    if (weight < smallest) smallest = weight;
  });
  return smallest;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

type Cut = 'end' | 'start' | 'spread' | 'repeat';

function shortenedBch(bch: BchCode, bits: number, dims: number, extended: boolean, cut: Cut, guaranteed: number): BinaryCode {
  const degree = bch.generator.length - 1;
  const support = degree + bits + (extended ? 1 : 0);
  const positions = keptPositions(support, dims, cut);
  const rows: Uint32Array[] = [];
  for (let i = 0; i < bits; i++) {
    // x^i g(x), then the parity of its weight when extended.
    const bitsOfRow = new Uint8Array(support);
    bitsOfRow.set(bch.generator, i);
    if (extended) bitsOfRow[support - 1] = bch.generator.reduce((a, b) => a ^ b, 0);
    rows.push(
      pack(
        positions.map((p) => bitsOfRow[p]!),
        dims,
      ),
    );
  }
  const shape = `${extended ? 'extended ' : ''}BCH(${bch.length}, designed distance ${bch.designedDistance}) shortened to ${bits} information bits`;
  const fit =
    support > dims
      ? `, ${support - dims} positions punctured at the ${cut}`
      : support < dims
        ? `, ${dims - support} positions repeated`
        : '';
  return { description: shape + fit, dims, rows, minimumDistance: guaranteed, exact: false };
}

/** Which of `support` positions fill the `dims` coordinates: some dropped, or all kept and repeated cyclically. */
function keptPositions(support: number, dims: number, cut: Cut): number[] {
  if (cut === 'repeat') return Array.from({ length: dims }, (_, t) => t % support);
  const drop = support - dims;
  if (cut === 'start') return Array.from({ length: dims }, (_, t) => t + drop);
  if (cut === 'end') return Array.from({ length: dims }, (_, t) => t);
  const dropped = new Set(Array.from({ length: drop }, (_, t) => Math.floor(((t + 0.5) * support) / drop)));
  return Array.from({ length: support }, (_, t) => t).filter((t) => !dropped.has(t));
}

/** Each information bit repeated across the coordinates: the fallback, distance floor(dims / bits). */
function repeatedIdentity(bits: number, dims: number): BinaryCode {
  const rows = Array.from({ length: bits }, (_, b) =>
    pack(
      Array.from({ length: dims }, (_, t) => (t % bits === b ? 1 : 0)),
      dims,
    ),
  );
  return { description: `each of ${bits} bits repeated`, dims, rows, minimumDistance: Math.floor(dims / bits), exact: false };
}

function pack(values: readonly number[], dims: number): Uint32Array {
  const out = new Uint32Array(Math.ceil(dims / 32));
  values.forEach((v, t) => {
    if (v) out[t >>> 5]! |= 1 << (t & 31);
  });
  return out;
}
