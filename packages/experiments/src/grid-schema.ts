import { ErrorCode, HyperprotoError, PluginOptionsSchema, unknownKeysErrorMap, z } from '@hyperproto/core';

const ID_PATTERN = /^[a-z0-9]+([-_.][a-z0-9]+)*$/;
const entryId = z.string().regex(ID_PATTERN, 'expected a short id of lower-case letters, digits and - _ . (e.g. "c10", "optimized-100")');
// A plugin's options as a spec holds them (a `__proto__` key kept, for the plugin's check to refuse).
const options = PluginOptionsSchema.default({});

const seedsSchema = z.union([
  z.number().int().min(1, 'the number of seeds must be at least 1').max(10_000),
  z
    .array(z.number().int().min(0, 'a seed must be a non-negative integer').max(Number.MAX_SAFE_INTEGER))
    .min(1, 'list at least one seed')
    .refine((list) => new Set(list).size === list.length, 'the seed list has a duplicate'),
]);

/** One row of the tables: a dataset plugin with its options (e.g. the gaussian data with 100 classes). */
export const GridDatasetSchema = z.strictObject({
  id: entryId,
  /** Shown in tables and plots; defaults to the class count when the options name one. */
  label: z.string().min(1).optional(),
  name: z.string().min(1).default('gaussian'),
  options,
});

/** One column of the tables: a head, and for prototype heads the strategy and dimensions. */
export const GridModelSchema = z.strictObject({
  id: entryId,
  label: z.string().min(1).optional(),
  head: z.union([z.string().min(1), z.strictObject({ name: z.string().min(1), options })]),
  prototypes: z
    .strictObject({
      strategy: z.string().min(1),
      dims: z.number().int().min(1),
      options,
    })
    .optional(),
  /**
   * Trainer settings of this model's runs, merged over the grid's `trainer` (e.g. a wider network, or a fixed number
   * of epochs through `patience` = `maxEpochs`).
   */
  trainer: z.record(z.string(), z.unknown()).optional(),
  /** Ids of the datasets this model runs on; absent: every dataset of the grid. */
  datasets: z.array(entryId).min(1, 'list at least one dataset id, or leave "datasets" out').optional(),
  /**
   * This model's seeds instead of the grid's (e.g. more seeds where its runs are cheap): a count or list for every
   * dataset it runs on, or one per dataset id (`{ "c10": 5 }`), the datasets not named keeping the grid's seeds.
   */
  seeds: z.union([seedsSchema, z.record(entryId, seedsSchema)]).optional(),
});

/** Numbers a study published for the same cells, keyed by dataset id and then model id (percent). */
const PublishedTableSchema = z.record(z.string(), z.record(z.string(), z.number()));

export const PublishedSchema = z.strictObject({
  /** Where the numbers come from, e.g. the study's title. */
  source: z.string().min(1),
  /** Table 2: test macro-F1 in percent. */
  macroF1: PublishedTableSchema.default({}),
  /** Table 3: epochs until convergence. */
  convergenceEpochs: PublishedTableSchema.default({}),
  /** Free text shown under the tables (what the study says that the numbers do not). */
  notes: z.array(z.string()).default([]),
});

export const GridSchema = z
  .strictObject({
    name: z.string().min(1),
    description: z.string().optional(),
    /** A count (seeds 0 .. n-1) or an explicit list of seeds. */
    seeds: seedsSchema,
    datasets: z.array(GridDatasetSchema).min(1, 'list at least one dataset'),
    models: z.array(GridModelSchema).min(1, 'list at least one model'),
    /** Trainer settings shared by every run (defaults: the seed's network and optimiser). */
    trainer: z.record(z.string(), z.unknown()).default({}),
    /** Engine by name; absent means the fastest engine available where the grid runs. */
    engine: z.string().min(1).optional(),
    evaluators: z.array(z.strictObject({ name: z.string().min(1), options })).optional(),
    published: PublishedSchema.optional(),
    /** The model whose scores the data sizes were chosen to match against the published ones (the report checks it). */
    calibration: z.strictObject({ model: entryId, tolerancePoints: z.number().positive().default(3) }).optional(),
    /** Why the sizes and settings are what they are; shown in the report. A single string is one note. */
    notes: z.union([z.array(z.string()), z.string().transform((note) => [note])]).default([]),
    /** Plugins to load, as in hyperproto.config.json; read by the application that builds the registry. */
    plugins: z.array(z.unknown()).optional(),
  })
  .superRefine((grid, ctx) => {
    const duplicate = (list: readonly { id: string }[], path: string) => {
      const seen = new Map<string, number>();
      list.forEach((entry, i) => {
        const first = seen.get(entry.id);
        if (first !== undefined)
          ctx.addIssue({ code: 'custom', path: [path, i, 'id'], message: `duplicate id "${entry.id}" (also ${path}.${first})` });
        else seen.set(entry.id, i);
      });
    };
    duplicate(grid.datasets, 'datasets');
    duplicate(grid.models, 'models');
    const datasetIds = grid.datasets.map((d) => d.id);
    grid.models.forEach((model, m) => {
      model.datasets?.forEach((id, i) => {
        if (!datasetIds.includes(id))
          ctx.addIssue({
            code: 'custom',
            path: ['models', m, 'datasets', i],
            message: `no dataset has the id "${id}" (the grid's datasets: ${datasetIds.join(', ')})`,
          });
      });
      const own = model.datasets ?? datasetIds;
      if (model.seeds !== undefined && typeof model.seeds === 'object' && !Array.isArray(model.seeds)) {
        for (const id of Object.keys(model.seeds)) {
          if (!own.includes(id))
            ctx.addIssue({
              code: 'custom',
              path: ['models', m, 'seeds', id],
              message: `the model does not run on a dataset "${id}" (its datasets: ${own.join(', ')})`,
            });
        }
      }
    });
  });

