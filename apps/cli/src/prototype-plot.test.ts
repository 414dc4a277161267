import { describe, expect, it } from 'vitest';
import { histogramSvg, type PrototypeStats } from './prototype-stats.js';

/** Statistics as `prototypeStats` returns them, with a histogram of `bins` bins over [-1, 1]. */
function stats(partial: Partial<PrototypeStats> & { occupied: Record<number, number>; bins: number }): Omit<PrototypeStats, 'geometry'> {
  const counts = Array.from({ length: partial.bins }, (_, b) => partial.occupied[b] ?? 0);
  return {
    classes: 20,
    dims: 19,
    maxCosine: -1 / 19,
    maxCosinePair: [0, 4],
    maxAbsCosine: 1 / 19,
    meanNearestCosine: -1 / 19,
    meanNormDeviation: 0,
    maxNormDeviation: 0,
    simplexBound: -1 / 19,
    welchBound: 1 / 19,
    ...partial,
    histogram: { lower: -1, upper: 1, counts },
  };
}

const texts = (svg: string) =>
  [...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)<\/text>/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
    text: m[3]!,
  }));

describe('prototypes inspect --plot', () => {
  it('has a title, y ticks, and x ticks zoomed on the occupied range that never touch', () => {
    // A simplex: all 190 pairs at -1/19, one bin of 50.
    const svg = histogramSvg(stats({ bins: 50, occupied: { 23: 190 } }), 's.npy');
    expect(svg).toMatch(/font-weight="bold">s\.npy: pairwise cosine similarities<\/text>/);
    expect(svg).toContain('C = 20 prototypes in D = 19: cosines of all 190 pairs, bins of 0.04, shown over [-0.2, 0.15] of [-1, 1]');
    const all = texts(svg);
    const yTicks = all.filter((t) => t.x === 64).map((t) => t.text);
    expect(yTicks).toEqual(['0', '50', '100', '150', '200']);
    const xTicks = all.filter((t) => t.y === 52 + 260 + 20);
    expect(xTicks.map((t) => t.text)).toEqual(['-0.2', '-0.15', '-0.1', '-0.05', '0', '0.05', '0.1', '0.15']);
    for (let i = 1; i < xTicks.length; i++)
      expect(xTicks[i]!.x - xTicks[i - 1]!.x).toBeGreaterThan((7 * (xTicks[i]!.text.length + xTicks[i - 1]!.text.length)) / 2);
    expect(svg).toContain('>pairs per bin</text>');
  });

  it('names the largest cosine and the bounds in a legend under the plot, not over the bars', () => {
    const svg = histogramSvg(stats({ bins: 50, occupied: { 23: 190 } }), 's.npy');
    const legend = texts(svg).filter((t) => /largest cosine|simplex bound|Welch bound/.test(t.text));
    expect(legend.map((t) => t.text)).toEqual([
      'largest cosine -0.0526 (pair 0, 4)',
      'simplex bound -1/(C-1) = -0.0526: no 20 unit vectors do better',
      'Welch bound on the largest |cosine| = 0.0526',
    ]);
    for (const t of legend) expect(t.y).toBeGreaterThan(52 + 260 + 40);
    // The largest cosine equals the simplex bound here: its line is drawn last and thinner, over the bound's.
    const lines = [...svg.matchAll(/<line x1="([\d.]+)" y1="52" x2="[\d.]+" y2="312" stroke="(#[0-9a-f]+)" stroke-width="([\d.]+)"/g)].map(
      (m) => [m[2], Number(m[3])],
    );
    expect(lines).toEqual([
      ['#806020', 2.5],
      ['#308030', 2.5],
      ['#c03030', 1.5],
    ]);
  });

  it('keeps the whole [-1, 1] when the cosines spread over it, and thins its ticks', () => {
    const occupied = Object.fromEntries(Array.from({ length: 200 }, (_, b) => [b, 10 + b]));
    const svg = histogramSvg(
      stats({ bins: 200, occupied, classes: 1000, dims: 10, maxCosine: 0.99, simplexBound: -0.001, welchBound: 0.3 }),
      'wide.npy',
    );
    expect(svg).not.toContain('shown over');
    const xTicks = texts(svg).filter((t) => t.y === 52 + 260 + 20);
    expect(xTicks[0]!.text).toBe('-1');
    expect(xTicks[xTicks.length - 1]!.text).toBe('1');
    expect(svg).toContain('cosines of all 499,500 pairs');
  });
});
