import type { Dataset, DatasetDescription, DatasetInput, DatasetSplit, PluginContext } from '@hyperproto/core';
import { createMatrix } from '@hyperproto/core';
import { readCsvFeatures, readLabelsFromColumn, shorten } from './csv-features.js';
import { columnNamesDifference } from './column-names.js';
import { checkHeldOutClasses, indexClasses, lookAlikeClassesWarning, type ClassIndex } from './class-index.js';
import { readClassNames } from './class-names.js';
import { wholeFilePlacement, type FeatureTable } from './feature-table.js';
import { badData, badOptions, count } from './file-errors.js';
import { fingerprintInputs, heldOutIsDataWarning, validationIsTestWarning } from './file-fingerprints.js';
import { fileSize } from './file-size.js';
import { featureFormat, optionProblems, type FilesOptions } from './files-options.js';
import { readJsonlFeatures } from './jsonl-features.js';
import { labelValuedColumn } from './label-leak.js';
import type { LabelValues } from './label-values.js';
import { openNpyFeatures } from './npy-features.js';
import { readNpyLabels } from './npy-labels.js';
import { splitShareWarning, stratifiedSplit, TEST, TRAIN, VALIDATION, type StratifiedSplit } from './stratified-split.js';
import { readTextLabels } from './text-labels.js';
import type { LineHooks } from './text-lines.js';
import { WorkPacer } from './work-pacer.js';

type Role = 'data' | 'validationData' | 'testData';
const FILE_OPTIONS = ['data', 'labels', 'validationData', 'validationLabels', 'testData', 'testLabels'] as const;
type FileOption = (typeof FILE_OPTIONS)[number];

/** One features file and its labels, read and checked against each other. */
interface Part {
  readonly role: Role;
  readonly table: FeatureTable;
  readonly labels: LabelValues;
  /** How `info.files` names where the labels came from. */
  readonly labelsFrom: string;
}

/**
 * Reads the dataset the options describe. Everything that can be refused is refused before the bulk copy: the
 * .npy headers, every label, the class list and the per-class split sizes are checked first, and only then
 * are the features copied, once, into the arrays of the splits.
 */
