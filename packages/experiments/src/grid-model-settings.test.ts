import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { describeGridDifferences, gridIdentity } from './grid-difference.js';
import { expandGrid } from './grid-expansion.js';
import { loadPreset } from './grid-files.js';
import { parseGrid } from './grid-schema.js';
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
    expect(error.message).toMatch(/g\.json models\.0 "typo": trainer\.hiddenUnit: unknown setting/);
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

describe('the collapse preset', () => {
  it('parses and expands to 3 x 52 cells at 1,000 classes and 26 at 100 classes, 3 seeds each: 546 runs', async () => {
    const grid = await loadPreset('collapse');
    const runs = expandGrid(grid);
    expect(runs).toHaveLength(546);
    expect(grid.datasets.map((d) => [d.options.classes, d.options.trainPerClass])).toEqual([
      [1000, 20],
      [1000, 50],
      [1000, 200],
      [100, 700],
    ]);
    const c1000 = runs.filter((r) => r.dataset === 'c1000-n50' && r.seed === 0);
    expect(c1000).toHaveLength(52);
    // Every strategy under both prototype heads, plus softmax, at each width and stopping rule.
    const cells = new Set(c1000.map((r) => JSON.stringify([r.spec.head, r.model.split('-')[1], r.spec.trainer])));
    expect(cells.size).toBe(52);
    const dims = (r: (typeof runs)[number]) => (r.spec.prototypes && 'dims' in r.spec.prototypes ? r.spec.prototypes.dims : null);
    expect(new Set(c1000.map(dims))).toEqual(new Set([1000, null]));
    expect(new Set(c1000.map((r) => r.spec.head.name))).toEqual(new Set(['softmax', 'hpn', 'cosine-softmax']));
    expect(new Set(c1000.map((r) => JSON.stringify(r.spec.trainer)))).toEqual(
      new Set(['{"hiddenUnits":300}', '{"hiddenUnits":300,"patience":200}', '{"hiddenUnits":1000}', '{"hiddenUnits":1000,"patience":200}']),
    );
    const c100 = runs.filter((r) => r.dataset === 'c100' && r.seed === 0);
    expect(c100).toHaveLength(26);
    expect(new Set(c100.map((r) => r.spec.trainer?.hiddenUnits))).toEqual(new Set([64]));
    expect(grid.notes.join(' ')).toMatch(/bottleneck/);
  });
});
