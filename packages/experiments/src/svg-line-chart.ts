/** A point with an optional error bar (low..high). */
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
  readonly xLog?: boolean;
  /** Only whole numbers on x (e.g. epochs). */
  readonly xInteger?: boolean;
  /** Tick positions on x; computed when absent. */
  readonly xTicks?: readonly number[];
  readonly yMin?: number;
  readonly yMax?: number;
  readonly width?: number;
  readonly height?: number;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (n: number) => (Math.abs(n) >= 1000 || Number.isInteger(n) ? n.toFixed(0) : n.toPrecision(3).replace(/\.?0+$/, ''));
const r1 = (n: number) => Math.round(n * 10) / 10;

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

/**
 * A self-contained SVG line chart: axes with ticks, optional log x axis, error bars, reference lines and a legend
 * below the plot. No styles outside the SVG, so it renders the same inline in HTML and as a file.
 */
export function renderLineChart(options: LineChartOptions): string {
  const width = options.width ?? 460;
  const legendItems = [...options.series.map((s) => ({ label: s.label, color: s.color, dash: s.dash, hollow: s.hollow, marker: s.markers !== false })), ...(options.lines ?? []).map((l) => ({ label: l.label, color: l.color, dash: l.dash, hollow: false, marker: false }))];
  const legendColumns = 2;
  const legendRows = Math.ceil(legendItems.length / legendColumns);
  const plotHeight = options.height ?? 240;
  const margin = { top: 34, right: 16, bottom: 46, left: 52 };
  const height = margin.top + plotHeight + margin.bottom + legendRows * 16 + 6;
  const plotWidth = width - margin.left - margin.right;

  const all = options.series.flatMap((s) => s.points);
  const xs = all.map((p) => p.x).concat(options.xTicks ?? []);
  const ys = all.flatMap((p) => [p.y, p.low ?? p.y, p.high ?? p.y]).concat((options.lines ?? []).map((l) => l.y));
  const tx = (x: number) => (options.xLog ? Math.log10(x) : x);
  let xMin = xs.length ? Math.min(...xs.map(tx)) : 0;
  let xMax = xs.length ? Math.max(...xs.map(tx)) : 1;
  if (xMin === xMax) [xMin, xMax] = [xMin - 1, xMax + 1];
  const xPad = options.xLog ? 0.15 : 0;
  xMin -= xPad;
  xMax += xPad;
  let yMin = options.yMin ?? (ys.length ? Math.min(...ys) : 0);
  let yMax = options.yMax ?? (ys.length ? Math.max(...ys) : 1);
  if (yMin === yMax) [yMin, yMax] = [yMin - 1, yMax + 1];
  // Widen an automatic range to the round numbers around it, so nothing sits on the frame.
  const firstTicks = niceTicks(yMin, yMax);
  const yStep = firstTicks.length > 1 ? firstTicks[1]! - firstTicks[0]! : 1;
  if (options.yMin === undefined) yMin = Math.floor(yMin / yStep - 1e-9) * yStep;
  if (options.yMax === undefined) yMax = Math.ceil(yMax / yStep + 1e-9) * yStep;
  const yTicks = niceTicks(yMin, yMax);

  const px = (x: number) => r1(margin.left + ((tx(x) - xMin) / (xMax - xMin)) * plotWidth);
  const py = (y: number) => r1(margin.top + (1 - (Math.min(Math.max(y, yMin), yMax) - yMin) / (yMax - yMin)) * plotHeight);
  const distinctXs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  const logTicks = powersOfTen(xMin, xMax);
  const xTicks = options.xTicks ?? (options.xLog ? (logTicks.length ? logTicks : distinctXs) : niceTicks(xMin, xMax, 6).filter((t) => !options.xInteger || Number.isInteger(t)));

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  out.push(`<title>${escapeXml(options.title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(options.title)}</text>`);
  // grid and ticks
  for (const t of yTicks) {
    if (t < yMin || t > yMax) continue;
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${margin.left - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${margin.top}" y2="${margin.top + plotHeight}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${px(t)}" y="${margin.top + plotHeight + 15}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${margin.left + plotWidth / 2}" y="${margin.top + plotHeight + 33}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);

  for (const line of options.lines ?? []) {
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotWidth}" y1="${py(line.y)}" y2="${py(line.y)}" stroke="${line.color}" stroke-width="1.5"${line.dash ? ` stroke-dasharray="${line.dash}"` : ''}><title>${escapeXml(`${line.label}: ${fmt(line.y)}`)}</title></line>`);
  }
  for (const s of options.series) {
    const points = [...s.points].sort((a, b) => a.x - b.x);
    if (points.length > 1) {
      const path = points.map((p, i) => `${i ? 'L' : 'M'}${px(p.x)} ${py(p.y)}`).join(' ');
      out.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    }
    for (const p of points) {
      if (p.low !== undefined && p.high !== undefined && p.high > p.low) {
        out.push(`<path d="M${px(p.x)} ${py(p.low)} V${py(p.high)} M${px(p.x) - 3} ${py(p.low)} h6 M${px(p.x) - 3} ${py(p.high)} h6" stroke="${s.color}" stroke-width="1.2"/>`);
      }
      if (s.markers !== false) {
        out.push(`<circle cx="${px(p.x)}" cy="${py(p.y)}" r="3.2" fill="${s.hollow ? '#fff' : s.color}" stroke="${s.color}" stroke-width="1.5"><title>${escapeXml(`${s.label}: x=${fmt(p.x)}, y=${p.y.toFixed(1)}`)}</title></circle>`);
      }
    }
    for (const p of s.highlight ?? []) {
      out.push(`<circle cx="${px(p.x)}" cy="${py(p.y)}" r="4" fill="${s.color}" stroke="#fff" stroke-width="1"><title>${escapeXml(`${s.label}: x=${fmt(p.x)}, y=${p.y.toFixed(1)}`)}</title></circle>`);
    }
  }

  const legendTop = margin.top + plotHeight + 46;
  const columnWidth = (width - margin.left) / legendColumns;
  legendItems.forEach((item, i) => {
    const x = margin.left + (i % legendColumns) * columnWidth;
    const y = legendTop + Math.floor(i / legendColumns) * 16;
    out.push(`<line x1="${x}" x2="${x + 22}" y1="${y}" y2="${y}" stroke="${item.color}" stroke-width="2"${item.dash ? ` stroke-dasharray="${item.dash}"` : ''}/>`);
    if (item.marker) out.push(`<circle cx="${x + 11}" cy="${y}" r="3" fill="${item.hollow ? '#fff' : item.color}" stroke="${item.color}" stroke-width="1.5"/>`);
    out.push(`<text x="${x + 28}" y="${y + 4}">${escapeXml(item.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

function powersOfTen(logMin: number, logMax: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.ceil(logMin); e <= Math.floor(logMax); e++) ticks.push(10 ** e);
  return ticks;
}
