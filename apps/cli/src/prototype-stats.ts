import { prototypeGeometryAsync, type Matrix, type PrototypeGeometry } from '@hyperproto/core';
import { cosineBounds, withScanner, type ScanControl } from '@hyperproto/similarity-scan';
import { niceTicks } from '@hyperproto/experiments';

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
  /** The measures every experiment record carries: nearest-neighbour cosines (from this scan) and the singular values. */
  readonly geometry: PrototypeGeometry;
  /** Counts of all C(C-1)/2 pairwise cosines in equal bins over [-1, 1]. */
  readonly histogram?: { readonly lower: number; readonly upper: number; readonly counts: readonly number[] };
}

/**
 * Exact statistics by a blocked scan over all pairs on onnxruntime (never the whole C x C matrix in memory), and the
 * prototype geometry of the records with its nearest-neighbour cosines taken from that scan.
 */
export async function prototypeStats(prototypes: Matrix, options: ScanControl & { bins?: number } = {}): Promise<PrototypeStats> {
  const summary = await withScanner((scanner) => scanner.summarize(prototypes, options));
  let normDeviation = 0;
  let maxNormDeviation = 0;
  for (const norm of summary.norms) {
    normDeviation += Math.abs(norm - 1);
    maxNormDeviation = Math.max(maxNormDeviation, Math.abs(norm - 1));
  }
  const bounds = cosineBounds(summary.classes, summary.dims);
  const geometry = await prototypeGeometryAsync(prototypes, {
    source: options.source,
    signal: options.signal,
    nearest: { largest: summary.largestCosine, mean: summary.meanNearestCosine },
  });
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
    geometry,
    histogram: summary.histogram && { lower: -1, upper: 1, counts: [...summary.histogram.counts] },
  };
}

/** The statistics beside the bounds, for a person. */
export function describeStats(stats: PrototypeStats): string {
  const lines = [
    `  classes ${stats.classes}, dims ${stats.dims}`,
    `  largest cosine             ${fixed(stats.maxCosine)}   simplex bound -1/(C-1) = ${fixed(stats.simplexBound)} (reachable when dims >= ${stats.classes - 1})`,
    `  most similar pair          rows ${stats.maxCosinePair[0]} and ${stats.maxCosinePair[1]} (counted from 0)`,
    `  largest |cosine|           ${fixed(stats.maxAbsCosine)}   Welch bound = ${fixed(stats.welchBound)}`,
    `  mean nearest-neighbour cos ${fixed(stats.meanNearestCosine)}`,
    `  mean |norm - 1|            ${stats.meanNormDeviation.toExponential(2)} (largest ${stats.maxNormDeviation.toExponential(2)})`,
    ...describeSpectrum(stats.geometry),
  ];
  if (stats.histogram) lines.push('  cosines of all pairs:', ...histogramLines(stats.histogram));
  return lines.join('\n');
}

/** The singular-value measures, or why they are missing. */
function describeSpectrum(geometry: PrototypeGeometry): string[] {
  const { largestSingularValue: largest, smallestSingularValue: smallest, effectiveRank, condition } = geometry;
  const count = Math.min(geometry.classes, geometry.dims);
  const lines =
    largest === null || smallest === null || effectiveRank === null
      ? []
      : [
          `  singular values            largest ${significant(largest)}, smallest ${significant(smallest)} (${count} of them)`,
          `  effective rank             ${effectiveRank.toFixed(1)} of ${count} (exp of the entropy of s / sum s)`,
          `  condition                  ${condition === null ? 'infinite' : significant(condition)} (largest / smallest singular value)`,
        ];
  return [...lines, ...geometry.notes.map((note) => `  ${note}`)];
}

function significant(value: number): string {
  return value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e6)
    ? value.toExponential(4)
    : Number(value.toPrecision(6)).toString();
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
  return rows.map(
    ({ from, to, count }) =>
      `    [${from.toFixed(2).padStart(5)}, ${to.toFixed(2).padStart(5)}) ${'#'.repeat(Math.round((40 * count) / most)).padEnd(40)} ${count}`,
  );
}

