import { z } from 'zod';
import { CLASSIFICATION_EVALUATOR } from './classification-scores.js';
import { ErrorCode, HyperprotoError } from './errors.js';
import { formatIssues, unknownKeysErrorMap, unknownKeysText } from './options.js';

const positiveInt = z.number().int().min(1);

const trainerShape = {
  hiddenUnits: positiveInt.default(300),
  hiddenLayers: positiveInt.max(16).default(2),
  dropout: z.number().min(0).lt(1).default(0.3),
  batchSize: positiveInt.default(128),
  learningRate: z.number().positive().default(1e-3),
  patience: positiveInt.default(10),
  maxEpochs: positiveInt.default(200),
  /**
   * Also score the test split after every epoch (loss, accuracy, macro-F1 in the history), to see how stopping and
   * overfitting play out. Logged only: the stopping rule and the kept weights read the validation split alone.
   * Absent means off, so specs written before it existed stay equal to what they mean.
   */
  traceTest: z.boolean().optional(),
};

/**
 * The seed's trainer: two hidden layers of 300 units, Adam at 1e-3, early stopping. Defaults are documented in the
 * README. Strict like the rest of the spec: a misspelt setting would otherwise train with the default silently.
 */
export const TrainerSettingsSchema = z.strictObject(trainerShape, {
  error: (issue) =>
    issue.code === 'unrecognized_keys'
      ? unknownKeysText(issue.keys, Object.keys(trainerShape), 'setting', 'the trainer settings are')
      : undefined,
});

/** The seed's trainer settings, shared by every engine (the network and its training live in @hyperproto/mlp). */
export type TrainerSettings = Readonly<z.output<typeof TrainerSettingsSchema>>;

/** An object whose prototype is Object's or null, as JSON.parse and the CLI's key=value flags make options. */
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && [Object.prototype, null].includes(Object.getPrototypeOf(value));

/**
 * A plugin's options as given, any keys: the plugin's own schema checks them (resolveOptions). Not z.record, which
 * drops an own `__proto__` key unseen; copied with it kept as a key, so that the plugin's check refuses it as it
 * refuses any option it does not know.
 */
export const PluginOptionsSchema = z
  .custom<Record<string, unknown>>(isPlainObject, { error: 'expected an object of options' })
  .transform((options) => {
    const copy: Record<string, unknown> = {};
    // defineProperty: assignment would take `__proto__` as the copy's prototype.
    for (const [key, value] of Object.entries(options))
      Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
    return copy;
  });

const PluginRefSchema = z.object({
  name: z.string().min(1),
  options: PluginOptionsSchema.default({}),
});

/** An engine and its options; a plain name (records and grids written before engines took options) means no options. */
const EngineRefSchema = z.union([
  z
    .string()
    .min(1)
    .transform((name) => ({ name, options: {} as Record<string, unknown> })),
  PluginRefSchema,
]);

const PrototypeSourceSchema = z.union([
  // Without dims the prototypes get as many dimensions as the dataset has classes.
  z.object({ strategy: z.string().min(1), dims: positiveInt.optional(), options: PluginOptionsSchema.default({}) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);

export const ExperimentSpecSchema = z
  .object({
    seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    dataset: PluginRefSchema,
    head: PluginRefSchema,
    prototypes: PrototypeSourceSchema.optional(),
    trainer: TrainerSettingsSchema.default(TrainerSettingsSchema.parse({})),
    /** Engine by name, with its options; when absent the available engine with the highest priority runs. */
    engine: EngineRefSchema.optional(),
    evaluators: z.array(PluginRefSchema).default([{ name: CLASSIFICATION_EVALUATOR, options: {} }]),
  })
  .strict();

export type ExperimentSpec = z.output<typeof ExperimentSpecSchema>;
export type ExperimentSpecInput = z.input<typeof ExperimentSpecSchema>;
export type PrototypeSource = z.output<typeof PrototypeSourceSchema>;

export function parseExperimentSpec(raw: unknown, source = 'experiment spec'): ExperimentSpec {
  const result = ExperimentSpecSchema.safeParse(raw, { error: unknownKeysErrorMap('field') });
  if (result.success) return result.data;
  throw new HyperprotoError(ErrorCode.InvalidOptions, `${source}: ${formatIssues(result.error.issues)}`);
}
