import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { parse } from 'node:path';
import {
  ErrorCode,
  HyperprotoError,
  parseExperimentSpec,
  planExperiment,
  runExperiment,
  type ExperimentSpecInput,
  type Registry,
} from '@hyperproto/core';
import { referenceLabel } from '@hyperproto/experiments';
import { readMatrixNpy } from '@hyperproto/npy';
import type { GlobalOptions } from '../main.js';
import { interruptSignal, removeOnExit } from '../interrupt.js';
import { datasetFromFlags, type DatasetFlags } from '../dataset-flags.js';
import { dropUndefined, keyValueOptions, mergeFlagOptions, parseKeyValues } from '../key-values.js';
import { absentClassesNote, Output } from '../output.js';
import { buildRegistry } from '../plugin-loading.js';
import { RunDirectory } from '../run-directory.js';
import { writeRunFiles, type RunSummary } from '../run-files.js';
import { threadBudget } from '../thread-budget.js';

export interface TrainOptions extends GlobalOptions, DatasetFlags {
  head: string;
  headOption?: string[];
  prototypes?: string;
  dims?: number;
  prototypesOption?: string[];
  prototypeOption?: string[];
  seed: number;
  out?: string;
  force?: boolean;
  hiddenUnits?: number;
  hiddenLayers?: number;
  dropout?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  maxEpochs?: number;
  engine?: string;
  engineOption?: string[];
  evaluator?: string[];
}

export async function trainCommand(options: TrainOptions): Promise<void> {
  // Listen for Ctrl-C from the start: until then the default handler would kill the process without cleaning up.
  const signal = interruptSignal();
  const output = new Output(options);
  const { registry } = await buildRegistry({ config: options.config, plugins: options.plugin });
  const spec = specFromFlags(options, registry);
  // Unknown plugins and bad options are named before --out is looked at: a rerun then fixes one thing at a time.
  planExperiment(registry, parseExperimentSpec(spec));
  const threads = threadBudget();
  const out = options.out ?? defaultOutDir(spec);
  const directory = await RunDirectory.open(out, { force: options.force });
  const keep = removeOnExit(directory.staging);
  try {
    const outcome = await runExperiment(registry, spec, {
      loadPrototypeFile: (path) => readMatrixNpy(path, { what: `--prototypes ${path}` }),
      // Engine skip notes only with --verbose.
      log: (message) => output.log(message),
      progress: (stage, done, total, label) => output.progress(stage, done, total, label),
      signal,
      threads,
    });
    output.done();
    const summary = await writeRunFiles(directory.staging, outcome, directory.target, { signal });
    await directory.commit();
    keep();
    outcome.training.model.dispose();
    output.result(summary, () => describe(summary));
  } catch (error) {
    output.done();
    await directory.discard();
    keep();
    throw error;
  }
}

function specFromFlags(options: TrainOptions, registry: Registry): ExperimentSpecInput {
  const usesPrototypes = registry.get('head', options.head).usesPrototypes;
  const trainer = dropUndefined({
    hiddenUnits: options.hiddenUnits,
    hiddenLayers: options.hiddenLayers,
    dropout: options.dropout,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    patience: options.patience,
    maxEpochs: options.maxEpochs,
  });
  if (!usesPrototypes) refusePrototypeFlags(options);
  const source = options.prototypes ?? 'optimized';
  // A registered strategy wins over a same-named directory (a plugin package's, say); otherwise a file path.
  const isFile = !registry.has('prototypes', source) && (source.endsWith('.npy') || isRegularFile(source));
  const strategyOptions = mergeFlagOptions(
    keyValueOptions(options.prototypeOption, '--prototype-option'),
    keyValueOptions(options.prototypesOption, '--prototypes-option'),
  );
  if (isFile) refuseStrategyFlags(source, options, strategyOptions);
  return {
    seed: options.seed,
    dataset: datasetFromFlags(options, registry),
    head: { name: options.head, options: parseKeyValues(options.headOption, '--head-option') },
    ...(usesPrototypes
      ? {
          prototypes: isFile
            ? { file: source }
            : {
                strategy: source,
                ...((options.dims ?? options.classes) ? { dims: options.dims ?? options.classes } : {}),
                options: strategyOptions,
              },
        }
      : {}),
    trainer,
    // The classification metrics always, then the evaluators named on the command line.
    ...(options.evaluator
      ? {
          evaluators: ['classification', ...options.evaluator.filter((name) => name !== 'classification')].map((name) => ({
            name,
            options: {},
          })),
        }
      : {}),
    ...engineFromFlags(options),
  };
}

/** A head without prototypes would only fail later on these flags: say which flags, in the command line's terms. */
function refusePrototypeFlags(options: TrainOptions): void {
  const given = [
    ...(options.prototypes !== undefined ? ['--prototypes'] : []),
    ...(options.dims !== undefined ? ['--dims'] : []),
    ...((options.prototypeOption?.length ?? 0) + (options.prototypesOption?.length ?? 0) > 0 ? ['--prototype-option'] : []),
  ];
  if (given.length === 0) return;
  throw new HyperprotoError(
    ErrorCode.InvalidOptions,
    `head "${options.head}" does not use prototypes, so ${given.join(', ')} would have no effect`,
    {
      hint: `Drop ${given.join(', ')}, or choose a head that uses prototypes (\`hyperproto plugins --kind head\` lists them).`,
    },
  );
}

