import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { describeGridDifferences, gridIdentity } from './grid-difference.js';
import { expandGrid } from './grid-expansion.js';
import { loadPreset } from './grid-files.js';
import { cellSeeds, parseGrid } from './grid-schema.js';
import { buildReportData } from './report-data.js';
import { buildReportDocument } from './report-document.js';
import { renderMarkdown } from './report-markdown.js';
import { checkGrid } from './grid-validation.js';
import { fakeGrid } from './test-support/fake-grid.js';
import { buildRegistry } from './test-support/fake-registry.js';
import { refusal } from './test-support/refusal.js';

// Datasets c4 and c16; a grid trainer of hidden width 32; one model with its own settings and one on c16 only.
const raw = (models: unknown[] = []) => ({
  ...fakeGrid('settings', 1, { classes: [4, 16], axesDims: [8] }),
  trainer: { hiddenUnits: 32, maxEpochs: 50 },
  ...(models.length ? { models } : {}),
});
const models = [
  { id: 'softmax', head: 'softmax' },
  { id: 'fixed', head: 'hpn', prototypes: { strategy: 'axes', dims: 8 }, trainer: { hiddenUnits: 1000, patience: 50 } },
  { id: 'big-only', head: 'hpn', prototypes: { strategy: 'axes', dims: 8 }, datasets: ['c16'] },
];

