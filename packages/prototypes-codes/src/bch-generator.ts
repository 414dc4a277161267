/**
 * Binary BCH codes (Bose, Chaudhuri, Hocquenghem): cyclic codes of length n = 2^m - 1 whose generator polynomial
 * g(x) has the consecutive roots alpha^1 .. alpha^(delta - 1) in GF(2^m); then any two codewords differ in at
 * least delta positions (the BCH bound).
 */

/** Primitive polynomials over GF(2), bit i = coefficient of x^i, for m = 2 .. 16. */
export const PRIMITIVE_POLYNOMIALS: Readonly<Record<number, number>> = {
  2: 0x7,
  3: 0xb,
  4: 0x13,
  5: 0x25,
  6: 0x43,
  7: 0x89,
  8: 0x11d,
  9: 0x211,
  10: 0x409,
  11: 0x805,
  12: 0x1053,
  13: 0x201b,
  14: 0x4443,
  15: 0x8003,
  16: 0x1100b,
};

export const MAX_FIELD_DEGREE = 16;

/** exp/log tables of GF(2^m) built from its primitive polynomial. */
export function fieldTables(m: number): { exp: Uint32Array; log: Int32Array; order: number } {
  const polynomial = PRIMITIVE_POLYNOMIALS[m];
  if (polynomial === undefined) throw new RangeError(`no primitive polynomial for GF(2^${m})`);
  const order = 2 ** m - 1;
  const exp = new Uint32Array(2 * order);
  const log = new Int32Array(order + 1).fill(-1);
  let value = 1;
  for (let i = 0; i < order; i++) {
    exp[i] = exp[i + order] = value;
    log[value] = i;
    value <<= 1;
    if (value & (order + 1)) value ^= polynomial;
  }
  return { exp, log, order };
}

export interface BchCode {
  readonly m: number;
  /** Length 2^m - 1. */
  readonly length: number;
  /** Generator polynomial, coefficient of x^i at index i (0 or 1). */
  readonly generator: Uint8Array;
  /** The BCH bound: alpha^1 .. alpha^(designedDistance - 1) are all roots of the generator. */
  readonly designedDistance: number;
}

/**
 * Every narrow-sense BCH code of length 2^m - 1 with dimension >= minDimension, from the largest dimension to
 * the smallest: each adds the minimal polynomial of the next power of alpha that is not yet a root.
 */
export function bchCodes(m: number, minDimension: number): BchCode[] {
  const { exp, log, order } = fieldTables(m);
  const isRoot = new Uint8Array(order);
  let generator: Uint8Array = Uint8Array.of(1);
  const codes: BchCode[] = [];
  for (let power = 1; power < order; power++) {
    if (isRoot[power]) continue;
    const coset: number[] = [];
    for (let e = power; !coset.includes(e); e = (e * 2) % order) coset.push(e);
    const next = multiplyBinary(generator, minimalPolynomial(coset, exp, log, order));
    if (order - (next.length - 1) < minDimension) break;
    generator = next;
    for (const e of coset) isRoot[e] = 1;
    let designed = 1;
    while (designed < order && isRoot[designed]) designed++;
    codes.push({ m, length: order, generator, designedDistance: designed });
  }
  return codes;
}

/** prod over the coset of (x - alpha^e): its coefficients lie in GF(2). */
function minimalPolynomial(coset: readonly number[], exp: Uint32Array, log: Int32Array, order: number): Uint8Array {
  // Coefficients in GF(2^m), constant term first.
  let poly = [1];
  for (const e of coset) {
    const root = exp[e]!;
    const next = new Array<number>(poly.length + 1).fill(0);
    for (let i = 0; i < poly.length; i++) {
      next[i + 1]! ^= poly[i]!;
      if (poly[i]) next[i]! ^= exp[log[poly[i]!]! + log[root]!]!;
    }
    poly = next;
  }
  if (poly.some((c) => c > 1)) throw new Error(`minimal polynomial over GF(2^${Math.log2(order + 1)}) has a coefficient outside GF(2)`);
  return Uint8Array.from(poly);
}

function multiplyBinary(a: Uint8Array, b: Uint8Array): Uint8Array {
  const product = new Uint8Array(a.length + b.length - 1);
  for (let i = 0; i < a.length; i++) if (a[i]) for (let j = 0; j < b.length; j++) product[i + j]! ^= b[j]!;
  return product;
}