export async function loadFilesDataset(ctx: PluginContext, options: FilesOptions): Promise<Dataset> {
  checkOptions(options);
  const pacer = new WorkPacer(ctx.signal, 'reading the dataset files');
  pacer.check();

  // Every path is looked at first, so that a wrong path fails at once; the sizes drive the progress bar.
  const sizes = await fileSizes(options);
  const total = [...sizes.values()].reduce((sum, size) => sum + size, 0);
  let done = 0;
  const progress = (key: FileOption) => {
    const before = done;
    return (bytes: number) => ctx.progress?.(before + bytes, total, `reading ${options[key]}`);
  };
  const counted = new Set<FileOption>();
  const finished = (key: FileOption) => {
    // Once per file: a text file is counted when parsed, a .npy file when copied.
    if (counted.has(key)) return;
    counted.add(key);
    done += sizes.get(key) ?? 0;
    ctx.progress?.(done, total, `read ${options[key]}`);
  };

  const opened: FeatureTable[] = [];
  try {
    const { parts, index, classNamesSource } = await readLabelledFiles(options, pacer, { onBytes: progress, finished }, opened);
    const main = parts[0]!;
    const mainLabels = index.labels[0]!;
    // Each a single message per load, for what reads fine but likely misleads.
    const warn = (warning: string | undefined) => {
      if (warning !== undefined) ctx.log?.(warning);
    };
    warn(
      lookAlikeClassesWarning(
        index,
        parts.map((part) => part.labels),
      ),
    );
    const fractions = {
      validation: options.validationData === undefined ? options.validationFraction : undefined,
      test: options.testData === undefined ? options.testFraction : undefined,
    };
    const split = await stratifiedSplit(mainLabels, index.classes, fractions, ctx.rng.fork('files-split'), pacer, (c, rows) =>
      describeClass(index, c, rows, main, mainLabels),
    );
    warn(splitShareWarning(split, fractions, main.table.path));

    pacer.check();
    const cols = main.table.cols;
    const fromFile = (role: Role) => parts.find((part) => part.role === role);
    const validationPart = fromFile('validationData');
    const testPart = fromFile('testData');
    const outputs = [
      allocate(split.sizes[TRAIN], cols, 'train'),
      allocate(validationPart?.table.rows ?? split.sizes[VALIDATION], cols, 'validation'),
      allocate(testPart?.table.rows ?? split.sizes[TEST], cols, 'test'),
    ] as const;

    const placement = { splitOf: split.splitOf, slotOf: split.slotOf, outputs };
    await main.table.copyInto(placement, pacer, progress('data'));
    finished('data');
    // A labels file beside a column of the same numbers: the label column was left among the features.
    if (options.labels !== undefined) {
      const column = labelValuedColumn(main.labels, placement, cols);
      if (column !== undefined) warn(labelColumnWarning(main, column));
    }
    for (const [part, output] of [
      [validationPart, outputs[VALIDATION]],
      [testPart, outputs[TEST]],
    ] as const) {
      if (!part) continue;
      await part.table.copyInto(wholeFilePlacement(part.table.rows, output), pacer, progress(part.role));
      finished(part.role);
    }

    const labelsOf = (which: number) => splitLabels(mainLabels, split, which);
    const partLabels = (part: Part | undefined, which: number) => (part ? index.labels[parts.indexOf(part)]! : labelsOf(which));
    const splits = {
      train: { features: createMatrix(split.sizes[TRAIN], cols, outputs[TRAIN]), labels: labelsOf(TRAIN) },
      validation: {
        features: createMatrix(outputs[VALIDATION].length / cols, cols, outputs[VALIDATION]),
        labels: partLabels(validationPart, VALIDATION),
      },
      test: { features: createMatrix(outputs[TEST].length / cols, cols, outputs[TEST]), labels: partLabels(testPart, TEST) },
    };
    // Right after reading, while the files are in the page cache: the record then says which bytes it came from.
    const inputs = await fingerprintInputs(options, pacer);
    warn(heldOutIsDataWarning(inputs, options));
    warn(validationIsTestWarning(inputs, options));
    return {
      classes: index.classes,
      inputWidth: cols,
      ...(index.classNames ? { classNames: index.classNames } : {}),
      // Every name, however wide the file: `info` lists them only while short. Column positions name nothing.
      ...(main.table.header === 'names' ? { featureNames: main.table.columnNames! } : {}),
      ...splits,
      info: describeDataset(options, index, parts, splits, classNamesSource, inputs),
    };
  } finally {
    await Promise.all(opened.map((table) => table.release()));
  }
}

/**
 * What {@link loadFilesDataset} will give for these options, learned by reading the files exactly as it reads them,
 * up to the labels: the class count and the feature width, and the same refusals of labels that do not pair with
 * their rows or make no classes. A CSV or JSON-lines file is parsed whole once; of a .npy features file only the
 * header is read. Nothing is split or copied.
 */
export async function inspectFilesDataset(options: FilesOptions): Promise<DatasetDescription> {
  checkOptions(options);
  await fileSizes(options);
  const opened: FeatureTable[] = [];
  try {
    const pacer = new WorkPacer(undefined, 'reading the dataset files');
    const { parts, index } = await readLabelledFiles(options, pacer, { onBytes: () => () => {}, finished: () => {} }, opened);
    return { classes: index.classes, inputWidth: parts[0]!.table.cols };
  } finally {
    await Promise.all(opened.map((table) => table.release()));
  }
}

/**
 * The size of every file the options name, in their order: E_IO for the first that is missing, a directory, a pipe
 * or a device (a features path of any name: see `unreadableAsFile`), before anything is read.
 */
async function fileSizes(options: FilesOptions): Promise<Map<FileOption, number>> {
  const sizes = new Map<FileOption, number>();
  for (const key of FILE_OPTIONS) {
    const path = options[key];
    if (path !== undefined) sizes.set(key, await fileSize(path));
  }
  return sizes;
}