export type Grid = z.output<typeof GridSchema>;
export type GridInput = z.input<typeof GridSchema>;
export type GridDataset = z.output<typeof GridDatasetSchema>;
export type GridModel = z.output<typeof GridModelSchema>;
export type Published = z.output<typeof PublishedSchema>;

/** Validates a grid; errors name the dotted path of every bad entry, e.g. `models.3.prototypes.dims`. */
export function parseGrid(raw: unknown, source = 'grid'): Grid {
  if (
    typeof raw === 'object' &&
    raw !== null &&
    typeof (raw as { seeds?: unknown }).seeds === 'number' &&
    (raw as { seeds: number }).seeds < 1
  ) {
    // Said plainly: zod's union message would only say that no alternative matched.
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `${source} seeds: the number of seeds must be at least 1, got ${(raw as { seeds: number }).seeds}`,
      {
        hint: 'Give a count such as "seeds": 5, or a list such as "seeds": [0, 1, 2].',
      },
    );
  }
  const hint =
    "See the seed preset for a complete grid: @hyperproto/experiments' presets/seed.json, or the grid.json that `hyperproto experiment --preset seed` writes into its --out.";
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const got = raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw;
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `${source}: a grid is a JSON object with "name", "seeds", "datasets" and "models", got ${got}`,
      {
        hint,
      },
    );
  }
  // A misspelt field is named with the field meant, and the fields its object has.
  const result = GridSchema.safeParse(raw, { error: unknownKeysErrorMap('field') });
  const unnamed = unnamedFileData(raw);
  if (unnamed.length)
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `${source}: ${[...unnamed.map((u) => u.problem), ...(result.success ? [] : [describeIssues(result.error.issues)])].join('; ')}`,
      { hint: `Add "name": "files" to ${unnamed.map((u) => u.where).join(', ')} to read the data from files.` },
    );
  if (result.success) return result.data;
  throw new HyperprotoError(ErrorCode.InvalidOptions, `${source}: ${describeIssues(result.error.issues)}`, { hint });
}

/** Options only data read from files has (the `files` dataset's paths and label column); the gaussian data has none. */
const FILE_OPTIONS = ['data', 'labels', 'labelColumn', 'validationData', 'validationLabels', 'testData', 'testLabels', 'classNames'];

/**
 * Dataset entries without a "name" whose options are those of data read from files: the name defaults to the
 * gaussian data, which would refuse these options with a message about its own (`classes`), not the missing name.
 */
function unnamedFileData(raw: object): { where: string; problem: string }[] {
  const datasets = (raw as { datasets?: unknown }).datasets;
  if (!Array.isArray(datasets)) return [];
  return datasets.flatMap((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null || 'name' in entry) return [];
    const options = (entry as { options?: unknown }).options;
    const given = typeof options === 'object' && options !== null ? FILE_OPTIONS.filter((key) => key in options) : [];
    if (given.length === 0) return [];
    const id = (entry as { id?: unknown }).id;
    const where = `datasets.${i}${typeof id === 'string' ? ` "${id}"` : ''}`;
    return [
      {
        where,
        problem: `${where}: no "name", so it is read as the gaussian data, which has no option ${given.join(', ')}: these are options of data read from files ("name": "files")`,
      },
    ];
  });
}

/**
 * Each problem as `dotted.path: message`; unknown fields by the path of their object (none at the top level) and
 * named in the message: `models.0: unknown field "dim" (did you mean "dims"?); the fields here are ...`.
 */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const where = dottedPath(issue.path);
      if (issue.code === 'unrecognized_keys') return where ? `${where}: ${issue.message}` : issue.message;
      return `${where || '(top level)'}: ${issue.message}`;
    })
    .join('; ');
}

/** `models.1.prototypes.dims`; a key that is not a plain word is quoted, so the path still reads as one. */
function dottedPath(path: readonly PropertyKey[]): string {
  return path.map((part) => (typeof part === 'string' && !/^[\w$-]+$/.test(part) ? JSON.stringify(part) : String(part))).join('.');
}

type Seeds = z.output<typeof seedsSchema>;

const seedList = (seeds: Seeds): number[] => (typeof seeds === 'number' ? Array.from({ length: seeds }, (_, i) => i) : [...seeds]);

/** The seeds a grid runs where no model names its own, in order. */
export function gridSeeds(grid: Pick<Grid, 'seeds'>): number[] {
  return seedList(grid.seeds);
}

/** The seeds of one cell: the model's own for this dataset when it names them, else the grid's. */
export function cellSeeds(grid: Pick<Grid, 'seeds'>, model: Pick<GridModel, 'seeds'>, datasetId: string): number[] {
  const own = model.seeds;
  if (own === undefined) return gridSeeds(grid);
  if (typeof own === 'number' || Array.isArray(own)) return seedList(own);
  const forDataset = own[datasetId];
  return forDataset === undefined ? gridSeeds(grid) : seedList(forDataset);
}
