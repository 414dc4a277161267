import { ErrorCode, HyperprotoError, PluginOptionsSchema, unknownKeysErrorMap, z } from '@hyperproto/core';

const ID_PATTERN = /^[a-z0-9]+([-_.][a-z0-9]+)*$/;
/** Ids name directories and files of a results directory (`models/<dataset>/<model>/s<seed>/`), within a name's 255 bytes. */
const MAX_ID_LENGTH = 100;
const entryId = z
  .string()
  .max(MAX_ID_LENGTH, {
    error: (issue) =>
      `an id has at most ${MAX_ID_LENGTH} characters (it names directories and files of the results), got ${lengthOf(issue.input)}`,
  })
  .regex(ID_PATTERN, 'expected a short id of lower-case letters, digits and - _ . (e.g. "c10", "optimized-100")');
// A plugin's options as a spec holds them (a `__proto__` key kept, for the plugin's check to refuse).
const options = PluginOptionsSchema.default({});

/** Seeds of one cell, as a count or a list: more is days of runs for a single cell. */
const MAX_SEEDS = 10_000;
/**
 * Runs one grid may expand to: beyond that it is many days of runs, and expanding and checking it alone takes
 * seconds; a larger study is several grids, each its own results directory.
 */
export const MAX_GRID_RUNS = 100_000;
/** The seeds an experiment spec takes (its `seed`): integers that a double holds exactly. */
const SEED_RANGE = `integers from 0 to ${Number.MAX_SAFE_INTEGER}`;

const thousands = (n: number) => n.toLocaleString('en-US');
const lengthOf = (input: unknown) => (typeof input === 'string' || Array.isArray(input) ? thousands(input.length) : 'none');
/** What a value is, for a message that says what was given instead: `null`, `a list`, `a string`. */
const kindOf = (value: unknown) =>
  value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;

const countProblem = (count: number) =>
  !Number.isInteger(count)
    ? `must be a whole number from 1 to ${thousands(MAX_SEEDS)}`
    : count < 1
      ? 'must be at least 1'
      : count > MAX_SEEDS
        ? `must be at most ${thousands(MAX_SEEDS)}`
        : undefined;

// Refinements, not .int()/.max(): a union reports the reasons of the one alternative whose type matched only while
// its checks do not abort, and these do not (zod's integer and length checks would leave only "Invalid input").
const seedsSchema = z.union(
  [
    z.number().refine((count) => countProblem(count) === undefined, {
      error: (issue) => `the number of seeds ${countProblem(issue.input as number)}, got ${issue.input}`,
    }),
    z
      .array(
        z.number().refine((seed) => Number.isSafeInteger(seed) && seed >= 0, {
          error: (issue) => `a seed must be one of the ${SEED_RANGE}, got ${issue.input}`,
        }),
      )
      .min(1, 'list at least one seed')
      .refine((list) => list.length <= MAX_SEEDS, {
        error: (issue) => `the seed list must have at most ${thousands(MAX_SEEDS)} seeds, got ${lengthOf(issue.input)}`,
      })
      .refine((list) => new Set(list).size === list.length, 'the seed list has a duplicate'),
  ],
  {
    error: (issue) =>
      `expected a number of seeds (a whole number from 1 to ${thousands(MAX_SEEDS)}) or a list of up to ${thousands(MAX_SEEDS)} distinct seeds (${SEED_RANGE}), got ${kindOf(issue.input)}`,
  },
);

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
  seeds: z
    .union([seedsSchema, z.record(entryId, seedsSchema)], {
      error: (issue) =>
        `expected the model's seeds as the grid's (a number of seeds, or a list of seeds), or one per dataset id (e.g. { "c10": 5 }), got ${kindOf(issue.input)}`,
    })
    .optional(),
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
  const hint =
    "See the seed preset for a complete grid: @hyperproto/experiments' presets/seed.json, or the grid.json that `hyperproto experiment --preset seed` writes into its --out.";
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `${source}: a grid is a JSON object with "name", "seeds", "datasets" and "models", got ${kindOf(raw)}`,
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
  if (!result.success) throw new HyperprotoError(ErrorCode.InvalidOptions, `${source}: ${describeIssues(result.error.issues)}`, { hint });
  checkGridSize(result.data, source);
  return result.data;
}