function checkOptions(options: FilesOptions): void {
  const problems = optionProblems(options);
  if (problems.length > 0) throw badOptions(problems.map((problem) => `${problem.path}: ${problem.message}`).join('; '));
}

/** How reading reports the bytes of each file it reads (a progress bar); the inspection reports none. */
interface ReadProgress {
  readonly onBytes: (key: FileOption) => (bytes: number) => void;
  /** Called once a file's bytes are all read. */
  readonly finished: (key: FileOption) => void;
}

/** Every file opened and every label read, checked and turned into class indices: what the split and copy start from. */
interface LabelledFiles {
  readonly parts: readonly Part[];
  readonly index: ClassIndex;
  /** Where the class names came from (`classNames` or a file), when given. */
  readonly classNamesSource: string | undefined;
}

/**
 * Opens every feature file (a text file is parsed, a .npy file only read to its header) and reads every label,
 * refusing labels that do not pair with their rows, a held-out label of no training class, and a single class. The
 * one reading of the labels, for `generate` and for `inspect` alike, so both count the same classes. Each table is
 * pushed on `opened` as it opens: the caller releases them, also when this throws.
 */
async function readLabelledFiles(
  options: FilesOptions,
  pacer: WorkPacer,
  progress: ReadProgress,
  opened: FeatureTable[],
): Promise<LabelledFiles> {
  const classNames = await readClassNames(options.classNames);
  const parts: Part[] = [];
  for (const [role, labelsKey] of [
    ['data', 'labels'],
    ['validationData', 'validationLabels'],
    ['testData', 'testLabels'],
  ] as const) {
    const path = options[role];
    if (path === undefined) continue;
    const labelsPath = options[labelsKey];
    const table = await openFeatures(path, labelsPath === undefined ? options.labelColumn : undefined, labelsPath, {
      pacer,
      onBytes: progress.onBytes(role),
    });
    opened.push(table);
    // Text files are parsed as they are read; a .npy file is read when it is copied.
    if (table.format !== 'npy') progress.finished(role);
    let labels = table.labels;
    if (labelsPath !== undefined) {
      labels = await readLabelsFile(labelsPath, { pacer, onBytes: progress.onBytes(labelsKey) });
      progress.finished(labelsKey);
    }
    // Options were checked: a file without its own labels file reads them from labelColumn.
    const part: Part = { role, table, labels: labels!, labelsFrom: labelsPath ?? labels!.source };
    checkPart(part, parts[0]?.table ?? table);
    parts.push(part);
    pacer.check();
  }

  const index = indexClasses(
    parts.map((part) => part.labels),
    classNames,
  );
  checkHeldOutClasses(
    parts.map((part) => part.labels),
    index,
  );
  const main = parts[0]!;
  if (index.classes < 2) {
    throw badData(
      `${main.labelsFrom} holds a single class (${JSON.stringify(main.labels.distinct[0])}); a classifier needs at least 2 classes`,
    );
  }
  return { parts, index, classNamesSource: classNames?.source };
}

/**
 * The labels of a labels file, as `labels`, `validationLabels` and `testLabels` are read (and `predict --labels`):
 * a .npy array, else a text file with one label per line.
 */
export function readLabelsFile(
  path: string,
  hooks: LineHooks = { pacer: new WorkPacer(undefined, `reading ${path}`) },
): Promise<LabelValues> {
  return path.toLowerCase().endsWith('.npy') ? readNpyLabels(path, hooks.pacer) : readTextLabels(path, hooks);
}

function openFeatures(
  path: string,
  labelColumn: string | undefined,
  labelsPath: string | undefined,
  hooks: LineHooks,
): Promise<FeatureTable> {
  const format = featureFormat(path);
  if (format === 'npy') return openNpyFeatures(path);
  if (format === 'csv') return readCsvFeatures(path, { labelColumn, ...(labelsPath === undefined ? {} : { labelsPath }), hooks });
  return readJsonlFeatures(path, { labelColumn, hooks });
}

