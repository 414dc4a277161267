import { extname } from 'node:path';
import { z } from '@hyperproto/core';
import { unreadableAsFile } from './file-size.js';

export const FEATURE_FORMATS = ['.npy', '.csv', '.jsonl'] as const;
export type FeatureFormat = 'npy' | 'csv' | 'jsonl';

/** The format of a features file, from its extension (case-insensitive). */
export function featureFormat(path: string): FeatureFormat | undefined {
  const ext = extname(path).toLowerCase();
  return ext === '.npy' ? 'npy' : ext === '.csv' ? 'csv' : ext === '.jsonl' ? 'jsonl' : undefined;
}

const path = z.string().trim().min(1);
const fraction = z.number().min(0).lt(1);
// `--dataset-option labelColumn=4` arrives as the number 4 (the value is read as JSON), as does `"labelColumn": 4`
// in a spec: both mean the header column "4".
const columnName = z.union([z.string().min(1), z.number().int().nonnegative().transform(String)], {
  error: 'expected the name of a column, e.g. "species", or a whole number such as 4 for the column named "4"',
});

const FilesOptionsObject = z
  .object({
    data: path.describe('features (--data): .npy [N, d] float32/float64, .csv (optional header line) or .jsonl (one array per line)'),
    labels: path.optional().describe('labels of data (--labels): a .npy of integers or strings, or a text file with one label per line'),
    /**
     * The name of the CSV header column (or JSON-lines key) that holds the labels, in files given without a labels
     * file. A number names the column of that name, as pandas names the columns of an array (`0,1,2,3,4`): 4 is
     * the column named "4", never the fifth column.
     */
    labelColumn: columnName
      .optional()
      .describe('the CSV header column or JSON-lines key of the labels, without a labels file; 4 is the column named "4"'),
    validationData: path
      .optional()
      .describe('features of the validation split (--validation-data), used whole instead of validationFraction'),
    validationLabels: path.optional().describe('labels of validationData (--validation-labels), as labels is for data'),
    testData: path.optional().describe('features of the test split (--test-data), used whole instead of testFraction'),
    testLabels: path.optional().describe('labels of testData (--test-labels), as labels is for data'),
    // 0 passes for a split that comes from a file (the fraction is unused then); optionProblems refuses it otherwise.
    validationFraction: fraction
      .default(0.1)
      .describe(
        'share of each class held out for validation when validationData is not given; then above 0, and below 1 added to testFraction',
      ),
    testFraction: fraction
      .default(0.2)
      .describe(
        'share of each class held out for testing when testData is not given; then above 0, and below 1 added to validationFraction',
      ),
    classNames: z
      .union([path, z.array(z.string().trim().min(1)).min(2)])
      .optional()
      .describe('class names in class-index order: a list, or a file of one name per line or a .json array'),
  })
  .strict();

type FilesOptionsShape = z.output<typeof FilesOptionsObject>;

/**
 * The column a `labelColumn` option names, as given in a run's spec (a number there is the JSON value of
 * `--dataset-option labelColumn=4`): "4" for 4 and for "4"; undefined when it names none.
 */
