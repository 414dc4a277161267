// A queue's workers read their own copies of a grid's data files, at the paths the grid names on their machines:
// results of a copy that differs from the coordinator's must not join the coordinator's cells.
import { ErrorCode, type DatasetInput, type Registry } from '@hyperproto/core';
import {
  canonicalJson,
  compareInputs,
  datasetInputs,
  describeChange,
  failureOf,
  type RunFailure,
  type RunOrder,
} from '@hyperproto/experiments';

/**
 * Why results computed on `actual` (a worker's fingerprints of the files of `dataset`) must not be stored beside
 * the coordinator's, by `compareInputs`; undefined when they read the same data (the path may differ). `at` says
 * who found it: the worker before running (`this worker`), or the coordinator in a returned record.
 */
export function inputsFailure(
  dataset: string,
  expected: readonly DatasetInput[],
  actual: readonly DatasetInput[],
  worker: string,
  at: 'worker' | 'coordinator',
): RunFailure | undefined {
  const { changed } = compareInputs(expected, actual);
  if (changed.length === 0) return undefined;
  const side = at === 'worker' ? 'this worker' : `worker ${worker}`;
  const names = { expected: 'on the coordinator', actual: `on ${side}` };
  const files = changed.map((change) => `${change.option}: ${describeChange(change, names)}`).join('; ');
  // Where the worker reads each file: the coordinator's copy goes there.
  const paths = [...new Set(changed.map((change) => (change.actual ?? change.expected)!.path))];
  const [them, it] = paths.length === 1 ? ['file', 'it'] : ['files', 'them'];
  return at === 'worker'
    ? {
        code: ErrorCode.InvalidInput,
        message: `this worker's files of dataset "${dataset}" differ from the coordinator's, so its results would be of other data: ${files}`,
        hint: `Copy the coordinator's ${them} to ${paths.join(', ')} on this machine (${worker}); the worker reads ${it} again at its next job. Then run the failed runs again with experiment --resume.`,
      }
    : {
        code: ErrorCode.InvalidInput,
        message: `the record of worker ${worker} was computed on other files of dataset "${dataset}" than the coordinator's, so it was not stored: ${files}`,
        hint: `Copy the coordinator's ${them} to ${paths.join(', ')} on that worker's machine, then run the failed runs again with experiment --resume.`,
      };
}

/**
 * A worker's own fingerprints of the files each dataset reads, taken with the dataset's `inputs` hook once per
 * dataset (name and options) and worker process while they match the coordinator's: a file is hashed once, not once
 * per run.
 */
export class WorkerInputs {
  private readonly read = new Map<string, Promise<readonly DatasetInput[] | undefined>>();

  constructor(
    private readonly registry: Registry,
    private readonly worker: string,
  ) {}

  /**
   * Why this worker must not run `order`: its files differ from `expected` (the coordinator's fingerprints of the
   * run's dataset), or it cannot read them; undefined when it may, or when there is nothing to compare (a dataset
   * that reads no files, a coordinator that sent none).
   */
  async problem(order: RunOrder, expected: readonly DatasetInput[] | undefined): Promise<RunFailure | undefined> {
    if (!expected) return undefined;
    const key = canonicalJson(order.spec.dataset);
    const earlier = this.read.get(key);
    const failure = await this.compare(order, expected, key, earlier);
    // A copy read for an earlier job may have been replaced since (new data for a new grid): read again before failing.
    return failure && earlier ? this.compare(order, expected, key, undefined) : failure;
  }

  private async compare(
    order: RunOrder,
    expected: readonly DatasetInput[],
    key: string,
    earlier: Promise<readonly DatasetInput[] | undefined> | undefined,
  ): Promise<RunFailure | undefined> {
    const reading = earlier ?? datasetInputs(this.registry, order.spec.dataset);
    this.read.set(key, reading);
    // A read that failed or found other files is forgotten: a file fixed meanwhile is read again at the next job.
    const forget = () => {
      if (this.read.get(key) === reading) this.read.delete(key);
    };
    let actual: readonly DatasetInput[] | undefined;
    try {
      actual = await reading;
    } catch (error) {
      forget();
      return failureOf(error);
    }
    if (!actual) return undefined;
    const failure = inputsFailure(order.dataset, expected, actual, this.worker, 'worker');
    if (failure) forget();
    return failure;
  }
}
