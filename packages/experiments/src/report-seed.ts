import { headRef } from './grid-expansion.js';
import type { Grid, GridDataset, GridModel } from './grid-schema.js';

/**
 * When the seed study's comparison (its findings, its published numbers, its Table 3 rows and the calibration
 * against them) belongs in a report.
 *
 * The rule: the grid must contain every cell of the study's Table 2, matched by what the cell is, not by its id:
 *
 * - datasets: the `gaussian` plugin with 10, 100 and 1,000 classes at the study's noise (no `sigma`, or the value
 *   of its Table 1: 3 / 2.5 / 1.25) and width (no `inputWidth`, or 300). Sample sizes are free: the study does not
 *   give them (the seed and seed-quick presets choose different ones);
 * - models: the built-in `softmax` head without prototypes, and the built-in `hpn` head with `optimized` and
 *   `random` prototypes of 10, 100 and 1,000 dimensions, both heads without options. Prototype options (e.g. the
 *   number of optimisation steps) and the trainer are free.
 *
 * Anything else in the grid (more datasets, Tammes prototypes, a plugin head) is allowed beside those cells and is
 * reported like any other cell, but never compared with the study: a published number is shown only for a cell that
 * matches one of the study's. A grid that lacks any of the 21 cells gets no seed sections at all.
 */
export interface SeedComparison {
  readonly applies: boolean;
  /** Grid dataset id -> the class count of the study's dataset it matches. */
  readonly datasets: ReadonlyMap<string, number>;
  /** Grid model id -> the study's model it matches: `softmax`, `optimized-10`, ..., `random-1000`. */
  readonly models: ReadonlyMap<string, string>;
  /** The study's datasets and models the grid lacks, described for a person. */
  readonly missing: readonly string[];
}

/** The study's Table 1: sigma by class count. */
export const SEED_SIGMA: Readonly<Record<number, number>> = { 10: 3, 100: 2.5, 1000: 1.25 };
export const SEED_CLASSES = [10, 100, 1000] as const;
export const SEED_INPUT_WIDTH = 300;
export const SEED_STRATEGIES = ['optimized', 'random'] as const;
export const SEED_DIMS = [10, 100, 1000] as const;
/** The study's models by key, as the seed presets name them. */
export const SEED_MODELS: readonly string[] = ['softmax', ...SEED_STRATEGIES.flatMap((s) => SEED_DIMS.map((d) => `${s}-${d}`))];

const SIZE_OPTIONS = new Set(['classes', 'trainPerClass', 'validationPerClass', 'testPerClass', 'sigma', 'inputWidth']);

/** The class count of the study's dataset that `dataset` is, or undefined. */
export function seedDatasetOf(dataset: Pick<GridDataset, 'name' | 'options'>): number | undefined {
  if (dataset.name !== 'gaussian') return undefined;
  const { classes, sigma, inputWidth } = dataset.options;
  if (typeof classes !== 'number' || !(SEED_CLASSES as readonly number[]).includes(classes)) return undefined;
  if (sigma !== undefined && sigma !== SEED_SIGMA[classes]) return undefined;
  if (inputWidth !== undefined && inputWidth !== SEED_INPUT_WIDTH) return undefined;
  if (Object.keys(dataset.options).some((key) => !SIZE_OPTIONS.has(key))) return undefined;
  return classes;
}

/** The built-in heads of the study, without options (the seed's softmax and HPN). */
export function isSeedHead(model: Pick<GridModel, 'head'>, name: 'softmax' | 'hpn'): boolean {
  const head = headRef(model as GridModel);
  return head.name === name && Object.keys(head.options).length === 0;
}

/** The study's model key that `model` is (`softmax`, `optimized-100`, ...), or undefined. */
export function seedModelOf(model: Pick<GridModel, 'head' | 'prototypes'>): string | undefined {
  if (isSeedHead(model, 'softmax')) return model.prototypes ? undefined : 'softmax';
  if (!isSeedHead(model, 'hpn') || !model.prototypes) return undefined;
  const { strategy, dims } = model.prototypes;
  if (!(SEED_STRATEGIES as readonly string[]).includes(strategy) || !(SEED_DIMS as readonly number[]).includes(dims)) return undefined;
  return `${strategy}-${dims}`;
}

/**
 * Matches the grid's datasets and models to the study's, one grid entry per study entry (an entry whose id is the
 * study's key wins, else the first listed), and says whether the study's comparison applies.
 */
export function seedComparison(grid: Pick<Grid, 'datasets' | 'models'>): SeedComparison {
  const datasets = new Map<string, number>();
  for (const classes of SEED_CLASSES) {
    const candidates = grid.datasets.filter((d) => seedDatasetOf(d) === classes);
    const chosen = candidates.find((d) => d.id === `c${classes}`) ?? candidates[0];
    if (chosen) datasets.set(chosen.id, classes);
  }
  const models = new Map<string, string>();
  for (const key of SEED_MODELS) {
    const candidates = grid.models.filter((m) => seedModelOf(m) === key);
    const chosen = candidates.find((m) => m.id === key) ?? candidates[0];
    if (chosen) models.set(chosen.id, key);
  }
  const haveClasses = new Set(datasets.values());
  const haveModels = new Set(models.values());
  const missing = [
    ...SEED_CLASSES.filter((c) => !haveClasses.has(c)).map((c) => `the ${c}-class gaussian dataset at sigma ${SEED_SIGMA[c]}`),
    ...SEED_MODELS.filter((key) => !haveModels.has(key)).map((key) =>
      key === 'softmax' ? 'the softmax head' : `hpn with ${key.replace('-', ' prototypes, D = ')}`,
    ),
  ];
  return { applies: missing.length === 0, datasets, models, missing };
}
