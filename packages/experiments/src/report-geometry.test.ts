import type { PrototypeGeometry } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { parseGrid } from './grid-schema.js';
import { buildReportData } from './report-data.js';
import { buildReportDocument } from './report-document.js';
import { geometryGroups, geometryValue, strongestMeasures } from './report-geometry.js';
import { renderMarkdown } from './report-markdown.js';
import { gridRecord } from './test-support/fake-record.js';

const geometry = (measures: Partial<PrototypeGeometry>): PrototypeGeometry => ({
  classes: 8,
  dims: 8,
  largestNearestCosine: 0,
  meanNearestCosine: 0,
  largestSingularValue: 1,
  smallestSingularValue: 1,
  effectiveRank: 8,
  condition: 1,
  notes: [],
  ...measures,
});

const hpn = (strategy: string, hiddenUnits = 300) => ({
  id: `hpn-${strategy}-h${hiddenUnits}`,
  head: 'hpn',
  prototypes: { strategy, dims: 8 },
  trainer: { hiddenUnits },
});
const grid = parseGrid({
  name: 'geometry-report',
  seeds: 2,
  datasets: [{ id: 'c8', label: 'blobs 8', name: 'blobs', options: { classes: 8 } }],
  models: [
    { id: 'softmax', head: 'softmax' },
    hpn('a'),
    hpn('b'),
    hpn('c'),
    hpn('d'),
    hpn('a', 1000),
    hpn('b', 1000),
    hpn('c', 1000),
    { id: 'cos-a', head: 'cosine-softmax', prototypes: { strategy: 'a', dims: 8 } },
    { id: 'cos-b', head: 'cosine-softmax', prototypes: { strategy: 'b', dims: 8 } },
    { id: 'cos-old', head: 'cosine-softmax', prototypes: { strategy: 'old', dims: 8 } },
    { id: 'lone', head: 'margin', prototypes: { strategy: 'a', dims: 8 } },
  ],
});
const model = (id: string) => {
  const m = grid.models.find((entry) => entry.id === id)!;
  return { id, head: typeof m.head === 'string' ? m.head : m.head.name, strategy: m.prototypes?.strategy, dims: m.prototypes?.dims };
};

// Width 300: the macro-F1 falls from a to d (each a mean of two seeds), and each measure orders the sets its own way.
const sets: Record<string, { f1: [number, number]; g: Partial<PrototypeGeometry> }> = {
  a: {
    f1: [0.88, 0.92],
    g: { largestNearestCosine: 0, meanNearestCosine: 0, effectiveRank: 1000, condition: null, smallestSingularValue: 0 },
  },
  b: {
    f1: [0.8, 0.8],
    g: { largestNearestCosine: 0.05, meanNearestCosine: 0.05, effectiveRank: 900, condition: 1, smallestSingularValue: 1 },
  },
  c: {
    f1: [0.55, 0.65],
    g: { largestNearestCosine: 0.1, meanNearestCosine: 0.05, effectiveRank: 950, condition: 50, smallestSingularValue: 0.01 },
  },
  // A spectrum that was skipped: no singular values and no condition, so two measures have three cells.
  d: {
    f1: [0.4, 0.4],
    g: {
      largestNearestCosine: 0.2,
      meanNearestCosine: 0.2,
      effectiveRank: 100,
      condition: null,
      smallestSingularValue: null,
      largestSingularValue: null,
    },
  },
};
const records = [
  ...[0, 1].map((seed) => gridRecord('c8', model('softmax'), seed, 0.95)),
  ...Object.entries(sets).flatMap(([name, { f1, g }]) =>
    [0, 1].map((seed) => gridRecord('c8', model(`hpn-${name}-h300`), seed, f1[seed]!, { prototypeGeometry: geometry(g) })),
  ),
  // Width 1,000: both cosine measures order the three sets perfectly, a tie for the strongest.
  ...['a', 'b', 'c'].map((name, i) =>
    gridRecord('c8', model(`hpn-${name}-h1000`), 0, 0.9 - 0.1 * i, {
      prototypeGeometry: geometry({ largestNearestCosine: 0.1 * i, meanNearestCosine: 0.05 * i, effectiveRank: [7, 5, 6][i] }),
    }),
  ),
  gridRecord('c8', model('cos-a'), 0, 0.9, { prototypeGeometry: geometry({ largestNearestCosine: 0 }) }),
  gridRecord('c8', model('cos-b'), 0, 0.7, { prototypeGeometry: geometry({ largestNearestCosine: 0.3 }) }),
  // A record written before the geometry was recorded counts in no correlation.
  gridRecord('c8', model('cos-old'), 0, 0.1),
  gridRecord('c8', model('lone'), 0, 0.5, { prototypeGeometry: geometry({}) }),
];
const data = buildReportData(grid, records);

