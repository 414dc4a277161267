import { checkPrototypes, createRegistry, createRng, ErrorCode, resolveOptions, type Matrix } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { bchCodes, fieldTables, PRIMITIVE_POLYNOMIALS } from './bch-generator.js';
import { chooseCode, minimumDistance } from './code-choice.js';
import codePrototypes, { codePrototypes as named, largestCosineOfCode } from './index.js';

const make = (seed: number, classes: number, dims: number, rotate = true) =>
  codePrototypes.generate({ seed, rng: createRng(seed) }, { classes, dims }, { rotate }) as Matrix;

/** Each pair's cosine must be 1 - 2 h / D for the Hamming distance h of the sign patterns. */
function checkCodeGeometry(m: Matrix): { largest: number; distinct: boolean } {
  let largest = -Infinity;
  let distinct = true;
  for (let i = 0; i < m.rows; i++) {
    for (let j = i + 1; j < m.rows; j++) {
      let dot = 0;
      let hamming = 0;
      for (let t = 0; t < m.cols; t++) {
        const a = m.data[i * m.cols + t]!;
        const b = m.data[j * m.cols + t]!;
        dot += a * b;
        if (Math.sign(a) !== Math.sign(b)) hamming++;
      }
      expect(dot).toBeCloseTo(1 - (2 * hamming) / m.cols, 6);
      if (hamming === 0) distinct = false;
      largest = Math.max(largest, dot);
    }
  }
  return { largest, distinct };
}

describe('BCH codes', () => {
  it('uses primitive polynomials: alpha has order 2^m - 1', () => {
    for (const m of Object.keys(PRIMITIVE_POLYNOMIALS).map(Number)) {
      const { log, order } = fieldTables(m);
      // Every non-zero element appears exactly once among the powers of alpha.
      expect(log.slice(1).every((e) => e >= 0 && e < order)).toBe(true);
      expect(new Set(log.slice(1)).size).toBe(order);
    }
  });

  it('has generators with the designed consecutive roots that divide x^n - 1', () => {
    for (const m of [3, 4, 5, 6]) {
      const { exp, order } = fieldTables(m);
      for (const code of bchCodes(m, 1)) {
        const evaluate = (power: number) => code.generator.reduce((sum, c, i) => (c ? sum ^ exp[(power * i) % order]! : sum), 0);
        for (let power = 1; power < code.designedDistance; power++) expect(evaluate(power)).toBe(0);
        // g divides x^n - 1 when its deg g roots are distinct powers of alpha (the roots of x^n - 1).
        let roots = 0;
        for (let power = 0; power < order; power++) if (evaluate(power) === 0) roots++;
        expect(roots).toBe(code.generator.length - 1);
      }
    }
  });

  it('measures the minimum distance of known codes: Hamming [7,4,3] and its [8,4,4] extension', () => {
    const hamming = chooseCode(4, 7);
    expect(hamming).toMatchObject({ exact: true, minimumDistance: 3 });
    expect(chooseCode(4, 8).minimumDistance).toBe(4);
    // The repetition code: two codewords at distance D.
    expect(chooseCode(1, 9).minimumDistance).toBe(9);
    expect(minimumDistance([Uint32Array.of(0b011), Uint32Array.of(0b110)], 1)).toBe(2);
  });
});

describe('code prototypes', () => {
  it('registers, and applies whenever 2^D >= C (up to 2^24 classes)', () => {
    expect(createRegistry(codePrototypes).list('prototypes')).toEqual([named]);
    expect(resolveOptions(codePrototypes, {}).rotate).toBe(true);
    const problems = [
      [100_000, 100],
      [9, 3],
      [2 ** 25, 100],
    ].map(([classes, dims]) => codePrototypes.unsupported?.({ classes: classes!, dims: dims! }, { rotate: true }));
    expect(problems[0]).toBeUndefined();
    expect(problems[1]).toMatch(/need dims >= log2\(classes\) = 4, got 3/);
    expect(problems[2]).toMatch(/at most 2\^24/);
    expect(() => make(1, 9, 3)).toThrow(expect.objectContaining({ code: ErrorCode.Unsupported }));
  });

  it('gives distinct +-1/sqrt(D) unit rows whose largest cosine is 1 - 2 d / D, for random sizes (property)', () => {
    const sizes = createRng(31);
    for (let trial = 0; trial < 20; trial++) {
      const dims = 1 + sizes.int(48);
      const classes = 2 + sizes.int(Math.min(2 ** dims, 300) - 1);
      const prototypes = make(trial, classes, dims, trial % 2 === 0);
      checkPrototypes(prototypes, { classes, dims }, 'codes');
      for (const v of prototypes.data) expect(Math.abs(v)).toBe(Math.fround(1 / Math.sqrt(dims)));
      const { largest, distinct } = checkCodeGeometry(prototypes);
      expect(distinct).toBe(true);
      const code = chooseCode(Math.max(1, Math.ceil(Math.log2(classes))), dims);
      expect(largest).toBeLessThanOrEqual(largestCosineOfCode(code) + 1e-6);
    }
  });

  it('separates 100,000 prototypes in 100 dimensions far better than random directions (0.60)', () => {
    const code = chooseCode(17, 100);
    expect(code.exact).toBe(true);
    expect(largestCosineOfCode(code)).toBeLessThanOrEqual(0.34);
    const prototypes = make(1, 100_000, 100);
    expect(prototypes.rows).toBe(100_000);
  });
});
