import { describe, expect, it } from 'vitest';
import { niceTicks, renderLineChart, textWidth } from './svg-line-chart.js';

describe('niceTicks', () => {
  it('covers the range with round steps', () => {
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(72.5, 94.1)).toEqual([75, 80, 85, 90]);
    expect(niceTicks(0, 0.9)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(3, 3)).toEqual([3]);
  });
});

describe('renderLineChart', () => {
  const svg = renderLineChart({
    title: 'F1 <vs> D',
    xLabel: 'D',
    yLabel: 'F1 (%)',
    xLog: true,
    xTicks: [10, 100, 1000],
    yMax: 100,
    series: [
      {
        label: 'ours',
        color: '#1f77b4',
        points: [
          { x: 10, y: 80, low: 78, high: 82 },
          { x: 100, y: 90 },
          { x: 1000, y: 91 },
        ],
      },
      { label: 'study', color: '#1f77b4', dash: '5 3', hollow: true, points: [{ x: 10, y: 91.2 }] },
    ],
    lines: [{ y: 94, label: 'Bayes-optimal', color: '#000', dash: '1 3' }],
  });

  it('draws axes, one path per multi-point series, error bars, markers, reference lines and a legend', () => {
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('F1 &lt;vs&gt; D');
    for (const tick of ['>10<', '>100<', '>1000<']) expect(svg).toContain(tick);
    expect(svg.match(/<path d="M[\d.]+ [\d.]+ L/g)).toHaveLength(1);
    expect(svg).toMatch(/<path d="M[\d.]+ [\d.]+ V[\d.]+ M/); // error bar
    expect(svg.match(/<circle /g)!.length).toBe(4 + 2); // points + legend markers
    expect(svg).toContain('fill="#fff" stroke="#1f77b4"'); // hollow
    expect(svg).toContain('stroke-dasharray="1 3"');
    expect(svg).toContain('>Bayes-optimal<');
  });

  it('places larger values higher and log-spaced x evenly', () => {
    const xs = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="3.2"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const [a, b, c] = xs as [number, number][];
    expect(b![1]).toBeLessThan(a![1]);
    expect(b![0] - a![0]).toBeCloseTo(c![0] - b![0], 0);
  });
});

describe('renderLineChart: bands, log y, legend and tick layout', () => {
  const textsOf = (svg: string) =>
    [...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)"[^>]*>(?:<title>[^<]*<\/title>)?([^<]*)<\/text>/g)].map((m) => ({
      x: Number(m[1]),
      y: Number(m[2]),
      text: m[3]!,
    }));

  it('draws a shaded band from low to high under a line instead of error bars, and names it in the legend', () => {
    const svg = renderLineChart({
      title: 'curves',
      xLabel: 'epoch',
      yLabel: 'accuracy',
      series: [
        {
          label: 'model',
          color: '#123456',
          band: true,
          markers: false,
          points: [
            { x: 1, y: 50, low: 40, high: 60 },
            { x: 2, y: 55, low: 50, high: 60 },
            { x: 3, y: 58 },
          ],
        },
      ],
      notes: ['band: min-max'],
    });
    expect(svg.match(/<path d="M[^"]*Z" fill="#123456" fill-opacity="0\.16"[^>]*data-band="model"/g)).toHaveLength(1);
    expect(svg).not.toMatch(/ V[\d.]+ M/); // no error bars
    expect(svg).toMatch(/<rect x="[\d.]+" y="[\d.]+" width="22" height="10" fill="#123456" fill-opacity="0\.16"\/>/); // legend swatch
    expect(svg).toContain('>band: min-max</text>');
  });

  it('puts a log y axis on 1-2-5 ticks and places values by their logarithm', () => {
    // One series over epochs 1, 2, ... on a log y axis, and the labels of its y ticks (drawn at x = 46).
    const logChart = (ys: number[]) =>
      renderLineChart({
        title: 'loss',
        xLabel: 'epoch',
        yLabel: 'loss',
        yLog: true,
        series: [{ label: 'a', color: '#000', points: ys.map((y, i) => ({ x: i + 1, y })) }],
      });
    const yTicks = (svg: string) =>
      textsOf(svg)
        .filter((t) => t.x === 46)
        .map((t) => t.text);
    const svg = logChart([1, 0.1, 0.01, 0.001]);
    expect(yTicks(svg)).toEqual(['0.001', '0.01', '0.1', '1']); // over three decades: powers of ten
    const ys = [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)" r="3.2"/g)].map((m) => Number(m[1]));
    expect(ys[1]! - ys[0]!).toBeCloseTo(ys[2]! - ys[1]!, 0);
    expect(yTicks(logChart([0.9, 0.06]))).toEqual(['0.05', '0.1', '0.2', '0.5', '1']); // within two: 1-2-5
  });

  it('keeps tick labels and legend entries apart: thins crowded ticks, and gives long entries fewer columns', () => {
    const svg = renderLineChart({
      title: 'crowded',
      xLabel: 'D',
      yLabel: 'F1',
      xLog: true,
      xTicks: [8, 9, 10, 11, 12, 13, 14, 16, 1000, 1024],
      width: 300,
      series: [
        {
          label: 'a head with a rather long name over optimized prototypes',
          color: '#111',
          points: [
            { x: 8, y: 1 },
            { x: 1024, y: 2 },
          ],
        },
        { label: 'another head', color: '#222', points: [{ x: 8, y: 2 }] },
      ],
    });
    const ticks = textsOf(svg).filter((t) => Math.abs(t.y - (34 + 240 + 15)) < 0.01);
    expect(ticks.length).toBeGreaterThan(1);
    expect(ticks.length).toBeLessThan(10);
    for (let i = 1; i < ticks.length; i++)
      expect(ticks[i]!.x - ticks[i - 1]!.x).toBeGreaterThanOrEqual((textWidth(ticks[i]!.text) + textWidth(ticks[i - 1]!.text)) / 2);
    // One legend column: the long entry alone is wider than half the chart; it is cut to fit, whole in its tooltip.
    const legend = textsOf(svg).filter((t) => t.y > 34 + 240 + 46);
    expect(new Set(legend.map((t) => t.x)).size).toBe(1);
    for (const t of legend) expect(t.x + textWidth(t.text)).toBeLessThanOrEqual(300);
    expect(svg).toContain('<title>a head with a rather long name over optimized prototypes</title>');
  });
});
