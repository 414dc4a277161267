import { describe, expect, it } from 'vitest';
import { parseGrid } from './grid-schema.js';
import { allBelowClassMean, buildReportData } from './report-data.js';
import { buildReportDocument } from './report-document.js';
import { renderMarkdown } from './report-markdown.js';
import type { RunRecord } from './run-record.js';
import { gridRecord } from './test-support/fake-record.js';

/**
 * A user's grid on their own data, shaped like a files grid: softmax and HPNs labelled by D only (two strategies,
 * so the labels "8" and "32" repeat), a small trainer that most runs hit the cap of, and no cell of the seed study.
 */
const grid = parseGrid({
  name: 'own-data',
  seeds: 2,
  datasets: [
    { id: 'plants', label: 'plants CSV', name: 'blobs', options: { classes: 40 } },
    { id: 'easy', label: 'easy CSV', name: 'blobs', options: { classes: 4 } },
  ],
  models: [
    { id: 'softmax', head: 'softmax' },
    { id: 'random-8', label: '8', head: 'hpn', prototypes: { strategy: 'random', dims: 8 } },
    { id: 'random-32', label: '32', head: 'hpn', prototypes: { strategy: 'random', dims: 32 } },
    { id: 'tammes-8', label: '8', head: 'hpn', prototypes: { strategy: 'tammes', dims: 8 } },
    { id: 'tammes-32', label: '32', head: 'hpn', prototypes: { strategy: 'tammes', dims: 32 } },
    { id: 'wide', label: 'wide softmax', head: 'softmax', trainer: { hiddenUnits: 128 } },
  ],
  trainer: { hiddenUnits: 64, maxEpochs: 40, patience: 6 },
  notes: 'small trainer so the grid runs in minutes',
});

const model = (id: string) => {
  const m = grid.models.find((entry) => entry.id === id)!;
  return { id, head: typeof m.head === 'string' ? m.head : m.head.name, strategy: m.prototypes?.strategy, dims: m.prototypes?.dims };
};

/** A run that trained `epochs` epochs and kept `bestEpoch`, with the nearest class mean at `classMean`. */
const run = (dataset: string, id: string, seed: number, f1: number, epochs: number, bestEpoch: number, classMean: number): RunRecord => {
  const record = gridRecord(dataset, model(id), seed, f1, { bestEpoch, epochs });
  return { ...record, metrics: { ...record.metrics, classMean: { accuracy: classMean, macroF1: classMean } } };
};

// On plants every network is below the class mean (0.75); on easy softmax beats it (0.9 against 0.8). Of the 20
// runs, 14 train the 40 epochs of the cap, 8 of them keeping epoch 40; tammes-32 has one seed on easy only.
const records: RunRecord[] = [
  ...[0, 1].flatMap((seed) => [
    run('plants', 'softmax', seed, 0.6, 40, 40, 0.75),
    run('plants', 'random-8', seed, 0.15, 33, 27, 0.75),
    run('plants', 'random-32', seed, 0.37, 40, 39, 0.75),
    run('plants', 'tammes-8', seed, 0.17, 37, 31, 0.75),
    run('plants', 'tammes-32', seed, 0.5, 40, 40, 0.75),
    run('easy', 'softmax', seed, 0.9, 40, 40, 0.8),
    run('easy', 'random-8', seed, 0.5, 40, 38, 0.8),
    run('easy', 'random-32', seed, 0.7, 40, 40, 0.8),
    run('easy', 'tammes-8', seed, 0.55, 30, 24, 0.8),
  ]),
  run('easy', 'tammes-32', 0, 0.72, 40, 35, 0.8),
  run('plants', 'wide', 0, 0.62, 40, 36, 0.75),
];

const data = buildReportData(grid, records);
const markdown = renderMarkdown(buildReportDocument(data));

describe("the report of a grid on the user's own data", () => {
  it("leaves out the seed study's paragraph: the grid has none of its datasets, though it has a softmax", () => {
    expect(data.seed.models.size).toBeGreaterThan(0);
    expect(data.seed.datasets.size).toBe(0);
    expect(markdown).not.toContain("The seed study's comparison");
  });

  it('names models that share a label by their ids, and gives the range of seeds where cells differ', () => {
    expect(data.models.map((m) => m.label)).toEqual(['softmax', 'random-8', 'random-32', 'tammes-8', 'tammes-32', 'wide softmax']);
    expect(markdown).toContain(
      '| dataset |  | reference | class-mean | softmax | random-8 | random-32 | tammes-8 | tammes-32 | wide softmax |',
    );
    expect(markdown).toContain('Columns: softmax = softmax; random-8 = hpn random D=8; random-32 = hpn random D=32;');
    // plants: wide has one seed, the others two; easy: tammes-32 one seed, wide none.
    expect(markdown).toContain('| plants CSV | n=1-2 | n/a | 75.0 ± 0.0 | 60.0 ± 0.0 |');
    expect(markdown).toContain('| easy CSV | n=1-2 | n/a | 80.0 ± 0.0 | 90.0 ± 0.0 |');
    expect(markdown).toContain('n=k-m: the cells of a row rest on k to m seeds (some runs have no record yet).');
  });

  it('says, per dataset, where every network is below the nearest class mean', () => {
    expect(allBelowClassMean(data, data.datasets[0]!)).toMatchObject({ model: { id: 'wide' }, macroF1: { mean: 62 } });
    expect(allBelowClassMean(data, data.datasets[1]!)).toBeUndefined();
    expect(markdown).toContain(
      'Every model is below the class-mean baseline on plants CSV (best: wide softmax 62.0 against 75.0): there the nearest class mean, with no network, beats the best model.',
    );
  });

  it('says the epoch cap beside patience, and counts the runs that reached it and those still improving', () => {
    expect(markdown).toContain(
      'Training stops after 6 epochs without a better validation accuracy, or at 40 epochs (maxEpochs) at the latest; the weights of the best epoch are kept. Of the 20 finished runs, 14 ran to the cap, and 8 kept their last epoch (validation accuracy still rising when training ended: more epochs might have helped).',
    );
  });

  it('says that every run trains all epochs where patience is not below the cap', () => {
    const fixed = parseGrid({ ...grid, models: grid.models.slice(0, 2), trainer: { maxEpochs: 40, patience: 40 } });
    const text = renderMarkdown(
      buildReportDocument(
        buildReportData(fixed, [run('plants', 'softmax', 0, 0.6, 40, 40, 0.75), run('plants', 'random-8', 0, 0.2, 40, 12, 0.75)]),
      ),
    );
    expect(text).toContain(
      'Every run trains all 40 epochs (maxEpochs; its patience, 40, is not below it, so it never stops early); the weights of the best epoch are kept. Of the 2 finished runs, 2 ran to the cap, and 1 kept their last epoch',
    );
    expect(text).not.toContain('Training stops after');
  });

  it('words the data stage for data read from files as for generated data, and prints a note given as a string', () => {
    expect(grid.notes).toEqual(['small trainer so the grid runs in minutes']);
    expect(markdown).toContain('data (making or reading the data, and its optimal rule where it has one)');
    expect(markdown).toContain('- small trainer so the grid runs in minutes');
  });
});