describe('per-model trainer settings and datasets', () => {
  it("merges a model's trainer over the grid's, and runs a model only on the datasets it names", () => {
    const runs = expandGrid(parseGrid(raw(models)));
    expect(runs.map((r) => r.key)).toEqual(['c4/softmax/s0', 'c4/fixed/s0', 'c16/softmax/s0', 'c16/fixed/s0', 'c16/big-only/s0']);
    expect(runs[0]!.spec.trainer).toEqual({ hiddenUnits: 32, maxEpochs: 50 });
    expect(runs[1]!.spec.trainer).toEqual({ hiddenUnits: 1000, maxEpochs: 50, patience: 50 });
    const checked = checkGrid(buildRegistry(), parseGrid(raw(models)));
    expect(checked[1]!.parsedSpec.trainer).toMatchObject({ hiddenUnits: 1000, patience: 50, maxEpochs: 50, dropout: 0.3 });
  });

  it('makes both part of the grid identity, so a resumed directory with other settings is refused', () => {
    const before = parseGrid(raw(models));
    const after = parseGrid(raw(models.map((m) => (m.id === 'fixed' ? { ...m, trainer: { hiddenUnits: 300, patience: 50 } } : m))));
    expect(describeGridDifferences(before, after, 'stored', 'requested')).toEqual([
      'models.1.trainer.hiddenUnits: 1000 in stored, 300 in requested',
    ]);
    const widened = parseGrid(raw(models.map((m) => (m.id === 'big-only' ? { ...m, datasets: ['c4', 'c16'] } : m))));
    expect(describeGridDifferences(before, widened, 'stored', 'requested')).toEqual([
      'models.2.datasets.0: "c16" in stored, "c4" in requested',
      'models.2.datasets.1: (absent) in stored, "c16" in requested',
    ]);
    // A grid without per-model settings keeps the identity it had before they existed.
    expect(gridIdentity(parseGrid(fakeGrid('plain', 1))).models[0]).toEqual({
      id: 'softmax',
      head: { name: 'softmax', options: {} },
      prototypes: null,
    });
  });

  it('refuses a dataset id that is not in the grid, with its path', () => {
    expect(() => parseGrid(raw([{ id: 'x', head: 'softmax', datasets: ['c5'] }]), 'g.json')).toThrow(
      /g\.json: models\.0\.datasets\.0: no dataset has the id "c5" \(the grid's datasets: c4, c16\)/,
    );
  });

  it('refuses an unknown or invalid trainer setting of a model, naming the model, before any run', () => {
    const error = refusal(() =>
      checkGrid(
        buildRegistry(),
        parseGrid(
          raw([
            { id: 'typo', head: 'softmax', trainer: { hiddenUnit: 1000 } },
            { id: 'bad', head: 'softmax', trainer: { dropout: 1 } },
          ]),
        ),
        'g.json',
      ),
    );
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(/the grid has 2 problems/);
    expect(error.message).toMatch(
      /g\.json models\.0 "typo": trainer: unknown setting "hiddenUnit" \(did you mean "hiddenUnits"\?\); the trainer settings are hiddenUnits, /,
    );
    expect(error.message).toMatch(/g\.json models\.1 "bad": trainer\.dropout: Too big/);
    expect(error.hint).toMatch(/hiddenUnits, hiddenLayers, dropout/);
  });

  it('checks prototype sizes only on the cells the grid makes, naming the cell', () => {
    // axes-4 cannot make 16 prototypes; on c4 only, it is fine.
    const onSmall = { id: 'axes-4', head: 'hpn', prototypes: { strategy: 'axes', dims: 4 }, datasets: ['c4'] };
    expect(checkGrid(buildRegistry(), parseGrid(raw([onSmall])))).toHaveLength(1);
    const error = refusal(() => checkGrid(buildRegistry(), parseGrid(raw([{ ...onSmall, datasets: ['c4', 'c16'] }])), 'g.json'));
    expect(error.code).toBe(ErrorCode.Unsupported);
    expect(error.message).toMatch(/^g\.json models\.0 "axes-4" on datasets\.1 "c16": prototype strategy "axes" cannot make 16/);
  });
});

describe('per-model seeds', () => {
  const seeded = [
    { id: 'softmax', head: 'softmax', seeds: { c4: 3 } },
    { id: 'listed', head: 'hpn', prototypes: { strategy: 'axes', dims: 8 }, seeds: [4, 2] },
    { id: 'plain', head: 'hpn', prototypes: { strategy: 'axes', dims: 8 }, datasets: ['c16'] },
  ];

  it("runs a model's own seeds, for every dataset or by dataset id, the grid's elsewhere; the grid's seeds first", () => {
    const runs = expandGrid(parseGrid(raw(seeded)));
    expect(runs.map((r) => r.key)).toEqual([
      'c4/softmax/s0',
      'c4/softmax/s1',
      'c4/softmax/s2',
      'c4/listed/s2',
      'c4/listed/s4',
      'c16/softmax/s0',
      'c16/plain/s0',
      'c16/listed/s2',
      'c16/listed/s4',
    ]);
    expect(runs.find((r) => r.key === 'c4/listed/s4')!.spec.seed).toBe(4);
    const grid = parseGrid(raw(seeded));
    expect(cellSeeds(grid, grid.models[0]!, 'c4')).toEqual([0, 1, 2]);
    expect(cellSeeds(grid, grid.models[0]!, 'c16')).toEqual([0]);
  });

  it('makes them part of the grid identity only when a model names them', () => {
    const before = parseGrid(raw(seeded));
    const after = parseGrid(raw(seeded.map((m) => (m.id === 'softmax' ? { ...m, seeds: { c4: 5 } } : m))));
    expect(describeGridDifferences(before, after, 'stored', 'requested')).toEqual(['models.0.seeds.c4: 3 in stored, 5 in requested']);
    expect(gridIdentity(before).models[2]).not.toHaveProperty('seeds');
  });

  it('refuses seeds for a dataset the model does not run on, and a count below 1, with their paths', () => {
    expect(() => parseGrid(raw([{ id: 'x', head: 'softmax', datasets: ['c4'], seeds: { c16: 2 } }]), 'g.json')).toThrow(
      /g\.json: models\.0\.seeds\.c16: the model does not run on a dataset "c16" \(its datasets: c4\)/,
    );
    expect(() => parseGrid(raw([{ id: 'x', head: 'softmax', seeds: { c4: 0 } }]), 'g.json')).toThrow(
      /g\.json: models\.0\.seeds\.c4: the number of seeds must be at least 1/,
    );
  });

  it('counts the seeds each cell plans in the report, so a cell with its own seeds is complete with them', () => {
    const grid = parseGrid(raw(seeded));
    const data = buildReportData(grid, []);
    expect(data.cells.get('c4/softmax')!.plannedSeeds).toEqual([0, 1, 2]);
    expect(data.cells.get('c4/plain')!.plannedSeeds).toEqual([]);
    expect(data.expectedRuns).toBe(9);
    expect(renderMarkdown(buildReportDocument(data))).toMatch(
      /x seed 0, or the model's own seeds where it names them: 3 seeds \(0, 1, 2\); 2 seeds \(4, 2\)\)/,
    );
  });
});

describe('the collapse preset', () => {
  it('expands to 290 runs in chunks of one dataset, width and stopping rule, keeping the first chunk as it ran', async () => {
    const grid = await loadPreset('collapse');
    const runs = expandGrid(grid);
    expect(runs).toHaveLength(290);
    expect(grid.datasets.map((d) => [d.id, d.options.classes, d.options.trainPerClass])).toEqual([
      ['c1000-n20', 1000, 20],
      ['c1000-n50', 1000, 50],
      ['c1000-n200', 1000, 200],
      ['c100', 100, 700],
    ]);
    const chunk = (pattern: RegExp) => runs.filter((r) => pattern.test(r.key));
    const counts = {
      n20es: chunk(/^c1000-n20\/.*-h300-es\//).length,
      n20e200: chunk(/^c1000-n20\/.*-h300-e200\//).length,
      n20wide: chunk(/^c1000-n20\/.*-h1000-es\//).length,
      n50: chunk(/^c1000-n50\//).length,
      n200: chunk(/^c1000-n200\//).length,
      c100: chunk(/^c100\//).length,
    };
    expect(counts).toEqual({ n20es: 71, n20e200: 33, n20wide: 39, n50: 55, n200: 27, c100: 65 });
    // Every strategy at 20 per class (width 300 and 1,000, early stopping); at 50 and 200 per class the best two and the worst.
    const strategies = (dataset: string, suffix: string) =>
      new Set(runs.filter((r) => r.dataset === dataset && r.model.endsWith(suffix)).map((r) => r.model.split('-')[1]));
    expect(strategies('c1000-n20', '-h1000-es')).toEqual(
      new Set(['h1000', 'orthogonal', 'simplex', 'tammes', 'random', 'spread', 'optimized']),
    );
    // bsoftmax-d100 / -d1000: the bottleneck softmax, beside softmax wherever it runs.
    expect(strategies('c1000-n200', '-h300-es')).toEqual(new Set(['h300', 'd100', 'd1000', 'orthogonal', 'simplex', 'optimized']));
    expect(strategies('c1000-n50', '-h300-es')).toEqual(
      new Set(['h300', 'd100', 'd1000', 'orthogonal', 'simplex', 'tammes', 'random', 'spread', 'optimized']),
    );
    expect(strategies('c1000-n20', '-h300-e200')).toEqual(
      new Set(['h300', 'd100', 'd1000', 'orthogonal', 'simplex', 'random', 'optimized']),
    );
    // Only the fixed 200 epochs trace the test split.
    for (const run of runs) {
      const fixed = run.model.endsWith('-e200');
      expect(run.spec.trainer).toMatchObject(fixed ? { patience: 200, traceTest: true } : {});
      if (!fixed) expect(run.spec.trainer).not.toHaveProperty('traceTest');
    }
    // 5 seeds where a run takes under 2 minutes, 3 otherwise.
    const seedsOf = (dataset: string, model: string) => runs.filter((r) => r.dataset === dataset && r.model === model).map((r) => r.seed);
    expect(seedsOf('c1000-n20', 'hpn-optimized-d1000-h300-es')).toEqual([0, 1, 2, 3, 4]);
    expect(seedsOf('c1000-n20', 'cos-optimized-d1000-h300-es')).toEqual([0, 1, 2]);
    expect(seedsOf('c1000-n50', 'cos-simplex-d1000-h300-es')).toEqual([0, 1, 2, 3, 4]);
    expect(seedsOf('c1000-n200', 'cos-simplex-d1000-h300-es')).toEqual([0, 1, 2]);
    expect(seedsOf('c100', 'hpn-tammes-d100-h64-es')).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(runs.filter((r) => r.dataset === 'c100').map((r) => r.spec.trainer?.hiddenUnits))).toEqual(new Set([64]));
    expect(seedsOf('c1000-n50', 'bsoftmax-d100-h300-es')).toEqual([0, 1, 2, 3, 4]);
    expect(grid.models.find((m) => m.id === 'bsoftmax-d1000-h300-e200')?.head).toEqual({
      name: 'bottleneck-softmax',
      options: { dims: 1000 },
    });
  });
});
