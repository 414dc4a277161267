// The flags that choose and shape a dataset, shared by `train` and `data inspect`: one definition, one reading.
import { ErrorCode, HyperprotoError, type Registry } from '@hyperproto/core';
import type { Command } from 'commander';
import { collect, dropUndefined, keyValueOptions, mergeFlagOptions } from './key-values.js';
import { readPluginOptions } from './plugin-options.js';

/** The dataset flags; each but --dataset is the dataset option of the same name (`--test-data` is `testData`). */
export interface DatasetFlags {
  readonly dataset?: string;
  readonly datasetOption?: readonly string[];
  readonly classes?: number;
  readonly sigma?: number;
  readonly trainPerClass?: number;
  readonly validationPerClass?: number;
  readonly testPerClass?: number;
  readonly data?: string;
  readonly labels?: string;
  readonly testData?: string;
  readonly testLabels?: string;
  readonly validationData?: string;
  readonly validationLabels?: string;
}

const GENERATOR_FLAGS = {
  classes: '--classes',
  sigma: '--sigma',
  trainPerClass: '--train-per-class',
  validationPerClass: '--validation-per-class',
  testPerClass: '--test-per-class',
} as const;

const FILE_FLAGS = {
  data: '--data',
  labels: '--labels',
  testData: '--test-data',
  testLabels: '--test-labels',
  validationData: '--validation-data',
  validationLabels: '--validation-labels',
} as const;

/** Adds the dataset flags to a command; the parsers validate the numbers (see main.ts). */
export function withDatasetFlags(
  command: Command,
  parse: { integer: (min: number, max?: number) => (value: string) => number; positive: (value: string) => number },
): Command {
  return command
    .option(
      '--dataset <name>',
      "dataset plugin: gaussian (the seed's data), files (your own), or a plugin's (default: files when --data is given, else gaussian)",
    )
    .option('--dataset-option <key=value>', 'an option of the dataset (repeatable), e.g. validationFraction=0.2', collect)
    .option('--classes <n>', 'gaussian: number of classes, 2 or more (files count their own)', parse.integer(2))
    .option('--sigma <s>', "gaussian: noise standard deviation (default: the seed's Table 1 for 10, 100, 1000 classes)", parse.positive)
    .option('--train-per-class <n>', 'gaussian: training samples per class (default: 500)', parse.integer(1))
    .option('--validation-per-class <n>', 'gaussian: validation samples per class (default: 100)', parse.integer(1))
    .option('--test-per-class <n>', 'gaussian: test samples per class (default: 200)', parse.integer(1))
    .option('--data <file>', 'files dataset: features, .npy [N, d], .csv or .jsonl')
    .option(
      '--labels <file>',
      'files dataset: labels, .npy of integers or one label per line (or --dataset-option labelColumn=NAME: a CSV column or JSON-lines key of --data)',
    )
    .option('--test-data <file>', 'files dataset: test features (default: a stratified share of --data)')
    .option('--test-labels <file>', 'files dataset: test labels')
    .option('--validation-data <file>', 'files dataset: validation features (default: a stratified share of --data)')
    .option('--validation-labels <file>', 'files dataset: validation labels');
}

/**
 * The dataset plugin and its options from the flags; `--dataset-option key=value` and a flag of the same name with
 * another value are refused (see mergeFlagOptions). The built-in datasets' flags are checked here, in the command
 * line's words: a flag that belongs to the other dataset, or a missing --classes / --data, is named before any plugin
 * sees the options; so is a flag that a plugin dataset (of `registry`) has no option for.
 */
export function datasetFromFlags(flags: DatasetFlags, registry: Registry): { name: string; options: Record<string, unknown> } {
  const given = (names: Record<string, string>) =>
    Object.entries(names)
      .filter(([key]) => flags[key as keyof DatasetFlags] !== undefined)
      .map(([, flag]) => flag);
  const fileFlags = given(FILE_FLAGS);
  const generatorFlags = given(GENERATOR_FLAGS);
  const name = flags.dataset ?? (fileFlags.length > 0 ? 'files' : 'gaussian');
  const flagNames: Record<string, string> = { ...GENERATOR_FLAGS, ...FILE_FLAGS };
  const flagOptions = dropUndefined(Object.fromEntries(Object.keys(flagNames).map((key) => [key, flags[key as keyof DatasetFlags]])));
  const options = mergeFlagOptions(
    { options: flagOptions, written: (key) => `${flagNames[key]} ${String(flagOptions[key])}` },
    keyValueOptions(flags.datasetOption, '--dataset-option'),
  );
  const refuse = (message: string, hint: string) => {
    throw new HyperprotoError(ErrorCode.InvalidOptions, message, { hint });
  };
  if (name === 'gaussian') {
    if (fileFlags.length > 0) {
      refuse(
        `${fileFlags.join(', ')} ${fileFlags.length > 1 ? 'are' : 'is'} for --dataset files; the gaussian dataset makes its own data`,
        'Drop --dataset gaussian to train on your files (--data selects the files dataset).',
      );
    }
    if (options.classes === undefined) {
      refuse(
        'the gaussian dataset needs --classes N',
        'Give --classes (e.g. --classes 10), or your own data with --data FILE --labels FILE.',
      );
    }
  }
  if (name === 'files') {
    if (generatorFlags.length > 0) {
      refuse(
        `${generatorFlags.join(', ')} ${generatorFlags.length > 1 ? 'are' : 'is'} for the gaussian dataset; the files dataset reads its classes and rows from --data and --labels`,
        `Drop ${generatorFlags.join(', ')}.`,
      );
    }
    if (options.data === undefined) {
      refuse(
        '--dataset files needs --data FILE (features: .npy, .csv or .jsonl)',
        'Give --data FILE and --labels FILE (or --dataset-option labelColumn=NAME for a CSV column).',
      );
    }
  }
  if (name !== 'gaussian' && name !== 'files') refuseForeignFlags(name, registry, flags);
  return { name, options };
}

/**
 * A plugin dataset takes --classes, --data and the like as its options of the same name (the `new plugin` template's
 * dataset has `classes` and `trainPerClass`); a flag it has no option for would otherwise be refused by the plugin
 * under the option's key (`sigma`), or dropped unseen by a schema that strips unknown keys.
 */
function refuseForeignFlags(name: string, registry: Registry, flags: DatasetFlags): void {
  // An unknown name is left to the registry, which suggests the closest one.
  if (!registry.has('dataset', name)) return;
  const declared = readPluginOptions(registry.get('dataset', name).options);
  if (declared === undefined || declared.otherKeys) return;
  const keys = new Set(declared.options.map((option) => option.name));
  const foreign = (owner: string, names: Record<string, string>) =>
    Object.entries(names)
      .filter(([key]) => flags[key as keyof DatasetFlags] !== undefined && !keys.has(key))
      .map(([, flag]) => ({ flag, owner }));
  const refused = [...foreign('gaussian', GENERATOR_FLAGS), ...foreign('files', FILE_FLAGS)];
  if (refused.length === 0) return;
  const list = refused.map(({ flag }) => flag).join(', ');
  const owners = [...new Set(refused.map(({ owner }) => owner))];
  throw new HyperprotoError(
    ErrorCode.InvalidOptions,
    `--dataset ${name} has no option for ${list}: ${refused.length > 1 ? 'those flags are' : 'that flag is'} for the ${owners.join(' and ')} dataset${owners.length > 1 ? 's' : ''}`,
    {
      hint: `Drop ${list}, and give ${name}'s own options as --dataset-option key=value (\`hyperproto plugins --kind dataset\`, with the same --plugin and --config, lists them).`,
    },
  );
}
