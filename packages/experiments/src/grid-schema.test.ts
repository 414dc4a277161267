import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { parseGrid } from './grid-schema.js';
import { fakeGrid } from './test-support/fake-grid.js';
import { refusal } from './test-support/refusal.js';

// Datasets c4 and c8, models softmax and axes-4.
const base = fakeGrid('small', 1);

describe('grid notes and dataset names', () => {
  it('takes notes as a list, or a single string as one note', () => {
    expect(parseGrid({ ...base, notes: 'why these sizes' }).notes).toEqual(['why these sizes']);
    expect(parseGrid({ ...base, notes: ['one', 'two'] }).notes).toEqual(['one', 'two']);
    expect(parseGrid(base).notes).toEqual([]);
    expect(() => parseGrid({ ...base, notes: 3 })).toThrow(/notes/);
  });

  it('says that "name": "files" is missing where an entry without a name has the options of data read from files', () => {
    const unnamed = { id: 'plants', options: { data: 'plants.csv', labelColumn: 'species' } };
    const error = (() => {
      try {
        parseGrid({ ...base, datasets: [base.datasets[0], unnamed] }, 'grid.json');
      } catch (caught) {
        return caught as { message: string; hint: string };
      }
      return undefined;
    })();
    expect(error?.message).toBe(
      'grid.json: datasets.1 "plants": no "name", so it is read as the gaussian data, which has no option data, labelColumn: these are options of data read from files ("name": "files")',
    );
    expect(error?.hint).toBe('Add "name": "files" to datasets.1 "plants" to read the data from files.');
    // With the name, or with gaussian options, nothing is said.
    expect(parseGrid({ ...base, datasets: [{ ...unnamed, name: 'files' }] }).datasets[0]!.name).toBe('files');
    expect(parseGrid({ ...base, datasets: [{ id: 'c10', options: { classes: 10 } }] }).datasets[0]!.name).toBe('gaussian');
  });
});

describe('misspelt fields of a grid file', () => {
  const refused = (raw: Record<string, unknown>) => refusal(() => parseGrid(raw, 'grid.json'));
  const { datasets, models, ...rest } = base;

  it('names the field meant at the top level, and the fields a grid has', () => {
    const error = refused({ ...rest, datset: datasets, models });
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toContain(
      'unknown field "datset" (did you mean "datasets"?); the fields here are name, description, seeds, datasets, models, trainer',
    );
    // The field it meant is missing too, and said so by its path.
    expect(error.message).toMatch(/^grid\.json: datasets: /);
    expect(refused({ ...rest, datasets, modles: models }).message).toContain('unknown field "modles" (did you mean "models"?)');
  });

  it('names the field meant in a dataset entry, a model entry and its prototypes, each by the path of its entry', () => {
    const error = refused({
      ...base,
      datasets: [{ ...datasets[0], optons: {} }],
      models: [{ id: 'hpn-4', head: 'hpn', prototypes: { strategy: 'axes', dim: 4, dims: 4 }, dataset: ['c4'] }],
    });
    expect(error.message).toBe(
      'grid.json: datasets.0: unknown field "optons" (did you mean "options"?); the fields here are id, label, name, options; ' +
        'models.0.prototypes: unknown field "dim" (did you mean "dims"?); the fields here are strategy, dims, options; ' +
        'models.0: unknown field "dataset" (did you mean "datasets"?); the fields here are id, label, head, prototypes, trainer, datasets, seeds',
    );
  });
});