/** Refuses a grid of more than MAX_GRID_RUNS runs, counted without expanding it (so at once, whatever its size). */
function checkGridSize(grid: Grid, source: string): void {
  const { runs, counted } = gridRunCount(grid);
  if (runs <= MAX_GRID_RUNS) return;
  throw new HyperprotoError(
    ErrorCode.InvalidOptions,
    `${source}: the grid expands to ${thousands(runs)} runs (${counted}), more than the ${thousands(MAX_GRID_RUNS)} a grid may have`,
    { hint: 'Use fewer seeds, models or datasets, or split the study into several grids, each with its own --out.' },
  );
}

const plural = (n: number, word: string) => `${thousands(n)} ${word}${n === 1 ? '' : 's'}`;

/**
 * How many runs the grid expands to (as many as `expandGrid` makes), and how they were counted: datasets x models x
 * seeds, or per model where models name their own datasets or seeds.
 */
export function gridRunCount(grid: Pick<Grid, 'seeds' | 'datasets' | 'models'>): { runs: number; counted: string } {
  const shared = seedCount(grid.seeds);
  if (grid.models.every((model) => model.datasets === undefined && model.seeds === undefined)) {
    const { length: datasets } = grid.datasets;
    const { length: models } = grid.models;
    return {
      runs: datasets * models * shared,
      counted: `${plural(datasets, 'dataset')} x ${plural(models, 'model')} x ${plural(shared, 'seed')}`,
    };
  }
  const datasetIds = new Set(grid.datasets.map((dataset) => dataset.id));
  let runs = 0;
  for (const model of grid.models) {
    const own = model.datasets === undefined ? datasetIds : new Set(model.datasets.filter((id) => datasetIds.has(id)));
    const seeds = model.seeds;
    if (seeds === undefined || typeof seeds === 'number' || Array.isArray(seeds)) {
      runs += own.size * (seeds === undefined ? shared : seedCount(seeds));
      continue;
    }
    for (const id of own) runs += seeds[id] === undefined ? shared : seedCount(seeds[id]);
  }
  return { runs, counted: "summed over the models, each over the datasets and seeds it names or the grid's" };
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
    .flatMap(matchedAlternative)
    .map((issue) => {
      const where = dottedPath(issue.path);
      if (issue.code === 'unrecognized_keys') return where ? `${where}: ${issue.message}` : issue.message;
      return `${where || '(top level)'}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * A union's problem as those of the one alternative whose type the value has (a model's seeds given per dataset,
 * `{ "c10": "five" }`, is told what a dataset's seeds are, not that it is an object), at the union's path; the
 * union's own message where the type matches none or several.
 */
function matchedAlternative(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const typeMismatch = (inner: z.core.$ZodIssue) =>
    inner.path.length === 0 && (inner.code === 'invalid_type' || inner.code === 'invalid_union');
  const matched = issue.errors.filter((inner) => !inner.every(typeMismatch));
  if (matched.length !== 1) return [issue];
  return matched[0]!.flatMap((inner) => matchedAlternative({ ...inner, path: [...issue.path, ...inner.path] }));
}

/** `models.1.prototypes.dims`; a key that is not a plain word is quoted, so the path still reads as one. */
function dottedPath(path: readonly PropertyKey[]): string {
  return path.map((part) => (typeof part === 'string' && !/^[\w$-]+$/.test(part) ? JSON.stringify(part) : String(part))).join('.');
}

type Seeds = z.output<typeof seedsSchema>;

const seedList = (seeds: Seeds): number[] => (typeof seeds === 'number' ? Array.from({ length: seeds }, (_, i) => i) : [...seeds]);
const seedCount = (seeds: Seeds): number => (typeof seeds === 'number' ? seeds : seeds.length);

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

/** Whether the grid crosses this model with this dataset (a model may name the datasets it runs on). */
export function modelRunsOn(model: Pick<GridModel, 'datasets'>, dataset: Pick<GridDataset, 'id'>): boolean {
  return model.datasets === undefined || model.datasets.includes(dataset.id);
}