export function labelColumnName(value: unknown): string | undefined {
  const parsed = columnName.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export interface OptionProblem {
  readonly path: string;
  readonly message: string;
}

// How the hyperproto command line gives each option: messages name both, for spec files and for the flags.
const FLAGS: Record<string, string> = {
  data: '--data',
  labels: '--labels',
  validationData: '--validation-data',
  validationLabels: '--validation-labels',
  testData: '--test-data',
  testLabels: '--test-labels',
};

/**
 * Options for messages, with their flags: `validationLabels (--validation-labels)`, `labelColumn (--dataset-option
 * labelColumn=NAME)`; several keys as `testData/testLabels (--test-data/--test-labels)`.
 */
export function optionName(...keys: string[]): string {
  const flags = keys.map((key) => FLAGS[key] ?? `--dataset-option ${key}=${key === 'labelColumn' ? 'NAME' : '...'}`);
  return `${keys.join('/')} (${flags.join('/')})`;
}

const ROLES = [
  { data: 'data', labels: 'labels' },
  { data: 'validationData', labels: 'validationLabels' },
  { data: 'testData', labels: 'testLabels' },
] as const;

/** What is wrong with a combination of options (each option alone is checked by the schema). */
export function optionProblems(options: FilesOptionsShape): OptionProblem[] {
  const problems: OptionProblem[] = [];
  let labelColumnUsed = false;
  for (const role of ROLES) {
    const data = options[role.data];
    const labels = options[role.labels];
    if (data === undefined) {
      if (labels !== undefined)
        problems.push({
          path: role.labels,
          message: `${optionName(role.labels)} is given without ${optionName(role.data)}; give the features file too`,
        });
      continue;
    }
    const format = featureFormat(data);
    if (!format) {
      // A directory (or a file that cannot be read) is E_IO when the files are looked at, as with a known extension.
      if (unreadableAsFile(data)) {
        // Whether its label column is used is for the file to say; the file check reports the path first.
        if (options.labelColumn !== undefined) labelColumnUsed = true;
        continue;
      }
      problems.push({
        path: role.data,
        message: `${data}: unknown features type "${extname(data) || '(none)'}"; use ${FEATURE_FORMATS.join(', ')}`,
      });
      continue;
    }
    if (labels !== undefined) continue;
    if (options.labelColumn !== undefined && format !== 'npy') {
      labelColumnUsed = true;
      continue;
    }
    const how =
      format === 'npy'
        ? 'a .npy file has no label column'
        : `or set ${optionName('labelColumn')} to the ${format === 'csv' ? 'header column' : 'key'} that holds them`;
    problems.push({
      path: role.labels,
      message: `${data} needs labels: give ${optionName(role.labels)}, a .npy of integers or a text file with one label per line; ${how}`,
    });
  }
  if (options.labelColumn !== undefined && !labelColumnUsed) {
    const labelsFiles = ROLES.filter((role) => options[role.labels] !== undefined).map((role) => FLAGS[role.labels]!);
    const message =
      labelsFiles.length === 0
        ? 'a .npy features file has no label column'
        : `every features file has its own labels file (${labelsFiles.join(', ')}) or is a .npy; give either ${labelsFiles[0]} or labelColumn, not both`;
    problems.push({ path: 'labelColumn', message: `${optionName('labelColumn')} is not used: ${message}` });
  }

  // Only the fractions of splits that are not given as files are used.
  const used: [string, number][] = [];
  if (options.validationData === undefined) used.push(['validationFraction', options.validationFraction]);
  if (options.testData === undefined) used.push(['testFraction', options.testFraction]);
  for (const [name, value] of used) {
    const split = name === 'validationFraction' ? 'validation' : 'test';
    if (value === 0)
      problems.push({
        path: name,
        message: `${name} is 0, which leaves the ${split} split empty; give a fraction above 0 or ${optionName(`${split}Data`)}`,
      });
  }
  const sum = used.reduce((total, [, value]) => total + value, 0);
  if (used.length === 2 && sum >= 1) {
    problems.push({
      path: 'testFraction',
      message: `validationFraction + testFraction is ${sum}, which leaves no training rows; keep the sum below 1`,
    });
  }
  if (Array.isArray(options.classNames)) {
    const seen = new Set<string>();
    for (const name of options.classNames) {
      if (seen.has(name))
        problems.push({ path: 'classNames', message: `class name ${JSON.stringify(name)} appears twice; class names must be distinct` });
      seen.add(name);
    }
  }
  return problems;
}

export const FilesOptionsSchema = FilesOptionsObject.superRefine((options, ctx) => {
  for (const problem of optionProblems(options)) ctx.addIssue({ code: 'custom', path: [problem.path], message: problem.message });
});

/** Options after validation, as the plugin receives them. */
export type FilesOptions = z.output<typeof FilesOptionsSchema>;
/** Options as written in a spec (defaults may be left out). */
export type FilesOptionsInput = z.input<typeof FilesOptionsSchema>;