/** Approximate width of a label at 12px sans-serif: enough to keep tick labels apart. */
const labelWidth = (text: string) => 7 * text.length + 4;
const tickText = (t: number) => (Object.is(t, -0) ? '0' : String(t));

/**
 * A self-contained SVG bar chart of the cosine histogram: a title, x ticks over the occupied range (zoomed in, so a
 * narrow spread stays readable, and thinned so no two labels touch), y ticks with grid lines, and the largest cosine
 * and the bounds as dashed lines named in a legend under the plot (no text over the bars).
 */
export function histogramSvg(stats: Omit<PrototypeStats, 'geometry'>, title: string): string {
  const histogram = stats.histogram!;
  const { counts, lower, upper } = histogram;
  const binWidth = (upper - lower) / counts.length;
  const markers = [
    {
      value: stats.maxCosine,
      colour: '#c03030',
      dash: '6 3',
      text: `largest cosine ${label(stats.maxCosine)} (pair ${stats.maxCosinePair[0]}, ${stats.maxCosinePair[1]})`,
    },
    {
      value: stats.simplexBound,
      colour: '#308030',
      dash: '2 3',
      text: `simplex bound -1/(C-1) = ${label(stats.simplexBound)}: no ${stats.classes.toLocaleString('en-US')} unit vectors do better`,
    },
    ...(stats.welchBound > 0
      ? [
          {
            value: stats.welchBound,
            colour: '#806020',
            dash: '8 3 2 3',
            text: `Welch bound on the largest |cosine| = ${label(stats.welchBound)}`,
          },
        ]
      : []),
  ];

  // x: the occupied bins and the marked values, padded, on round ticks, never beyond [-1, 1].
  const first = counts.findIndex((c) => c > 0);
  const last = counts.length - 1 - [...counts].reverse().findIndex((c) => c > 0);
  const values = [
    ...markers.map((m) => m.value),
    ...(first >= 0 ? [lower + first * binWidth, lower + (last + 1) * binWidth] : [lower, upper]),
  ];
  const span = Math.max(...values) - Math.min(...values);
  const pad = Math.max(span * 0.08, 2 * binWidth, 0.02);
  const [width, left, right, top, plotHeight] = [720, 72, 24, 52, 260];
  const plotWidth = width - left - right;
  const from = Math.max(lower, Math.min(...values) - pad);
  const to = Math.min(upper, Math.max(...values) + pad);
  let xTicks = niceTicks(from, to, 8);
  // Widened to the round numbers around the range, so both ends carry a tick.
  const step = xTicks.length > 1 ? xTicks[1]! - xTicks[0]! : 0.1;
  const xMin = Math.max(lower, Number((Math.floor(from / step + 1e-9) * step).toFixed(6)));
  const xMax = Math.min(upper, Number((Math.ceil(to / step - 1e-9) * step).toFixed(6)));
  xTicks = niceTicks(xMin, xMax, 8).filter((t) => t >= xMin - 1e-9 && t <= xMax + 1e-9);
  const x = (cosine: number) => left + ((cosine - xMin) / (xMax - xMin)) * plotWidth;
  for (let k = 1; k < xTicks.length; k++) {
    const kept = xTicks.filter((_, i) => i % k === 0);
    if (kept.every((t, i) => i === 0 || x(t) - x(kept[i - 1]!) >= (labelWidth(tickText(t)) + labelWidth(tickText(kept[i - 1]!))) / 2 + 8)) {
      xTicks = kept;
      break;
    }
  }

  const most = Math.max(1, ...counts);
  const firstYTicks = niceTicks(0, most, 5);
  const yStep = firstYTicks.length > 1 ? firstYTicks[1]! - firstYTicks[0]! : 1;
  const yMax = Math.max(1, Math.ceil(most / yStep - 1e-9) * yStep);
  const yTicks = niceTicks(0, yMax, 5);
  const y = (count: number) => top + plotHeight - (count / yMax) * plotHeight;
  const barWidth = (binWidth / (xMax - xMin)) * plotWidth;
  const bars = counts
    .map((count, b) => {
      const from = lower + b * binWidth;
      if (count === 0 || from + binWidth < xMin || from > xMax) return '';
      const h = Math.max(1, (count / yMax) * plotHeight);
      return `<rect x="${x(from).toFixed(2)}" y="${(top + plotHeight - h).toFixed(2)}" width="${Math.max(0.5, barWidth - (barWidth > 3 ? 0.5 : 0)).toFixed(2)}" height="${h.toFixed(2)}" fill="#4878a8"><title>[${from.toFixed(3)}, ${(from + binWidth).toFixed(3)}): ${count} pairs</title></rect>`;
    })
    .join('');
  const xAxis = xTicks
    .map(
      (t) =>
        `<line x1="${x(t).toFixed(2)}" y1="${top + plotHeight}" x2="${x(t).toFixed(2)}" y2="${top + plotHeight + 5}" stroke="#333"/><text x="${x(t).toFixed(2)}" y="${top + plotHeight + 20}" text-anchor="middle">${tickText(t)}</text>`,
    )
    .join('');
  const yAxis = yTicks
    .map(
      (t) =>
        `<line x1="${left}" y1="${y(t).toFixed(2)}" x2="${left + plotWidth}" y2="${y(t).toFixed(2)}" stroke="#e5e5e5"/><line x1="${left - 5}" y1="${y(t).toFixed(2)}" x2="${left}" y2="${y(t).toFixed(2)}" stroke="#333"/><text x="${left - 8}" y="${(y(t) + 4).toFixed(2)}" text-anchor="end">${t.toLocaleString('en-US')}</text>`,
    )
    .join('');
  // The bounds under the largest cosine, wider, so a line that coincides with another still shows.
  const lines = [...markers]
    .reverse()
    .map(
      (m, i, all) =>
        `<line x1="${x(m.value).toFixed(2)}" y1="${top}" x2="${x(m.value).toFixed(2)}" y2="${top + plotHeight}" stroke="${m.colour}" stroke-width="${i === all.length - 1 ? 1.5 : 2.5}" stroke-dasharray="${m.dash}"><title>${escapeXml(m.text)}</title></line>`,
    )
    .join('');
  const legendTop = top + plotHeight + 62;
  const legend = markers
    .map((m, i) => {
      const ly = legendTop + 18 * i;
      return `<line x1="${left}" y1="${ly}" x2="${left + 26}" y2="${ly}" stroke="${m.colour}" stroke-width="${i === 0 ? 1.5 : 2.5}" stroke-dasharray="${m.dash}"/><text x="${left + 34}" y="${ly + 4}">${escapeXml(m.text)}</text>`;
    })
    .join('');
  const height = legendTop + 18 * markers.length + 4;
  const pairs = (stats.classes * (stats.classes - 1)) / 2;
  const subtitle = `C = ${stats.classes.toLocaleString('en-US')} prototypes in D = ${stats.dims.toLocaleString('en-US')}: cosines of all ${pairs.toLocaleString('en-US')} pairs, bins of ${Number(binWidth.toPrecision(3))}${xMin > lower || xMax < upper ? `, shown over [${tickText(xMin)}, ${tickText(xMax)}] of [-1, 1]` : ''}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${escapeXml(`${title}: pairwise cosines`)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(`${title}: pairwise cosine similarities`)}</text>`,
    `<text x="${width / 2}" y="38" text-anchor="middle" font-size="11.5" fill="#444">${escapeXml(subtitle)}</text>`,
    yAxis,
    bars,
    lines,
    `<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`,
    xAxis,
    `<text x="${left + plotWidth / 2}" y="${top + plotHeight + 40}" text-anchor="middle">cosine similarity</text>`,
    `<text transform="translate(18 ${top + plotHeight / 2}) rotate(-90)" text-anchor="middle">pairs per bin</text>`,
    legend,
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
