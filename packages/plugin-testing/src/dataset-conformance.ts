import {
  callPlugin as callHook,
  ErrorCode,
  isHyperprotoError,
  type Dataset,
  type DatasetDescription,
  type DatasetPlugin,
  type DatasetSplit,
  classNamesProblem,
  datasetSplitArraysProblem,
  missingTrainingClassesProblem,
  referencePredictionsProblem,
} from '@hyperproto/core';
import type { ConformanceCase } from './conformance-case.js';
import { conformanceError, describeError } from './conformance-error.js';
import { callPlugin, DEFAULT_TIME_LIMIT_MS, parseOptions, pluginIdOf } from './plugin-calls.js';
import { sameBytes } from './same-bytes.js';
import { seededContext } from './seeded-context.js';
import { settleWithin } from './settle-within.js';

export interface DatasetConformanceOptions {
  /** The dataset's options, before its schema (default {}): keep the sizes small, every case generates with them. */
  readonly options?: unknown;
  /** Longest a single generate call may take. */
  readonly timeLimitMs?: number;
}

const SPLITS = ['train', 'validation', 'test'] as const;

/**
 * What every dataset promises: three non-empty splits of finite float32 features [N, inputWidth] with int32
 * labels in [0, classes), every class in train, well-formed class names and reference predictions when given,
 * what `describe` and `inspect` say (when it has them) equal to what `generate` gives, the same bytes for the same seed, and an
 * aborted signal honoured without a hang.
 */
