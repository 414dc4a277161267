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
 * add runs of a dataset whose files differ from those its finished runs read: the report would average results of
 * different data in one cell. Each file is matched by the option
 * naming it and compared by size and SHA-256; a file that only moved (same content at another path) is kept, with
 * a note. Records without fingerprints (written before they were recorded) cannot be checked: a note says so.
 */
export async function checkUnchangedInputs(check: InputsCheck): Promise<void> {
  const problems: string[] = [];
  const notes: string[] = [];
  const unchecked: string[] = [];
  for (const entry of check.grid.datasets) {
    if (!check.datasets.has(entry.id)) continue;
    const finished = check.records.filter((record) => record.dataset === entry.id);
    const plugin = check.registry.get('dataset', entry.name);
    if (typeof plugin.inputs !== 'function') continue;
    // Asked even without finished runs: a file that is missing or unreadable stops the grid before its first run.
    const now = await callPlugin(plugin, 'inputs', resolveOptions(plugin, entry.options));
    if (!isInputList(now)) {
      throw new HyperprotoError(ErrorCode.InvalidPlugin, `dataset:${plugin.name} inputs returned ${JSON.stringify(now)}`, {
        hint: 'inputs(options) must resolve to a list of { option, path, bytes, sha256 }.',
      });
    }
    // The distinct lists the finished runs read, with how many runs read each.
    const readBefore = new Map<string, { inputs: readonly DatasetInput[]; runs: number }>();
    let without = 0;
    for (const record of finished) {
      const inputs = recordedInputs(record.data);
      if (!inputs) {
        without++;
        continue;
      }
      const key = canonicalJson(inputs);
      const seen = readBefore.get(key);
      if (seen) seen.runs++;
      else readBefore.set(key, { inputs, runs: 1 });
    }
    if (without > 0) unchecked.push(`"${entry.id}" (${without} of ${finished.length})`);
    for (const { inputs, runs } of readBefore.values()) {
      compareInputs(`dataset "${entry.id}"`, inputs, now, runs, problems, notes);
    }
  }
  if (unchecked.length > 0) {
    check.log(
      `note: some finished runs of dataset ${unchecked.join(', ')} were recorded without fingerprints of their files, so their data cannot be checked against the files now`,
    );
  }
  for (const note of new Set(notes)) check.log(`note: ${note}`);
  if (problems.length === 0) return;
  throw new HyperprotoError(
    ErrorCode.InvalidOptions,
    `${check.target} holds finished runs that read other data than the dataset files hold now; adding runs would average results of different data in one cell:\n  ${[...new Set(problems)].join('\n  ')}`,
    {
      hint: 'Restore each file as the finished runs read it (the full fingerprints are "data.inputs" of their records in results.jsonl), or keep the new data apart: use a new --out, or save it under another path and add it to the grid as a dataset with a new id.',
    },
  );
}

/** Each file of `before` against the file read now under the same option: a problem line for each change of data. */
function compareInputs(
  where: string,
  before: readonly DatasetInput[],
  now: readonly DatasetInput[],
  runs: number,
  problems: string[],
  notes: string[],
): void {
  const finished = runs === 1 ? '1 finished run' : `${runs} finished runs`;
  for (const was of before) {
    const is = now.find((input) => input.option === was.option);
    const name = `${where} ${was.option}`;
    if (!is) {
      problems.push(`${name}: ${finished} read ${was.path} (${fingerprint(was)}), which the dataset no longer reads`);
      continue;
    }
    const sameContent = was.bytes === is.bytes && was.sha256 === is.sha256;
    if (sameContent) {
      if (was.path !== is.path) notes.push(`${name} is now read from ${is.path}; ${finished} read ${was.path}, with the same content`);
      continue;
    }
    const what = [was.path === is.path ? '' : 'path', was.bytes === is.bytes ? '' : 'size', 'content'].filter(Boolean).join(', ');
    const which = was.path === is.path ? `${is.path} changed` : `now ${is.path}, where ${finished} read ${was.path}`;
    problems.push(`${name}: ${which} (${what}): ${fingerprint(is)} now, ${fingerprint(was)} when ${finished} read it`);
  }
  for (const is of now) {
    if (!before.some((was) => was.option === is.option))
      problems.push(`${where} ${is.option}: ${is.path} is read now, and by none of ${finished}`);
  }
}

function fingerprint(input: DatasetInput): string {
  return `${input.bytes} bytes, sha256 ${input.sha256.slice(0, 12)}`;
}
