/** A point with an optional spread (low..high): an error bar, or a band along a series drawn with `band`. */
export interface ChartPoint {
  readonly x: number;
  readonly y: number;
  readonly low?: number;
  readonly high?: number;
}

export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly points: readonly ChartPoint[];
  /** SVG stroke-dasharray, e.g. "5 3"; solid when absent. */
  readonly dash?: string;
  /** Open markers (e.g. for published numbers). */
  readonly hollow?: boolean;
  /** Markers at each point; off for long curves. */
  readonly markers?: boolean;
  /** Points to mark with a larger dot (e.g. the best epoch). */
  readonly highlight?: readonly ChartPoint[];
  /** Draw low..high as a shaded band along the line instead of error bars (a single point keeps its error bar). */
  readonly band?: boolean;
}

export interface ChartLine {
  readonly y: number;
  readonly label: string;
  readonly color: string;
  readonly dash?: string;
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  /** Horizontal reference lines (e.g. softmax, Bayes-optimal). */
  readonly lines?: readonly ChartLine[];
  /** Legend entries with no mark, e.g. "optimal rule: n/a". */
  readonly notes?: readonly string[];
  readonly xLog?: boolean;
  /** Logarithmic y axis (all values must be positive; falls back to linear otherwise). */
  readonly yLog?: boolean;
  /** Only whole numbers on x (e.g. epochs). */
  readonly xInteger?: boolean;
  /** Tick positions on x; computed when absent. */
  readonly xTicks?: readonly number[];
  readonly yMin?: number;
  readonly yMax?: number;
  readonly width?: number;
  readonly height?: number;
  /** Most legend columns (default 2); fewer when the entries are too wide for them. */
  readonly legendColumns?: number;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (n: number) => (Math.abs(n) >= 1000 || Number.isInteger(n) ? n.toFixed(0) : n.toPrecision(3).replace(/\.?0+$/, ''));
const r1 = (n: number) => Math.round(n * 10) / 10;

/**
 * Width of a text in pixels at `size`, estimated from per-character widths of Helvetica/Arial (the fonts the SVG
 * asks for), rounded up a little: what the layout uses to keep labels apart.
 */
export function textWidth(text: string, size = 11, bold = false): number {
  let em = 0;
  for (const c of text) {
    if ("il.,:;|!'`".includes(c)) em += 0.28;
    else if ('fjtrI()[] -/'.includes(c)) em += 0.36;
    else if ('mwMW@%'.includes(c)) em += 0.86;
    else if (c >= 'A' && c <= 'Z') em += 0.68;
    else em += 0.57;
  }
  return em * size * (bold ? 1.08 : 1) + 2;
}

/** Round tick positions covering [min, max], about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  // Rounded to the step's own decimals, so 3 x 0.2 prints as 0.6.
  const decimals = Math.max(0, 1 - Math.floor(Math.log10(step)));
  const ticks: number[] = [];
  for (let i = Math.ceil(min / step - 1e-9); i * step <= max + step * 1e-9; i++) ticks.push(Number((i * step).toFixed(decimals)));
  return ticks;
}

/** Ticks of a log axis over [10^logMin, 10^logMax]: 1-2-5 steps over up to two decades, powers of ten beyond. */
function logTicks(logMin: number, logMax: number): number[] {
  const multiples = logMax - logMin <= 2.2 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = Math.floor(logMin); e <= Math.ceil(logMax); e++) {
    for (const m of multiples) {
      const t = Number((m * 10 ** e).toPrecision(6));
      if (Math.log10(t) >= logMin - 1e-9 && Math.log10(t) <= logMax + 1e-9) ticks.push(t);
    }
  }
  return ticks;
}

/** Every k-th tick, the smallest k for which neighbouring labels keep `gap` pixels apart. */
function thinTicks(ticks: readonly number[], position: (t: number) => number, gap = 8): number[] {
  for (let k = 1; k <= ticks.length; k++) {
    const kept = ticks.filter((_, i) => i % k === 0);
    const clear = kept.every(
      (t, i) => i === 0 || Math.abs(position(t) - position(kept[i - 1]!)) >= (textWidth(fmt(t)) + textWidth(fmt(kept[i - 1]!))) / 2 + gap,
    );
    if (clear) return kept;
  }
  return ticks.slice(0, 1);
}

