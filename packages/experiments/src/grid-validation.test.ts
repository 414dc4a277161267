import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { checkGrid } from './grid-validation.js';
import { parseGrid } from './grid-schema.js';
import { fakeGrid } from './test-support/fake-grid.js';
import { buildRegistry } from './test-support/fake-registry.js';
import { refusal } from './test-support/refusal.js';

// Datasets c4 and c16, models softmax and axes-8.
const grid = (patch: Record<string, unknown> = {}) =>
  parseGrid({ ...fakeGrid('checked', 1, { classes: [4, 16], axesDims: [8] }), ...patch });

describe('checkGrid', () => {
  it('returns every run with its spec validated and defaults filled', () => {
    const runs = checkGrid(buildRegistry(), grid());
    expect(runs).toHaveLength(4);
    expect(runs[0]!.parsedSpec.trainer.hiddenUnits).toBe(300);
    expect(runs[1]!.parsedSpec.evaluators).toEqual([{ name: 'classification', options: {} }]);
  });

  it('refuses an unknown plugin, naming the grid entry', () => {
    const error = refusal(() =>
      checkGrid(buildRegistry(), grid({ models: [{ id: 'odd', head: 'hpm', prototypes: { strategy: 'axes', dims: 8 } }] }), 'my.json'),
    );
    expect(error.code).toBe(ErrorCode.UnknownPlugin);
    expect(error.message).toMatch(/my\.json models\.0 "odd": unknown head "hpm"\. Did you mean "hpn"\?/);
  });

  it('refuses a prototype size the strategy cannot make, naming model and dataset, before anything runs', () => {
    const error = refusal(() =>
      checkGrid(buildRegistry(), grid({ models: [{ id: 'axes-4', head: 'hpn', prototypes: { strategy: 'axes', dims: 4 } }] })),
    );
    expect(error.code).toBe(ErrorCode.Unsupported);
    // 4 classes fit into 4 dims as signed axes, 16 do not.
    expect(error.message).toMatch(
      /models\.0 "axes-4" on datasets\.1 "c16": prototype strategy "axes" cannot make 16 prototypes in 4 dimensions: needs dims >= classes \/ 2/,
    );
    expect(error.message).not.toMatch(/datasets\.0/);
  });

  it('refuses a run whose network cannot be allocated, naming the run and the option to lower, before anything runs', () => {
    const error = refusal(() =>
      checkGrid(buildRegistry(), grid({ models: [{ id: 'huge', head: 'hpn', prototypes: { strategy: 'axes', dims: 100_000_000 } }] })),
    );
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toMatch(/run c4\/huge\/s0 \(datasets\.0 "c4" x models\.0 "huge"\): the network's weights .* lower --dims/);
  });

  it('lists every problem at once', () => {
    const error = refusal(() =>
      checkGrid(
        buildRegistry(),
        grid({
          datasets: [{ id: 'c4', name: 'blobs', options: { classes: 4, colour: 'red' } }],
          models: [
            { id: 'a', head: 'nope' },
            { id: 'b', head: 'hpn', prototypes: { strategy: 'spiral', dims: 3 } },
          ],
          engine: 'warp',
        }),
      ),
    );
    expect(error.message).toMatch(/the grid has 4 problems/);
    expect(error.message).toMatch(/datasets\.0 "c4": dataset:blobs: Unrecognized key: "colour"|datasets\.0 "c4": dataset:blobs.*colour/);
    expect(error.message).toMatch(/models\.0 "a": unknown head "nope"/);
    expect(error.message).toMatch(/models\.1 "b": unknown prototype strategy "spiral"/);
    expect(error.message).toMatch(/engine: unknown engine "warp"/);
  });

  it('refuses spec settings that fail validation, with the trainer path', () => {
    const error = refusal(() => checkGrid(buildRegistry(), grid({ trainer: { dropout: 1 } })));
    expect(error.message).toMatch(/trainer\.dropout/);
  });
});