/** A prototype file fixes the prototypes' width and values: flags that would shape a strategy's are refused, not ignored. */
function refuseStrategyFlags(file: string, options: TrainOptions, strategyOptions: Record<string, unknown>): void {
  const ignored = [
    ...(options.dims !== undefined ? ['--dims'] : []),
    ...(Object.keys(strategyOptions).length > 0 ? ['--prototype-option'] : []),
  ];
  if (ignored.length === 0) return;
  throw new HyperprotoError(
    ErrorCode.InvalidOptions,
    `--prototypes ${file} is a prototype file, so ${ignored.join(' and ')} would have no effect (the file sets the width and the vectors)`,
    { hint: `Drop ${ignored.join(' and ')}, or give a strategy name to --prototypes (see \`hyperproto plugins --kind prototypes\`).` },
  );
}

/** `--engine NAME` with its `--engine-option key=value`s; options without a named engine are refused. */
function engineFromFlags(options: TrainOptions): Pick<ExperimentSpecInput, 'engine'> {
  const engineOptions = parseKeyValues(options.engineOption, '--engine-option');
  if (!options.engine) {
    if (Object.keys(engineOptions).length > 0) {
      throw new HyperprotoError(ErrorCode.InvalidOptions, '--engine-option needs --engine: options belong to one engine', {
        hint: 'Name the engine, e.g. --engine onnxruntime --engine-option provider=cpu.',
      });
    }
    return {};
  }
  return { engine: { name: options.engine, options: engineOptions } };
}

function isRegularFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

/**
 * runs/<head>[-<strategy><dims>]-<data>-s<seed>, each part followed by the options given for it, so that runs that
 * differ only in an option (a head's scale, the gaussian sigma) do not land in the same directory.
 */
function defaultOutDir(spec: ExperimentSpecInput): string {
  const { dataset, head, prototypes } = spec;
  const options = (given: Readonly<Record<string, unknown>> | undefined, skip: readonly string[] = []) =>
    optionsInName(Object.fromEntries(Object.entries(given ?? {}).filter(([key]) => !skip.includes(key))));
  const strategy =
    prototypes && 'strategy' in prototypes ? `-${prototypes.strategy}${prototypes.dims ?? ''}${options(prototypes.options)}` : '';
  const data =
    dataset.name === 'files'
      ? `${parse(String(dataset.options?.data)).name}`
      : `${dataset.name === 'gaussian' ? '' : dataset.name}${dataset.options?.classes !== undefined ? `c${String(dataset.options.classes)}` : ''}${options(dataset.options, ['classes'])}`;
  return `runs/${head.name}${options(head.options)}${strategy}-${data}-s${String(spec.seed ?? 0)}`;
}

/** `-key1value1-key2value2` in key order, letters, digits and dots only; a short hash when that would be long. */
function optionsInName(given: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(given).sort(([a], [b]) => (a < b ? -1 : 1));
  if (entries.length === 0) return '';
  const text = entries
    .map(([key, value]) => `${key}${typeof value === 'string' ? value : JSON.stringify(value)}`.replace(/[^A-Za-z0-9.]+/g, '_'))
    .join('-');
  return text.length <= 60 ? `-${text}` : `-${createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 8)}`;
}

function describe(summary: RunSummary): string {
  const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  const proto = summary.prototypes
    ? ` with ${'strategy' in summary.prototypes ? summary.prototypes.strategy : summary.prototypes.file} prototypes, D=${summary.prototypes.dims}`
    : '';
  return [
    `${summary.head}${proto}, ${summary.classes} classes, seed ${summary.seed} (${summary.engine} on ${summary.backend})`,
    `  test macro-F1 ${pct(summary.test.macroF1)}   accuracy ${pct(summary.test.accuracy)}`,
    summary.classesInTest === null
      ? ''
      : `  ${absentClassesNote('the test split holds', summary.classesInTest, summary.classes) ?? ''}`.trimEnd(),
    `  class-mean baseline macro-F1 ${pct(summary.classMean?.macroF1)}   accuracy ${pct(summary.classMean?.accuracy)}`,
    summary.bayes
      ? `  ${referenceLabel(summary.reference ?? 'optimal rule')} macro-F1 ${pct(summary.bayes.macroF1)}   accuracy ${pct(summary.bayes.accuracy)}`
      : '  optimal rule n/a (the dataset has none)',
    `  best epoch ${summary.bestEpoch} of ${summary.epochs}, ${summary.secondsPerEpoch?.toFixed(2) ?? 'n/a'} s/epoch, ${summary.seconds.total.toFixed(1)} s in all`,
    `  saved to ${summary.out}`,
  ]
    .filter(Boolean)
    .join('\n');
}