/** Cuts a label to `max` pixels with an ellipsis (the full text stays in a tooltip). */
function fit(text: string, max: number): string {
  if (textWidth(text) <= max) return text;
  let cut = text;
  while (cut.length > 1 && textWidth(`${cut}…`) > max) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * A self-contained SVG line chart: axes with ticks, optional log axes, error bars or shaded bands, reference lines
 * and a legend below the plot whose columns are as wide as its longest entry. No styles outside the SVG, so it
 * renders the same inline in HTML and as a file.
 */
export function renderLineChart(options: LineChartOptions): string {
  const width = options.width ?? 460;
  const lines = options.lines ?? [];
  const legendItems = [
    ...options.series.map((s) => ({
      label: s.label,
      color: s.color,
      dash: s.dash,
      hollow: s.hollow,
      marker: s.markers !== false,
      band: s.band === true && s.points.some((p) => p.low !== undefined),
    })),
    ...lines.map((l) => ({ label: l.label, color: l.color, dash: l.dash, hollow: false, marker: false, band: false })),
  ];
  const notes = options.notes ?? [];
  const margin = { top: 34, right: 16, bottom: 46, left: 52 };
  const legendLeft = 10;
  const legendWidth = width - legendLeft - 8;
  const swatch = 28;
  const widest = Math.max(0, ...legendItems.map((item) => textWidth(item.label) + swatch + 14));
  const legendColumns = Math.max(1, Math.min(options.legendColumns ?? 2, Math.floor(legendWidth / Math.max(widest, 1))));
  const columnWidth = legendWidth / legendColumns;
  const legendRows = Math.ceil(legendItems.length / legendColumns);
  const plotHeight = options.height ?? 240;
  // Notes take a whole row each, under the entries.
  const height = margin.top + plotHeight + margin.bottom + (legendRows + notes.length) * 16 + 6;
  const plotWidth = width - margin.left - margin.right;

  const all = options.series.flatMap((s) => s.points);
  const xs = all.map((p) => p.x).concat(options.xTicks ?? []);
  const ys = all.flatMap((p) => [p.y, p.low ?? p.y, p.high ?? p.y]).concat(lines.map((l) => l.y));
  const yLog = options.yLog === true && ys.length > 0 && ys.every((y) => y > 0) && (options.yMin ?? 1) > 0;
  const tx = (x: number) => (options.xLog ? Math.log10(x) : x);
  const ty = (y: number) => (yLog ? Math.log10(y) : y);
  let xMin = xs.length ? Math.min(...xs.map(tx)) : 0;
  let xMax = xs.length ? Math.max(...xs.map(tx)) : 1;
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  const xPad = options.xLog ? 0.15 : 0;
  xMin -= xPad;
  xMax += xPad;

  // y in axis units (log10 of the value on a log axis).
  let yMin = options.yMin !== undefined ? ty(options.yMin) : ys.length ? Math.min(...ys.map(ty)) : 0;
  let yMax = options.yMax !== undefined ? ty(options.yMax) : ys.length ? Math.max(...ys.map(ty)) : 1;
  if (yMin === yMax) [yMin, yMax] = [yMin - (yLog ? 0.5 : 1), yMax + (yLog ? 0.5 : 1)];
  let yTicks: number[];
  if (yLog) {
    // Widen to the 1-2-5 values around the data.
    const below = logTicks(Math.floor(yMin), yMin).pop();
    const above = logTicks(yMax, Math.ceil(yMax))[0];
    if (options.yMin === undefined && below !== undefined) yMin = Math.log10(below);
    if (options.yMax === undefined && above !== undefined) yMax = Math.log10(above);
    yTicks = logTicks(yMin, yMax);
  } else {
    // Widen an automatic range to the round numbers around it, so nothing sits on the frame.
    const firstTicks = niceTicks(yMin, yMax);
    const yStep = firstTicks.length > 1 ? firstTicks[1]! - firstTicks[0]! : 1;
    if (options.yMin === undefined) yMin = Math.floor(yMin / yStep - 1e-9) * yStep;
    if (options.yMax === undefined) yMax = Math.ceil(yMax / yStep + 1e-9) * yStep;
    yTicks = niceTicks(yMin, yMax);
  }

  const px = (x: number) => r1(margin.left + ((tx(x) - xMin) / (xMax - xMin)) * plotWidth);
  const py = (y: number) => r1(margin.top + (1 - (Math.min(Math.max(ty(y), yMin), yMax) - yMin) / (yMax - yMin)) * plotHeight);
  const distinctXs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  const powers = powersOfTen(xMin, xMax);
  const xCandidates =
    options.xTicks ??
    (options.xLog
      ? powers.length >= 2
        ? powers
        : distinctXs
      : niceTicks(xMin, xMax, 6).filter((t) => !options.xInteger || Number.isInteger(t)));
  const xTicks = thinTicks(
    [...xCandidates].sort((a, b) => a - b),
    px,
  );
  // y labels are stacked: they only need the font's height between them.
  const yShown = yTicks.filter((t, i) => i === 0 || Math.abs(py(t) - py(yTicks[i - 1]!)) >= 12 || yTicks.length <= 2);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
  );
  out.push(`<title>${escapeXml(options.title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  const titleSize = Math.max(9, Math.min(13, Math.floor((13 * (width - 12)) / textWidth(options.title, 13, true))));
  out.push(
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="${titleSize}" font-weight="bold">${escapeXml(options.title)}</text>`,
  );
  // grid and ticks
  for (const t of yShown) {
    if (ty(t) < yMin - 1e-9 || ty(t) > yMax + 1e-9) continue;
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${margin.left - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${margin.top}" y2="${margin.top + plotHeight}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${px(t)}" y="${margin.top + plotHeight + 15}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`);
  out.push(
    `<text x="${margin.left + plotWidth / 2}" y="${margin.top + plotHeight + 33}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
  );
  out.push(
    `<text transform="translate(14 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );

  // Bands first, so that every line stays visible on top of them.
  for (const s of options.series) {
    const points = [...s.points].sort((a, b) => a.x - b.x);
    if (!s.band) continue;
    // One band per stretch of consecutive points that have a spread.
    let run: ChartPoint[] = [];
    const flush = () => {
      if (run.length > 1) {
        const upper = run.map((p, i) => `${i ? 'L' : 'M'}${px(p.x)} ${py(p.high!)}`).join(' ');
        const lower = [...run]
          .reverse()
          .map((p) => `L${px(p.x)} ${py(p.low!)}`)
          .join(' ');
        out.push(`<path d="${upper} ${lower} Z" fill="${s.color}" fill-opacity="0.16" stroke="none" data-band="${escapeXml(s.label)}"/>`);
      }
      run = [];
    };
    for (const p of points) {
      if (p.low !== undefined && p.high !== undefined) run.push(p);
      else flush();
    }
    flush();
  }
  for (const line of lines) {
    out.push(
      `<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${py(line.y)}" y2="${py(line.y)}" stroke="${line.color}" stroke-width="1.5"${line.dash ? ` stroke-dasharray="${line.dash}"` : ''}><title>${escapeXml(`${line.label}: ${fmt(line.y)}`)}</title></line>`,
    );
  }
  for (const s of options.series) {
    const points = [...s.points].sort((a, b) => a.x - b.x);
    if (points.length > 1) {
      const path = points.map((p, i) => `${i ? 'L' : 'M'}${px(p.x)} ${py(p.y)}`).join(' ');
      out.push(
        `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}><title>${escapeXml(s.label)}</title></path>`,
      );
    }
    const banded = s.band === true && points.filter((p) => p.low !== undefined).length > 1;
    for (const p of points) {
      if (!banded && p.low !== undefined && p.high !== undefined && p.high > p.low) {
        out.push(
          `<path d="M${px(p.x)} ${py(p.low)} V${py(p.high)} M${px(p.x) - 3} ${py(p.low)} h6 M${px(p.x) - 3} ${py(p.high)} h6" stroke="${s.color}" stroke-width="1.2"/>`,
        );
      }
      if (s.markers !== false || points.length === 1) {
        out.push(
          `<circle cx="${px(p.x)}" cy="${py(p.y)}" r="3.2" fill="${s.hollow ? '#fff' : s.color}" stroke="${s.color}" stroke-width="1.5"><title>${escapeXml(`${s.label}: x=${fmt(p.x)}, y=${fmt(p.y)}`)}</title></circle>`,
        );
      }
    }
    for (const p of s.highlight ?? []) {
      out.push(
        `<circle cx="${px(p.x)}" cy="${py(p.y)}" r="4" fill="${s.color}" stroke="#fff" stroke-width="1"><title>${escapeXml(`${s.label}: x=${fmt(p.x)}, y=${fmt(p.y)}`)}</title></circle>`,
      );
    }
  }

  const legendTop = margin.top + plotHeight + 46;
  // Filled column by column, so entries listed together (a family, ours and the study's) stay together.
  legendItems.forEach((item, i) => {
    const x = legendLeft + Math.floor(i / legendRows) * columnWidth;
    const y = legendTop + (i % legendRows) * 16;
    if (item.band) out.push(`<rect x="${x}" y="${y - 5}" width="22" height="10" fill="${item.color}" fill-opacity="0.16"/>`);
    out.push(
      `<line x1="${x}" x2="${x + 22}" y1="${y}" y2="${y}" stroke="${item.color}" stroke-width="2"${item.dash ? ` stroke-dasharray="${item.dash}"` : ''}/>`,
    );
    if (item.marker)
      out.push(
        `<circle cx="${x + 11}" cy="${y}" r="3" fill="${item.hollow ? '#fff' : item.color}" stroke="${item.color}" stroke-width="1.5"/>`,
      );
    const shown = fit(item.label, columnWidth - swatch - 6);
    out.push(
      `<text x="${x + swatch}" y="${y + 4}">${shown !== item.label ? `<title>${escapeXml(item.label)}</title>` : ''}${escapeXml(shown)}</text>`,
    );
  });
  notes.forEach((note, i) => {
    const y = legendTop + (legendRows + i) * 16;
    const shown = fit(note, legendWidth);
    out.push(
      `<text x="${legendLeft}" y="${y + 4}" fill="#444">${shown !== note ? `<title>${escapeXml(note)}</title>` : ''}${escapeXml(shown)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

function powersOfTen(logMin: number, logMax: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.ceil(logMin); e <= Math.floor(logMax); e++) ticks.push(10 ** e);
  return ticks;
}