/** What {@link checkLabelCount} reads of a feature file: its rows, and what messages name them and its first line by. */
export type LabelledRows = Pick<FeatureTable, 'path' | 'format' | 'rows' | 'header' | 'columnNames' | 'lastLine'>;

/**
 * Labels and rows must pair up one to one: a labels file of a split, or `predict --labels` for its --input. The
 * message names the first row without a label (or label without a row), and why a header may be the cause.
 */
export function checkLabelCount(labels: LabelValues, table: LabelledRows): void {
  const rowAt = (row: number) => (table.lastLine === undefined ? `row ${row + 1}` : `line ${table.lastLine - (table.rows - 1 - row)}`);
  if (labels.count > table.rows) {
    throw badData(
      `${labels.source} has ${count(labels.count, 'label')} but ${table.path} has ${count(table.rows, 'row')}: ${labels.source} ${labels.unit} ${table.rows + 1} has no feature row; give exactly one label per row, in the same order${oneLabelMore(table, labels)}`,
    );
  }
  if (labels.count < table.rows) {
    throw badData(
      `${table.path} has ${count(table.rows, 'row')} but ${labels.source} has only ${count(labels.count, 'label')}: ${table.path} ${rowAt(labels.count)} has no label; give exactly one label per row, in the same order${oneRowMore(table, labels)}`,
    );
  }
}

/**
 * Labels and rows must pair up one to one, and every split file must have the columns of `data`: as many, and
 * the same names in the same order when both files name them (a file without a header is matched by position).
 */
function checkPart({ table, labels }: Part, main: FeatureTable): void {
  checkLabelCount(labels, table);
  if (table === main) return;
  // Column positions say nothing about what a column holds: only names are compared.
  const difference =
    table.header === 'names' && main.header === 'names'
      ? columnNamesDifference(table.columnNames!, main.columnNames!, table.path, main.path)
      : undefined;
  if (table.cols !== main.cols) {
    // With names on both sides, the columns that differ are named, not only counted.
    throw badData(
      `${table.path} has ${count(table.cols, 'feature')} per row but ${main.path} has ${main.cols}${difference ? ` (${difference.text})` : ''}; every split must have the same columns`,
    );
  }
  if (difference?.kind === 'order')
    throw badData(
      `${difference.text}; write the columns in the order of ${main.path} (in pandas: df[columns_of_data].to_csv(path, index=False))`,
    );
  if (difference) throw badData(`${difference.text}; every split must have the columns of ${main.path}, in the same order`);
}

/** Why the labels may be one more than the rows: a first line taken as a header of column positions, or a header in the labels. */
function oneLabelMore(table: LabelledRows, labels: LabelValues): string {
  if (labels.count !== table.rows + 1 || labels.unit !== 'line') return '';
  const labelsHeader = `if ${labels.source} line ${labels.firstAt[0]} (${JSON.stringify(shorten(labels.distinct[0]!))}) is a header, remove it`;
  if (table.header !== 'column positions') return ` (${labelsHeader})`;
  return ` (${table.path} line 1 (${JSON.stringify(shorten(table.columnNames!.join(',')))}) was read as a header of column positions, as pandas writes them: if it is a row of data, add a header line naming the columns above it; ${labelsHeader})`;
}

/** Why the rows may be one more than the labels: a header line of numbers, read as data. */
function oneRowMore(table: LabelledRows, labels: LabelValues): string {
  if (table.rows !== labels.count + 1 || table.format !== 'csv' || table.header) return '';
  return ` (if ${table.path} line 1 is a header, its names must not be numbers other than the column positions 0, 1, 2, ...: it was read as a row of data)`;
}

function describeClass(index: ClassIndex, c: number, rows: number, main: Part, labels: Int32Array): string {
  const name = index.classNames ? `class ${JSON.stringify(index.classNames[c])}` : `class ${c}`;
  if (rows === 0) return `${name} has no rows in ${main.table.path}${index.classNames ? ` (it is in the class names at index ${c})` : ''}`;
  const first = labels.indexOf(c);
  return `${name} has only ${rows} row${rows === 1 ? '' : 's'} in ${main.table.path} (first at ${main.labels.where(main.labels.rowCodes()[first]!)})`;
}

