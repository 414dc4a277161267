import { describe, expect, it } from 'vitest';
import { parseGrid } from './grid-schema.js';
import { buildReportData } from './report-data.js';
import { buildReportDocument } from './report-document.js';
import { renderMarkdown } from './report-markdown.js';
import { softmaxRecord } from './test-support/fake-record.js';

const softmax = { id: 'softmax', head: 'softmax' };
const axes = { id: 'axes-4', head: 'hpn', prototypes: { strategy: 'axes', dims: 4 } };

/** A softmax record on `dataset` whose reference rule scored `reference` and, when given, was named `name`. */
const record = (dataset: string, seed: number, classes: number, name?: string) =>
  softmaxRecord(seed, {
    key: `${dataset}/softmax/s${seed}`,
    dataset,
    classes,
    metrics: { accuracy: 0.5, macroF1: 0.5, bayes: { accuracy: 0.9, macroF1: 0.9 }, ...(name ? { reference: name } : {}) },
  });

describe('report rows and reference labels', () => {
  it('names a dataset by its class count only where no other dataset has the same count', () => {
    const grid = parseGrid({
      name: 'three',
      seeds: 1,
      datasets: [
        { id: 'blobs-a', name: 'blobs', options: { classes: 4 } },
        { id: 'blobs-b', name: 'blobs', options: { classes: 4, spread: 2 } },
        { id: 'wide', name: 'blobs', options: { classes: 8 } },
      ],
      models: [softmax],
    });
    const data = buildReportData(grid, [record('blobs-a', 0, 4), record('blobs-b', 0, 4), record('wide', 0, 8)]);
    expect(data.datasets.map((d) => d.label)).toEqual(['blobs-a', 'blobs-b', '8']);
    // Rows that are not all class counts are headed "dataset".
    expect(renderMarkdown(buildReportDocument(data))).toMatch(/\| dataset \| {2}\| Bayes-optimal \| class-mean \| softmax \|/);
  });

  it("labels the reference column with the datasets' own name for their optimal rule", () => {
    const grid = parseGrid({
      name: 'oracle',
      seeds: 1,
      datasets: [{ id: 'c4', name: 'blobs', options: { classes: 4 } }],
      models: [softmax, axes],
    });
    const hpn = {
      ...record('c4', 0, 4, 'oracle'),
      key: 'c4/axes-4/s0',
      model: 'axes-4',
      head: 'hpn',
      prototypes: { strategy: 'axes', dims: 4 },
    };
    const document = buildReportDocument(buildReportData(grid, [record('c4', 0, 4, 'oracle'), hpn]));
    const md = renderMarkdown(document);
    expect(md).toMatch(/\| classes \| {2}\| oracle \| class-mean \| softmax \| axes-4 \|/);
    expect(md).toContain("oracle: the dataset's optimal rule as the dataset names it, the best any model");
    expect(document.plots.flatMap((p) => (p.chart.lines ?? []).map((l) => l.label))).toContain('oracle 90.0');
  });

  it('heads the column "reference" when the datasets name different rules, and lists them', () => {
    const grid = parseGrid({
      name: 'mixed',
      seeds: 1,
      datasets: [
        { id: 'c4', name: 'blobs', options: { classes: 4 } },
        { id: 'c8', name: 'blobs', options: { classes: 8 } },
      ],
      models: [softmax],
    });
    // The 8-class records predate the reference's name: they count as the gaussian data's Bayes-optimal rule.
    const data = buildReportData(grid, [record('c4', 0, 4, 'oracle'), record('c8', 0, 8)]);
    expect(data.datasets.map((d) => d.referenceName)).toEqual(['oracle', 'bayes-optimal']);
    const md = renderMarkdown(buildReportDocument(data));
    expect(md).toMatch(/\| classes \| {2}\| reference \| class-mean \| softmax \|/);
    expect(md).toContain("reference: the dataset's optimal rule as the dataset names it (4: oracle; 8: Bayes-optimal)");
  });
});

describe('the settings table', () => {
  it("shortens the fingerprints of a dataset's files to a prefix", () => {
    const grid = parseGrid({
      name: 'files',
      seeds: 1,
      datasets: [{ id: 'mine', name: 'files', options: { data: 'a.csv' } }],
      models: [softmax],
    });
    const sha256 = 'ab'.repeat(32);
    const md = renderMarkdown(
      buildReportDocument(
        buildReportData(grid, [
          { ...record('mine', 0, 3), data: { inputs: [{ option: 'data', path: '/data/a.csv', bytes: 1200, sha256 }] } },
        ]),
      ),
    );
    expect(md).toContain(`/data/a.csv (1200 bytes, sha256 ${sha256.slice(0, 12)})`);
    expect(md).not.toContain(sha256);
  });
});