export function datasetConformance(dataset: DatasetPlugin, options: DatasetConformanceOptions = {}): ConformanceCase[] {
  const id = pluginIdOf(dataset);
  const timeLimitMs = options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS;
  const generate = (seed: number) => {
    const parsed = parseOptions(dataset, options.options);
    return callPlugin(id, `generate with seed ${seed}`, () => dataset.generate(seededContext(seed), parsed), timeLimitMs);
  };
  // Generated once and shared by the cases that only read it; the cases stay independent of their order.
  let first: Promise<Dataset> | undefined;
  const generated = () => (first ??= generate(1));
  const fail = (message: string, cause?: unknown): never => {
    throw conformanceError(id, message, cause);
  };
  // What `describe` (from the options) or `inspect` (by reading the data) says generate will give: each field it
  // gives must be what generate gives, as planning trusts it.
  const checkDescription = async (hook: 'describe' | 'inspect') => {
    if (typeof dataset[hook] !== 'function') return;
    const parsed = parseOptions(dataset, options.options);
    const said = await callPlugin<DatasetDescription | undefined>(id, hook, () => callHook(dataset, hook, parsed), timeLimitMs);
    const data = await generated();
    const actual = { classes: data.classes, trainRows: data.train.labels.length, inputWidth: data.inputWidth };
    for (const field of ['classes', 'trainRows', 'inputWidth'] as const) {
      const value = said?.[field];
      if (value !== undefined && value !== actual[field])
        fail(`${hook} said ${field} ${value}, generate gave ${actual[field]}; expected ${hook} to say only what generate will give`);
    }
  };

  return [
    {
      name: 'accepts the given options',
      run: async () => {
        parseOptions(dataset, options.options);
      },
    },
    {
      name: 'gives train, validation and test splits of finite float32 features [N, inputWidth] and labels in [0, classes)',
      run: async () => {
        const data = await generated();
        if (!Number.isInteger(data.classes) || data.classes < 2) fail(`classes is ${data.classes}; expected an integer >= 2`);
        if (!Number.isInteger(data.inputWidth) || data.inputWidth < 1)
          fail(`inputWidth is ${data.inputWidth}; expected a positive integer`);
        if (typeof data.info !== 'object' || data.info === null)
          fail(`info is ${String(data.info)}; expected an object (facts about the data, may be {})`);
        for (const name of SPLITS) checkSplit(fail, name, data[name], data.inputWidth, data.classes);
      },
    },
    {
      name: 'has every class in the train split',
      run: async () => {
        // The check core makes of every dataset it runs.
        const problem = missingTrainingClassesProblem(await generated());
        if (problem) fail(problem);
      },
    },
    {
      name: 'names its classes with unique strings, when it names them',
      run: async () => {
        // The check core makes of every dataset it runs.
        const problem = classNamesProblem(await generated());
        if (problem) fail(problem);
      },
    },
    {
      name: 'gives reference predictions for every test row, in range, when it has a reference',
      run: async () => {
        const { reference, test, classes } = await generated();
        if (reference === undefined) return;
        if (typeof reference.name !== 'string' || reference.name === '')
          fail(`reference.name is ${JSON.stringify(reference.name)}; expected a non-empty string`);
        // The check core makes of every dataset it runs.
        const problem = referencePredictionsProblem({ reference, test, classes });
        if (problem) fail(problem);
      },
    },
    {
      name: 'describes, when it has describe, the class count, train rows and input width that generate gives',
      run: () => checkDescription('describe'),
    },
    {
      name: 'inspects, when it has inspect, the class count, train rows and input width that generate gives',
      run: () => checkDescription('inspect'),
    },
    {
      name: 'gives identical bytes for the same seed',
      run: async () => {
        const a = await generated();
        const b = await generate(1);
        if (a.classes !== b.classes || a.inputWidth !== b.inputWidth)
          fail(`seed 1 gave ${a.classes} and then ${b.classes} classes (width ${a.inputWidth}, ${b.inputWidth}); expected the same data`);
        for (const name of SPLITS) {
          for (const part of ['features', 'labels'] as const) {
            const [x, y] = part === 'features' ? [a[name].features.data, b[name].features.data] : [a[name].labels, b[name].labels];
            if (!sameBytes(x, y))
              fail(
                `seed 1 gave different ${name} ${part} on two runs; expected identical bytes: draw randomness only from ctx.rng, never Math.random or the clock`,
              );
          }
        }
        const [x, y] = [a.reference?.testPredictions, b.reference?.testPredictions];
        if (x && y && !sameBytes(x, y)) fail('seed 1 gave different reference predictions on two runs; expected identical ones');
      },
    },
    {
      name: 'an aborted signal rejects with E_ABORTED or generation finishes, without a hang',
      run: async () => {
        const parsed = parseOptions(dataset, options.options);
        const settled = await settleWithin(() => dataset.generate(seededContext(1, { signal: AbortSignal.abort() }), parsed), timeLimitMs);
        if (settled.status === 'timeout')
          fail(`generate with an aborted signal did not settle within ${timeLimitMs} ms; expected long loops to check ctx.signal and stop`);
        if (settled.status === 'rejected' && !(isHyperprotoError(settled.reason) && settled.reason.code === ErrorCode.Aborted)) {
          fail(
            `generate with an aborted signal threw ${describeError(settled.reason)}; expected a HyperprotoError with code ${ErrorCode.Aborted} (or a normal result)`,
            settled.reason,
          );
        }
      },
    },
  ];
}

function checkSplit(
  fail: (message: string) => never,
  name: string,
  split: DatasetSplit | undefined,
  inputWidth: number,
  classes: number,
): void {
  // The check core makes of every dataset it runs: a split of a float32 Matrix and Int32Array labels.
  const arrays = datasetSplitArraysProblem(split, name);
  if (arrays) fail(arrays);
  const { features, labels } = split!;
  if (labels.length === 0) fail(`the ${name} split is empty; expected at least one row`);
  if (features.rows !== labels.length || features.cols !== inputWidth || features.data.length !== features.rows * features.cols) {
    fail(
      `${name} features are ${features.rows} x ${features.cols} with ${features.data.length} values for ${labels.length} labels; expected ${labels.length} x ${inputWidth} (inputWidth)`,
    );
  }
  const bad = features.data.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0)
    fail(
      `${name} features have the non-finite value ${features.data[bad]} at row ${Math.floor(bad / inputWidth)}, column ${bad % inputWidth}; expected finite values`,
    );
  const out = labels.findIndex((label) => label < 0 || label >= classes);
  if (out >= 0) fail(`${name} label ${labels[out]} at row ${out} is outside [0, ${classes}); expected class indices in [0, classes)`);
}
