import type { Matrix } from '@hyperproto/core';
import { cosineBounds, withScanner, type ScanControl } from '@hyperproto/similarity-scan';

export interface PrototypeStats {
  readonly classes: number;
  readonly dims: number;
  /** Largest cosine over all pairs, from the exact blocked scan (the winning pair recomputed in double precision). */
  readonly maxCosine: number;
  readonly maxCosinePair: readonly [number, number];
  /** Largest |cosine| over all pairs: what the Welch bound limits. */
  readonly maxAbsCosine: number;
  /** Mean over prototypes of the cosine to its nearest neighbour. */
  readonly meanNearestCosine: number;
  /** Mean and largest | ||p|| - 1 | over rows. */
  readonly meanNormDeviation: number;
  readonly maxNormDeviation: number;
  /** -1/(C-1): no C unit vectors do better; reachable when D >= C - 1. */
  readonly simplexBound: number;
  /** Welch bound on the largest |cosine|: sqrt((C-D)/(D(C-1))) for C > D, else 0. */
  readonly welchBound: number;
  /** Counts of all C(C-1)/2 pairwise cosines in equal bins over [-1, 1]. */
  readonly histogram?: { readonly lower: number; readonly upper: number; readonly counts: readonly number[] };
}

/** Exact statistics by a blocked scan over all pairs on onnxruntime (never the whole C x C matrix in memory). */
export async function prototypeStats(prototypes: Matrix, options: ScanControl & { bins?: number } = {}): Promise<PrototypeStats> {
  const summary = await withScanner((scanner) => scanner.summarize(prototypes, options));
  let normDeviation = 0;
  let maxNormDeviation = 0;
  for (const norm of summary.norms) {
    normDeviation += Math.abs(norm - 1);
    maxNormDeviation = Math.max(maxNormDeviation, Math.abs(norm - 1));
  }
  const bounds = cosineBounds(summary.classes, summary.dims);
  return {
    classes: summary.classes,
    dims: summary.dims,
    maxCosine: summary.largestCosine,
    maxCosinePair: summary.largestPair,
    maxAbsCosine: summary.largestAbsCosine,
    meanNearestCosine: summary.meanNearestCosine,
    meanNormDeviation: normDeviation / summary.classes,
    maxNormDeviation,
    simplexBound: bounds.simplex,
    welchBound: bounds.welch,
    histogram: summary.histogram && { lower: -1, upper: 1, counts: [...summary.histogram.counts] },
  };
}

/** The statistics beside the bounds, for a person. */
export function describeStats(stats: PrototypeStats): string {
  const lines = [
    `  classes ${stats.classes}, dims ${stats.dims}`,
    `  largest cosine             ${fixed(stats.maxCosine)}   simplex bound -1/(C-1) = ${fixed(stats.simplexBound)} (reachable when dims >= ${stats.classes - 1})`,
    `  largest |cosine|           ${fixed(stats.maxAbsCosine)}   Welch bound = ${fixed(stats.welchBound)}`,
    `  mean nearest-neighbour cos ${fixed(stats.meanNearestCosine)}`,
    `  mean |norm - 1|            ${stats.meanNormDeviation.toExponential(2)} (largest ${stats.maxNormDeviation.toExponential(2)})`,
  ];
  if (stats.histogram) lines.push('  cosines of all pairs:', ...histogramLines(stats.histogram));
  return lines.join('\n');
}

function fixed(value: number): string {
  return (value < 0 ? '' : ' ') + value.toFixed(6);
}

/** Text bars over the occupied range of bins, merged to at most 20 rows. */
function histogramLines({ lower, upper, counts }: NonNullable<PrototypeStats['histogram']>): string[] {
  const first = counts.findIndex((c) => c > 0);
  const last = counts.length - 1 - [...counts].reverse().findIndex((c) => c > 0);
  if (first < 0) return [];
  const width = (upper - lower) / counts.length;
  const merge = Math.ceil((last - first + 1) / 20);
  const rows: { from: number; to: number; count: number }[] = [];
  for (let b = first; b <= last; b += merge) {
    const end = Math.min(last + 1, b + merge);
    rows.push({ from: lower + b * width, to: lower + end * width, count: counts.slice(b, end).reduce((x, y) => x + y, 0) });
  }
  const most = Math.max(...rows.map((r) => r.count));
  return rows.map(({ from, to, count }) => `    [${from.toFixed(2).padStart(5)}, ${to.toFixed(2).padStart(5)}) ${'#'.repeat(Math.round((40 * count) / most)).padEnd(40)} ${count}`);
}

/** A self-contained SVG bar chart of the cosine histogram, with the bounds marked. */
export function histogramSvg(stats: PrototypeStats, title: string): string {
  const histogram = stats.histogram!;
  const { counts, lower, upper } = histogram;
  const [width, height, left, right, top, bottom] = [720, 360, 70, 20, 40, 50];
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const most = Math.max(1, ...counts);
  const x = (cosine: number) => left + ((cosine - lower) / (upper - lower)) * plotWidth;
  const barWidth = plotWidth / counts.length;
  const bars = counts
    .map((count, b) => {
      if (count === 0) return '';
      const h = Math.max(1, (count / most) * plotHeight);
      return `<rect x="${(left + b * barWidth).toFixed(2)}" y="${(top + plotHeight - h).toFixed(2)}" width="${Math.max(0.5, barWidth - 0.5).toFixed(2)}" height="${h.toFixed(2)}" fill="#4878a8"/>`;
    })
    .join('');
  const ticks = [-1, -0.5, 0, 0.5, 1]
    .map((t) => `<line x1="${x(t)}" y1="${top + plotHeight}" x2="${x(t)}" y2="${top + plotHeight + 5}" stroke="#333"/><text x="${x(t)}" y="${top + plotHeight + 20}" text-anchor="middle">${t}</text>`)
    .join('');
  const marker = (value: number, colour: string, label: string, row: number) =>
    `<line x1="${x(value).toFixed(2)}" y1="${top}" x2="${x(value).toFixed(2)}" y2="${top + plotHeight}" stroke="${colour}" stroke-dasharray="4 3"/>` +
    `<text x="${(x(value) + 4).toFixed(2)}" y="${top + 14 + 14 * row}" fill="${colour}">${escapeXml(label)}</text>`;
  const markers = [
    marker(stats.maxCosine, '#c03030', `largest ${label(stats.maxCosine)}`, 0),
    marker(stats.simplexBound, '#308030', `simplex bound ${label(stats.simplexBound)}`, 1),
    stats.welchBound > 0 ? marker(stats.welchBound, '#806020', `Welch bound ${label(stats.welchBound)}`, 2) : '',
  ].join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}: cosines of all ${stats.classes} x ${stats.classes - 1} / 2 pairs (D = ${stats.dims})</text>`,
    `<line x1="${left}" y1="${top + plotHeight}" x2="${left + plotWidth}" y2="${top + plotHeight}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotHeight}" stroke="#333"/>`,
    `<text x="${left - 8}" y="${top + 4}" text-anchor="end">${most}</text><text x="${left - 8}" y="${top + plotHeight}" text-anchor="end">0</text>`,
    `<text x="${left + plotWidth / 2}" y="${height - 8}" text-anchor="middle">cosine similarity</text>`,
    bars,
    ticks,
    markers,
    '</svg>',
    '',
  ].join('\n');
}

/** Four decimals, or three significant digits for values too small for that (e.g. -1/(C-1) at large C). */
function label(value: number): string {
  return value !== 0 && Math.abs(value) < 1e-3 ? value.toExponential(2) : value.toFixed(4);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
