import { describe, expect, it } from 'vitest';
import { loadPreset } from './grid-files.js';
import { parseGrid, type Grid, type GridInput } from './grid-schema.js';
import { seedComparison, seedDatasetOf, seedModelOf } from './report-seed.js';

/** The seed preset with one part changed. */
async function seedWith(
  change: (grid: GridInput & { datasets: NonNullable<GridInput['datasets']>; models: NonNullable<GridInput['models']> }) => void,
): Promise<Grid> {
  const grid = structuredClone(await loadPreset('seed')) as unknown as Parameters<typeof change>[0];
  change(grid);
  return parseGrid(grid);
}

describe('seedComparison: the study applies to a grid that holds every cell of its Table 2', () => {
  it('applies to the seed and seed-quick presets (other sizes, steps and trainer), matching 3 datasets and 7 models', async () => {
    for (const name of ['seed', 'seed-quick']) {
      const preset = await loadPreset(name);
      const comparison = seedComparison(preset);
      expect(comparison.applies).toBe(true);
      expect(comparison.missing).toEqual([]);
      expect([...comparison.datasets]).toEqual([
        ['c10', 10],
        ['c100', 100],
        ['c1000', 1000],
      ]);
      // Tammes prototypes are not the study's: reported, never compared. Every other model of the preset is.
      const compared = [...comparison.models.keys()];
      expect(compared).toEqual(preset.models.map((m) => m.id).filter((id) => !id.startsWith('tammes-')));
      expect(compared).toHaveLength(7);
    }
  });

  it("matches by what a cell is, not by its id, and allows more datasets and models beside the study's", async () => {
    const grid = await seedWith((g) => {
      g.datasets.forEach((d) => (d.id = `gauss-${d.id}`));
      g.models.forEach((m) => (m.id = `m-${m.id}`));
      g.datasets.push({ id: 'c20', name: 'gaussian', options: { classes: 20, sigma: 2 } });
      g.models.push({ id: 'cosine-optimized-10', head: 'cosine-softmax', prototypes: { strategy: 'optimized', dims: 10 } });
    });
    const comparison = seedComparison(grid);
    expect(comparison.applies).toBe(true);
    expect(comparison.datasets.get('gauss-c100')).toBe(100);
    expect(comparison.datasets.has('c20')).toBe(false);
    expect(comparison.models.get('m-optimized-10')).toBe('optimized-10');
    expect(comparison.models.has('cosine-optimized-10')).toBe(false);
  });

  it("does not apply when a dataset is missing or is not the study's data", async () => {
    const dropped = seedComparison(await seedWith((g) => g.datasets.splice(2, 1)));
    expect(dropped.applies).toBe(false);
    expect(dropped.missing).toEqual(['the 1000-class gaussian dataset at sigma 1.25']);
    // Another noise level or input width is other data; the study's sigma written out is the same data.
    expect(seedComparison(await seedWith((g) => (g.datasets[1]!.options = { ...g.datasets[1]!.options, sigma: 2 }))).applies).toBe(false);
    expect(seedComparison(await seedWith((g) => (g.datasets[1]!.options = { ...g.datasets[1]!.options, inputWidth: 100 }))).applies).toBe(
      false,
    );
    expect(
      seedComparison(await seedWith((g) => (g.datasets[1]!.options = { ...g.datasets[1]!.options, sigma: 2.5, inputWidth: 300 }))).applies,
    ).toBe(true);
    expect(seedDatasetOf({ name: 'blobs', options: { classes: 10 } })).toBeUndefined();
    expect(seedDatasetOf({ name: 'gaussian', options: { classes: 20, sigma: 2 } })).toBeUndefined();
  });

  it("does not apply when one of the study's models is replaced, e.g. its HPN by another head over the same prototypes", async () => {
    const replaced = seedComparison(
      await seedWith((g) => {
        g.models[1] = { id: 'optimized-10', label: '10', head: 'cosine-softmax', prototypes: { strategy: 'optimized', dims: 10 } };
      }),
    );
    expect(replaced.applies).toBe(false);
    expect(replaced.models.has('optimized-10')).toBe(false);
    expect(replaced.missing).toEqual(['hpn with optimized prototypes, D = 10']);
    expect(seedComparison(await seedWith((g) => g.models.splice(0, 1))).missing).toEqual(['the softmax head']);
  });

  it("knows the study's models: built-in heads without options, optimized or random prototypes of 10, 100 or 1,000 dimensions", () => {
    expect(seedModelOf({ head: 'softmax', prototypes: undefined })).toBe('softmax');
    expect(seedModelOf({ head: { name: 'hpn', options: {} }, prototypes: { strategy: 'random', dims: 100, options: {} } })).toBe(
      'random-100',
    );
    expect(
      seedModelOf({ head: { name: 'hpn', options: { scale: 2 } }, prototypes: { strategy: 'random', dims: 100, options: {} } }),
    ).toBeUndefined();
    expect(seedModelOf({ head: 'hpn', prototypes: { strategy: 'tammes', dims: 100, options: {} } })).toBeUndefined();
    expect(seedModelOf({ head: 'hpn', prototypes: { strategy: 'optimized', dims: 50, options: {} } })).toBeUndefined();
    expect(seedModelOf({ head: 'cosine-softmax', prototypes: { strategy: 'optimized', dims: 10, options: {} } })).toBeUndefined();
  });
});