describe('which prototype measure predicts macro-F1', () => {
  it('counts an infinite condition (smallest singular value 0) as the largest, and a skipped measure as missing', () => {
    expect(geometryValue(geometry({ condition: null, smallestSingularValue: 0 }), 'condition')).toBe(Number.POSITIVE_INFINITY);
    expect(geometryValue(geometry({ condition: null, smallestSingularValue: null }), 'condition')).toBeNull();
    expect(geometryValue(geometry({ effectiveRank: 3.5 }), 'effectiveRank')).toBe(3.5);
  });

  it('groups the prototype sets of one dataset, head, trainer and D, and correlates over the cells that have each measure', () => {
    const groups = geometryGroups(data);
    expect(groups.map((g) => [g.example.id, g.cells.length])).toEqual([
      ['hpn-a-h300', 4],
      ['hpn-a-h1000', 3],
      ['cos-a', 2],
    ]);
    const [width300, width1000, cosine] = groups;
    width300!.cells.forEach((c, i) => expect(c.macroF1).toBeCloseTo([90, 80, 60, 40][i]!, 10));
    const rho = (g: typeof width300, key: keyof NonNullable<typeof width300>['correlations']) => g!.correlations[key];
    expect(rho(width300, 'largestNearestCosine')).toEqual({ rho: -1, n: 4 });
    // Tied mean cosines (b and c): scipy.stats.spearmanr gives -0.9486832980505139.
    expect(rho(width300, 'meanNearestCosine').rho).toBeCloseTo(-0.9486832980505139, 12);
    expect(rho(width300, 'effectiveRank').rho).toBeCloseTo(0.8, 12);
    // a's infinite condition ranks highest, and d (skipped) is left out: a, b, c by F1 against ranks 3, 1, 2.
    expect(rho(width300, 'condition').n).toBe(3);
    expect(rho(width300, 'condition').rho).toBeCloseTo(0.5, 12);
    expect(rho(width300, 'smallestSingularValue').rho).toBeCloseTo(-0.5, 12);
    expect(strongestMeasures(width300!)).toEqual(['largestNearestCosine']);
    // Three sets are too few to rank the measures: both cosines order them perfectly, and so ties would say nothing.
    expect(strongestMeasures(width1000!)).toEqual([]);
    // Two sets are too few to judge: every measure that differs would give +1 or -1.
    expect(rho(cosine, 'largestNearestCosine')).toEqual({ rho: -1, n: 2 });
    expect(strongestMeasures(cosine!)).toEqual([]);
  });

  it('writes the table and a summary computed from it into the report', () => {
    const markdown = renderMarkdown(buildReportDocument(data));
    const section = markdown.slice(markdown.indexOf('## Which prototype measure predicts macro-F1'));
    expect(section).toContain(
      '| blobs 8 | hpn [hiddenUnits=300] | 8 | 4 | −1.00 | −0.95 | +0.80 | +0.50 (n=3) | −0.50 (n=3) | largest NN cosine |',
    );
    expect(section).toContain('| blobs 8 | hpn [hiddenUnits=1000] | 8 | 3 | −1.00 | −1.00 | +0.50 | – | – | too few sets to rank |');
    expect(section).toContain('| blobs 8 | cosine-softmax | 8 | 2 | – | – | – | – | – | – |');
    expect(section).toContain(
      'Across the 1 group with at least 4 prototype sets, the largest |ρ| belongs to largest NN cosine in 1 (ties count for each). Mean ρ over those groups: largest NN cosine −1.00, mean NN cosine −0.95, effective rank +0.80, condition –, smallest singular value –.',
    );
    expect(section).toContain(
      '1 group has fewer than 4 prototype sets: too few sets to rank the measures (over 3 sets ρ takes only a few values, so measures that order the sets alike tie), so those groups name no measure.',
    );
  });

  it('is left out of a report whose records carry no prototype geometry', () => {
    const old = buildReportData(
      grid,
      records.map((r) => ({ ...r, prototypeGeometry: undefined })),
    );
    expect(renderMarkdown(buildReportDocument(old))).not.toContain('Which prototype measure predicts macro-F1');
  });
});
