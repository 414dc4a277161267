import { describe, expect, it } from 'vitest';
import { niceTicks, renderLineChart } from './svg-line-chart.js';

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
      { label: 'ours', color: '#1f77b4', points: [{ x: 10, y: 80, low: 78, high: 82 }, { x: 100, y: 90 }, { x: 1000, y: 91 }] },
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