/** What to say of feature `column` of the training file when it holds the label of every row (see `labelValuedColumn`). */
function labelColumnWarning({ table, labelsFrom }: Part, column: number): string {
  const name = table.columnNames?.[column];
  const where = `${table.path} column ${column + 1}${name === undefined ? '' : ` (${JSON.stringify(shorten(name))})`}`;
  const fix =
    name === undefined
      ? 'drop the column'
      : `drop the column, or read the labels from it with ${readLabelsFromColumn(name)} instead of ${labelsFrom}`;
  return `warning: ${where} holds the label of ${labelsFrom} on every row: the labels are likely among the features, and a model that reads them there has nothing to read on new rows; ${fix}`;
}

function allocate(rows: number, cols: number, split: string): Float32Array {
  try {
    return new Float32Array(rows * cols);
  } catch {
    throw badData(
      `the ${split} split of ${rows} rows x ${cols} features (${((rows * cols * 4) / 2 ** 30).toFixed(1)} GiB) cannot be allocated; use fewer rows or features, or give Node.js more memory`,
    );
  }
}

function splitLabels(labels: Int32Array, split: StratifiedSplit, which: number): Int32Array {
  const out = new Int32Array(split.sizes[which as 0 | 1 | 2]);
  for (let row = 0; row < labels.length; row++) if (split.splitOf[row] === which) out[split.slotOf[row]!] = labels[row]!;
  return out;
}

function countPerClass(labels: Int32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const label of labels) counts[label]!++;
  return counts;
}

function describeDataset(
  options: FilesOptions,
  index: ClassIndex,
  parts: readonly Part[],
  splits: Record<'train' | 'validation' | 'test', DatasetSplit>,
  classNamesSource: string | undefined,
  inputs: readonly DatasetInput[],
): Record<string, unknown> {
  const files: Record<string, string> = {};
  for (const part of parts) {
    files[part.role] = part.table.path;
    files[part.role === 'data' ? 'labels' : part.role.replace('Data', 'Labels')] = part.labelsFrom;
  }
  if (classNamesSource && classNamesSource !== 'classNames') files.classNames = classNamesSource;
  const main = parts[0]!.table;
  return {
    generator: 'files',
    classes: index.classes,
    inputWidth: main.cols,
    labels: index.labelKind,
    files,
    formats: Object.fromEntries(parts.map((part) => [part.role, part.table.format])),
    // What the first line of a CSV data file was read as: a header of column positions may have been a data row.
    ...(main.format === 'csv' ? { header: main.header ?? 'none' } : {}),
    // Lists stay in the record only while short: info is copied into every run record and metrics.json.
    ...(main.columnNames
      ? main.columnNames.length <= LISTED_UP_TO
        ? { columns: main.columnNames }
        : { columnCount: main.columnNames.length }
      : {}),
    splitFrom: {
      validation: options.validationData === undefined ? `validationFraction ${options.validationFraction} of data` : 'validationData',
      test: options.testData === undefined ? `testFraction ${options.testFraction} of data` : 'testData',
    },
    rows: { train: splits.train.labels.length, validation: splits.validation.labels.length, test: splits.test.labels.length },
    perClass: {
      train: listOrRange(countPerClass(splits.train.labels, index.classes)),
      validation: listOrRange(countPerClass(splits.validation.labels, index.classes)),
      test: listOrRange(countPerClass(splits.test.labels, index.classes)),
    },
    // Absolute paths, sizes and SHA-256 of the files read: what `--resume` compares with the files of today.
    inputs,
  };
}

const LISTED_UP_TO = 100;

/** Per-class counts as a list for up to LISTED_UP_TO classes, else their smallest and largest. */
function listOrRange(counts: readonly number[]): readonly number[] | { readonly min: number; readonly max: number } {
  if (counts.length <= LISTED_UP_TO) return counts;
  return { min: counts.reduce((a, b) => Math.min(a, b)), max: counts.reduce((a, b) => Math.max(a, b)) };
}
