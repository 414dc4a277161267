import { describe, expect, it } from 'vitest';
import { parseGrid } from './grid-schema.js';
import { fakeGrid } from './test-support/fake-grid.js';

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
