import { callPlugin, ErrorCode, HyperprotoError, resolveOptions, type DatasetInput, type Registry } from '@hyperproto/core';
import { canonicalJson } from './grid-difference.js';
import type { Grid } from './grid-schema.js';
import type { RunRecord } from './run-record.js';

/**
 * The fingerprints of the files a run's data came from (`data.inputs` of its record, as a dataset with an `inputs`
 * hook records them); undefined for a record written before they were recorded, or one whose list is malformed.
 */
export function recordedInputs(data: unknown): readonly DatasetInput[] | undefined {
  const inputs = (data as { inputs?: unknown } | null | undefined)?.inputs;
  return isInputList(inputs) ? inputs : undefined;
}

function isInputList(value: unknown): value is readonly DatasetInput[] {
  return (
    Array.isArray(value) &&
    value.every(
      (input) =>
        typeof input === 'object' &&
        input !== null &&
        typeof input.option === 'string' &&
        typeof input.path === 'string' &&
        Number.isInteger(input.bytes) &&
        typeof input.sha256 === 'string',
    )
  );
}

/**
 * The fingerprints of the files `dataset` (a grid's dataset entry, or a run spec's) reads, as its `inputs` hook takes
 * them now; undefined for a dataset without the hook (its data comes from no file). A file that is missing or
 * unreadable throws the dataset's own error.
 */
export async function datasetInputs(
  registry: Registry,
  dataset: { readonly name: string; readonly options?: unknown },
): Promise<readonly DatasetInput[] | undefined> {
  const plugin = registry.get('dataset', dataset.name);
  if (typeof plugin.inputs !== 'function') return undefined;
  const inputs = await callPlugin(plugin, 'inputs', resolveOptions(plugin, dataset.options));
  if (!isInputList(inputs)) {
    throw new HyperprotoError(ErrorCode.InvalidPlugin, `dataset:${plugin.name} inputs returned ${JSON.stringify(inputs)}`, {
      hint: 'inputs(options) must resolve to a list of { option, path, bytes, sha256 }.',
    });
  }
  return inputs;
}

/** One file whose data differs between two reads of a dataset's files, matched by the option naming it. */
export interface InputChange {
  readonly option: string;
  /** The file as the reference read had it; absent: that read had no file under this option. */
  readonly expected?: DatasetInput;
  /** The file as the other read has it; absent: it has no file under this option. */
  readonly actual?: DatasetInput;
  /** What differs where both read a file: `path` (when it moved too), `size` (when it did), and always `content`. */
  readonly what: readonly ('path' | 'size' | 'content')[];
}

export interface InputComparison {
  /** Files of other data: results of the two reads would be of different data. */
  readonly changed: readonly InputChange[];
  /** Files with the same content at another path: the same data. */
  readonly moved: readonly { readonly option: string; readonly expected: DatasetInput; readonly actual: DatasetInput }[];
}

/**
 * The rule for whether two reads of a dataset's files (e.g. finished runs' and now, or a coordinator's and a
 * worker's) read the same data: each file is matched by the option naming it and compared by size and SHA-256. The
 * path does not matter: the same content elsewhere is the same data.
 */
export function compareInputs(expected: readonly DatasetInput[], actual: readonly DatasetInput[]): InputComparison {
  const changed: InputChange[] = [];
  const moved: { option: string; expected: DatasetInput; actual: DatasetInput }[] = [];
  for (const was of expected) {
    const is = actual.find((input) => input.option === was.option);
    if (!is) changed.push({ option: was.option, expected: was, what: ['content'] });
    else if (was.bytes === is.bytes && was.sha256 === is.sha256) {
      if (was.path !== is.path) moved.push({ option: was.option, expected: was, actual: is });
    } else {
      const what = [...(was.path === is.path ? [] : ['path' as const]), ...(was.bytes === is.bytes ? [] : ['size' as const])];
      changed.push({ option: was.option, expected: was, actual: is, what: [...what, 'content'] });
    }
  }
  for (const is of actual) {
    if (!expected.some((was) => was.option === is.option)) changed.push({ option: is.option, actual: is, what: ['content'] });
  }
  return { changed, moved };
}

/**
 * One file of `compareInputs`' `changed` in words, each read named by where it was made (`names`, e.g. `now` and
 * `when 2 finished runs read it`, or `on this worker` and `on the coordinator`):
 * `/b/points.csv is 272 bytes, sha256 0123456789ab on this worker, 270 bytes, sha256 ba9876543210 on the coordinator
 * at /a/points.csv (size, content)`.
 */
export function describeChange(
  { expected, actual, what }: InputChange,
  names: { readonly expected: string; readonly actual: string },
): string {
  if (!actual) return `${expected!.path} (${describeInput(expected!)}) ${names.expected}, no file under this option ${names.actual}`;
  if (!expected) return `${actual.path} (${describeInput(actual)}) ${names.actual}, no file under this option ${names.expected}`;
  const where = expected.path === actual.path ? '' : ` at ${expected.path}`;
  const differs = what.filter((w) => w !== 'path').join(', ');
  return `${actual.path} is ${describeInput(actual)} ${names.actual}, ${describeInput(expected)} ${names.expected}${where} (${differs})`;
}

/** A file's fingerprint as messages show it: `2 bytes, sha256 0123456789ab`. */
export function describeInput(input: DatasetInput): string {
  return `${input.bytes} bytes, sha256 ${input.sha256.slice(0, 12)}`;
}

export interface InputsCheck {
  readonly registry: Registry;
  readonly grid: Grid;
  /** The finished runs' records. */
  readonly records: readonly RunRecord[];
  /** Ids of the datasets this session will run more runs of: only their files matter now. */
  readonly datasets: ReadonlySet<string>;
  /** The results directory, as the user named it. */
  readonly target: string;
  readonly log: (message: string) => void;
}

/**
 * Reads the fingerprints of the files of every dataset with runs to come, so that a missing or unreadable file
 * stops the grid before its first run (the dataset's own error), and refuses (E_INVALID_OPTIONS, before any run) to
 * add runs of a dataset whose files differ from those its finished runs read (`compareInputs`): the report would
 * average results of different data in one cell. A file that only moved (same content at another path) is kept,
 * with a note. Records without fingerprints (written before they were recorded) cannot be checked: a note says so.
 * Resolves to what it read, by dataset id (datasets that read no file left out): the session hands it to its
 * scheduler, so that a queue sends the workers these fingerprints without hashing every file a second time.
 */
export async function checkUnchangedInputs(check: InputsCheck): Promise<Readonly<Record<string, readonly DatasetInput[]>>> {
  const problems: string[] = [];
  const notes: string[] = [];
  const unchecked: string[] = [];
  const read: Record<string, readonly DatasetInput[]> = {};
  for (const entry of check.grid.datasets) {
    if (!check.datasets.has(entry.id)) continue;
    // Asked even without finished runs: a file that is missing or unreadable stops the grid before its first run.
    const now = await datasetInputs(check.registry, entry);
    if (!now) continue;
    read[entry.id] = now;
    const { lists, without, finished } = inputsReadBefore(check.records, entry.id);
    if (without > 0) unchecked.push(`"${entry.id}" (${without} of ${finished})`);
    for (const { inputs, runs } of lists) {
      const { changed, moved } = compareInputs(inputs, now);
      for (const { option, expected, actual } of moved) {
        notes.push(
          `dataset "${entry.id}" ${option} is now read from ${actual.path}; ${runsRead(runs)} read ${expected.path}, with the same content`,
        );
      }
      problems.push(...changeLines(entry.id, changed, runs));
    }
  }
  if (unchecked.length > 0) {
    check.log(
      `note: some finished runs of dataset ${unchecked.join(', ')} were recorded without fingerprints of their files, so their data cannot be checked against the files now`,
    );
  }
  for (const note of new Set(notes)) check.log(`note: ${note}`);
  if (problems.length === 0) return read;
  throw new HyperprotoError(
    ErrorCode.InvalidOptions,
    `${check.target} holds finished runs that read other data than the dataset files hold now; adding runs would average results of different data in one cell:\n  ${[...new Set(problems)].join('\n  ')}`,
    {
      hint: 'Restore each file as the finished runs read it (the full fingerprints are "data.inputs" of their records in results.jsonl), or keep the new data apart: use a new --out, or save it under another path and add it to the grid as a dataset with a new id.',
    },
  );
}

/**
 * The datasets this session runs nothing more of (`check.datasets` are the others) are not refused for a changed
 * file, as nothing is added to their cells, but the report is written again from their records: each file that
 * differs from what their finished runs read is said, by the rule and in the words of `checkUnchangedInputs`. A file
 * that cannot be read now (removed once its runs were done) says nothing: the records stand as they are.
 */
export async function warnOnChangedFinishedInputs(check: InputsCheck): Promise<void> {
  const changes: string[] = [];
  for (const entry of check.grid.datasets) {
    if (check.datasets.has(entry.id)) continue;
    const { lists } = inputsReadBefore(check.records, entry.id);
    if (lists.length === 0) continue;
    const now = await datasetInputs(check.registry, entry).catch(() => undefined);
    if (!now) continue;
    for (const { inputs, runs } of lists) changes.push(...changeLines(entry.id, compareInputs(inputs, now).changed, runs));
  }
  if (changes.length === 0) return;
  check.log(
    `warning: ${check.target} holds finished runs that read other data than the dataset files hold now; their records (and the report written from them) are of the data they read:\n  ${changes.join('\n  ')}`,
  );
  check.log(
    'hint: To have results of the new data, keep it apart: use a new --out, or save it under another path and add it to the grid as a dataset with a new id.',
  );
}

/** The distinct file lists the finished runs of `dataset` read, with how many runs read each, and how many recorded none. */
function inputsReadBefore(
  records: readonly RunRecord[],
  dataset: string,
): { lists: { inputs: readonly DatasetInput[]; runs: number }[]; without: number; finished: number } {
  const lists = new Map<string, { inputs: readonly DatasetInput[]; runs: number }>();
  let without = 0;
  let finished = 0;
  for (const record of records) {
    if (record.dataset !== dataset) continue;
    finished++;
    const inputs = recordedInputs(record.data);
    if (!inputs) {
      without++;
      continue;
    }
    const key = canonicalJson(inputs);
    const seen = lists.get(key);
    if (seen) seen.runs++;
    else lists.set(key, { inputs, runs: 1 });
  }
  return { lists: [...lists.values()], without, finished };
}

const runsRead = (runs: number) => (runs === 1 ? '1 finished run' : `${runs} finished runs`);

/** Each changed file of `dataset`, in the words both checks use. */
function changeLines(dataset: string, changed: InputComparison['changed'], runs: number): string[] {
  const names = { expected: `when ${runsRead(runs)} read it`, actual: 'now' };
  return changed.map((change) => `dataset "${dataset}" ${change.option}: ${describeChange(change, names)}`);
}
