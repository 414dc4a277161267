import { nearestClassMeanPredictions } from './class-mean-baseline.js';
import { chooseEngine } from './engines.js';
import { ErrorCode, HyperprotoError, withPluginErrors } from './errors.js';
import { datasetSplitProblem } from './dataset-checks.js';
import {
  datasetInputKey,
  derivedInputKey,
  prototypeInputKey,
  type ExperimentInputKeys,
  type ExperimentInputs,
} from './experiment-inputs.js';
import type { HeadDefinition } from './head-graph.js';
import { headParams, headParamSize } from './head-params.js';
import type { Matrix } from './matrix.js';
import { resolveOptions } from './options.js';
import { callPlugin, UnsupportedRequestError } from './plugin-call.js';
import type {
  Dataset,
  DatasetDescription,
  DatasetSplit,
  HeadPlugin,
  Metrics,
  PluginContext,
  PrototypeRequest,
  PrototypeStrategy,
  TrainingResult,
} from './plugins.js';
import { predictModelLabels } from './predicted-labels.js';
import {
  checkHeadDefinition,
  checkStrategyPrototypes,
  classNamesProblem,
  datasetSplitArraysProblem,
  invalidPluginResult,
  missingTrainingClassesProblem,
  referencePredictionsProblem,
} from './plugin-results.js';
import { checkPrototypes, normalizeRows } from './prototypes.js';
import { pluginId, type Registry } from './registry.js';
import { createRng } from './rng.js';
import { batchRows, gibText, MAX_RUN_PART_BYTES, refuseOversizedRun, RUN_SIZE_OPTIONS, type RunSizeSetters } from './run-size.js';
import { parseExperimentSpec, type ExperimentSpec } from './spec.js';

export interface ExperimentHooks {
  /** Reads a prototype file named in the spec (the pipeline itself does no I/O). */
  readonly loadPrototypeFile?: (path: string) => Promise<Matrix>;
  readonly log?: (message: string) => void;
  /** Progress of the current stage. */
  readonly progress?: (stage: string, done: number, total: number, label?: string) => void;
  readonly signal?: AbortSignal;
  /** Native compute threads each plugin call may use (PluginContext.threads); absent: every core the process may use. */
  readonly threads?: number;
  /**
   * Where this process keeps datasets, prototype sets and the class-mean baseline for later runs that ask for the
   * same ones (a grid's worker); absent: every run makes its own.
   */
  readonly inputs?: ExperimentInputs;
}

/** The inputs a run can take from {@link ExperimentHooks.inputs} instead of making them. */
export type SharedInput = 'dataset' | 'prototypes' | 'baseline';

export interface ExperimentOutcome {
  readonly spec: ExperimentSpec;
  readonly dataset: Dataset;
  readonly prototypes?: Matrix;
  readonly head: HeadDefinition;
  readonly training: TrainingResult;
  readonly engine: { readonly name: string; readonly backend: string; readonly skipped: readonly string[] };
  readonly testPredictions: Int32Array;
  /** Per evaluator name, its metrics on the test split; `classificationScores(metrics)` reads accuracy and macro-F1 typed. */
  readonly metrics: Readonly<Record<string, Metrics>>;
  /** The same evaluators on the validation split (the kept model's predictions): the split to calibrate on. */
  readonly validationMetrics: Readonly<Record<string, Metrics>>;
  /** The same evaluators on the dataset's reference rule (e.g. Bayes-optimal), when it has one. */
  readonly referenceMetrics?: Readonly<Record<string, Metrics>>;
  /** The same evaluators on the nearest-class-mean baseline, which every dataset has. */
  readonly baselineMetrics: Readonly<Record<string, Metrics>>;
  /**
   * Wall time of each stage, seconds: `setup` builds the head and starts the engine, `evaluation` predicts the test
   * and validation splits with the kept model and runs the evaluators on them and on the reference rule,
   * `baseline` the nearest-class-mean baseline; a stage whose input was reused took only the time of the copy.
   */
  readonly seconds: {
    readonly data: number;
    readonly prototypes: number;
    readonly setup: number;
    readonly training: number;
    readonly evaluation: number;
    readonly baseline: number;
    readonly total: number;
  };
  /** What came from `hooks.inputs` instead of being made by this run, in the order the run asked. */
  readonly reused: readonly SharedInput[];
  /** The store keys of this run's dataset and prototypes (absent when not shareable): what runs share. */
  readonly inputKeys: ExperimentInputKeys;
}

/**
 * Resolves every plugin and option of the spec first, so that a typo fails before any work, then runs
 * data -> prototypes -> head -> engine -> evaluators.
 */
export async function runExperiment(registry: Registry, rawSpec: unknown, hooks: ExperimentHooks = {}): Promise<ExperimentOutcome> {
  const started = performance.now();
  const spec = parseExperimentSpec(rawSpec);
  const plan = planExperiment(registry, spec);
  // A dataset that can say its class count from its options (gaussian) lets a size the strategy refuses fail now,
  // not after the data has been generated.
  const plannedClasses = plan.described.classes;
  if (plan.strategy && spec.prototypes && 'strategy' in spec.prototypes && plannedClasses !== undefined) {
    const request = { classes: plannedClasses, dims: spec.prototypes.dims ?? plannedClasses };
    refuseUnsupportedPrototypes(registry, plan.strategy, request, plan.strategyOptions);
  }
  const rng = createRng(spec.seed);
  const context = (stage: string): PluginContext => ({
    seed: spec.seed,
    rng: rng.fork(stage),
    log: hooks.log,
    signal: hooks.signal,
    progress: hooks.progress ? (done, total, label) => hooks.progress!(stage, done, total, label) : undefined,
    threads: hooks.threads,
  });

  // Runs that ask for the same dataset, prototypes or baseline share them through hooks.inputs (byte for byte
  // what the run would have made: every plugin call is seeded by the run's seed, which is part of the key).
  const reused: SharedInput[] = [];
  const shared = async <T>(what: SharedInput, key: string | undefined, make: () => Promise<T>): Promise<T> => {
    if (!hooks.inputs || key === undefined) return make();
    const got = await hooks.inputs.reuse(key, make);
    if (got.reused) reused.push(what);
    return got.value;
  };
  const datasetKey = datasetInputKey(plan, spec.seed, hooks.threads);

  const dataStarted = performance.now();
  const dataset = await shared('dataset', datasetKey, async () => {
    const made = await callPlugin(plan.dataset, 'generate', context('dataset'), plan.datasetOptions);
    checkDataset(made, pluginId(plan.dataset));
    if (plannedClasses !== undefined && plannedClasses !== made.classes) {
      throw new HyperprotoError(
        ErrorCode.InvalidPlugin,
        `${pluginId(plan.dataset)}: describe said ${plannedClasses} classes, generate gave ${made.classes}`,
        { pluginId: pluginId(plan.dataset), hint: 'This is a bug of the dataset plugin: its describe must match what it generates.' },
      );
    }
    return made;
  });
  const dataSeconds = (performance.now() - dataStarted) / 1000;
  throwIfAborted(hooks.signal);

  // The nearest-class-mean baseline is a function of the dataset alone: predicted before any other plugin is handed
  // the data (one that changed it cannot change the baseline), and shared with the dataset's other runs.
  const baselineStarted = performance.now();
  const { classMeanPredictions } = plan.dataset;
  const classMean = await shared('baseline', derivedInputKey('class-mean baseline', datasetKey), async () =>
    classMeanPredictions
      ? await withPluginErrors(pluginId(plan.dataset), () =>
          classMeanPredictions.call(plan.dataset, context('baseline'), dataset.train, dataset.test.features, dataset.classes),
        )
      : nearestClassMeanPredictions(dataset.train, dataset.test.features, dataset.classes, hooks.signal),
  );
  const baselinePredictionSeconds = (performance.now() - baselineStarted) / 1000;
  throwIfAborted(hooks.signal);

  const prototypesStarted = performance.now();
  let prototypes: Matrix | undefined;
  let prototypesKey: string | undefined;
  if (spec.prototypes && 'file' in spec.prototypes) {
    if (!hooks.loadPrototypeFile) throw new HyperprotoError(ErrorCode.Internal, 'prototype files need a loadPrototypeFile hook');
    const source = `prototype file ${spec.prototypes.file}`;
    prototypes = checkPrototypes(
      normalizeRows(await hooks.loadPrototypeFile(spec.prototypes.file), source),
      { classes: dataset.classes },
      source,
    );
  } else if (spec.prototypes && plan.strategy) {
    const request = { classes: dataset.classes, dims: spec.prototypes.dims ?? dataset.classes };
    const strategy = plan.strategy;
    // `unsupported` itself is asked by the plugin boundary before `generate`; the size check is the pipeline's own.
    const tooLarge = prototypeMatrixProblem(request);
    if (tooLarge) throw unsupportedPrototypes(registry, strategy.name, request, tooLarge);
    prototypesKey = prototypeInputKey(plan, request, spec.seed, hooks.threads);
    prototypes = await shared('prototypes', prototypesKey, async () => {
      let made: Matrix;
      try {
        made = await callPlugin(strategy, 'generate', context('prototypes'), request, plan.strategyOptions);
      } catch (error) {
        // The boundary asked `unsupported` first; name the strategies that can make this size.
        if (error instanceof UnsupportedRequestError && error.pluginId === pluginId(strategy) && error.hint === undefined) {
          throw unsupportedPrototypes(registry, strategy.name, error.request, error.reason);
        }
        throw error;
      }
      return checkStrategyPrototypes(made, request, pluginId(strategy));
    });
  }
  const prototypeSeconds = (performance.now() - prototypesStarted) / 1000;
  throwIfAborted(hooks.signal);

  const setupStarted = performance.now();
  const head = checkHeadDefinition(
    await callPlugin(plan.head, 'build', { classes: dataset.classes, prototypes }, plan.headOptions),
    pluginId(plan.head),
  );
  // Planning checked what the dataset's description and the spec said; the data and the head say every size.
  refuseOversizedRun(
    {
      hiddenUnits: spec.trainer.hiddenUnits,
      hiddenLayers: spec.trainer.hiddenLayers,
      inputWidth: dataset.inputWidth,
      classes: dataset.classes,
      outputUnits: head.outputUnits,
      batchRows: batchRows(spec.trainer.batchSize, dataset.train.labels.length),
      headParamValues: headParamValues(head),
    },
    sizeSetters(plan.head, spec),
  );

  const choice = await chooseEngine(registry, spec.engine?.name, plan.engineOptions);
  for (const reason of choice.skipped) hooks.log?.(`skipped ${reason}`);
  const setupSeconds = (performance.now() - setupStarted) / 1000;
  const trainingStarted = performance.now();
  const job = { dataset, head, trainer: spec.trainer };
  const training = await callPlugin(choice.engine, 'train', context('training'), job, plan.engineOptions ?? {});
  const trainingSeconds = (performance.now() - trainingStarted) / 1000;

  try {
    const evaluationStarted = performance.now();

    // The trained model is the engine's work too. Labels only: the N x C scores need not fit in memory.
    const engineId = pluginId(choice.engine);
    const predictLabels = (split: DatasetSplit) => withPluginErrors(engineId, () => predictModelLabels(training.model, split.features));
    const testPredictions = await predictLabels(dataset.test);
    const evaluate = (predictions: Int32Array, withHistory: boolean, labels = dataset.test.labels) => {
      const out: Record<string, Metrics> = {};
      for (const { plugin, options } of plan.evaluators) {
        out[plugin.name] = callPlugin(
          plugin,
          'evaluate',
          {
            classes: dataset.classes,
            labels,
            predictions,
            ...(withHistory ? { history: training.history, bestEpoch: training.bestEpoch } : {}),
          },
          options,
        );
      }
      return out;
    };
    const metrics = evaluate(testPredictions, true);
    // The kept model on the validation split: what choices (data sizes, settings) may be calibrated on, never the test.
    // An engine that predicted it while training, with the kept weights, hands those labels over.
    const validationPredictions = training.validationPredictions
      ? checkValidationPredictions(training.validationPredictions, dataset, engineId)
      : await predictLabels(dataset.validation);
    const validationMetrics = evaluate(validationPredictions, false, dataset.validation.labels);
    const referenceMetrics = dataset.reference ? evaluate(dataset.reference.testPredictions, false) : undefined;
    const evaluationSeconds = (performance.now() - evaluationStarted) / 1000;
    const baselineMetricsStarted = performance.now();
    const baselineMetrics = evaluate(classMean, false);
    const baselineSeconds = baselinePredictionSeconds + (performance.now() - baselineMetricsStarted) / 1000;

    return {
      spec,
      dataset,
      prototypes,
      head,
      training,
      engine: { name: choice.engine.name, backend: training.backend, skipped: choice.skipped },
      testPredictions,
      metrics,
      validationMetrics,
      referenceMetrics,
      baselineMetrics,
      seconds: {
        data: dataSeconds,
        prototypes: prototypeSeconds,
        setup: setupSeconds,
        training: trainingSeconds,
        evaluation: evaluationSeconds,
        baseline: baselineSeconds,
        total: (performance.now() - started) / 1000,
      },
      reused,
      inputKeys: { ...(datasetKey ? { dataset: datasetKey } : {}), ...(prototypesKey ? { prototypes: prototypesKey } : {}) },
    };
  } catch (error) {
    // The caller never gets this model: free what it holds in its engine.
    training.model.dispose();
    throw error;
  }
}

/**
 * The store keys of a run's dataset and prototype set as the run will ask for them, known before it runs: the
 * prototype key needs the class count from the dataset's `describe`, and is absent without it. A scheduler puts
 * runs with the same keys on the same worker.
 */
export function plannedInputKeys(registry: Registry, spec: ExperimentSpec, threads?: number): ExperimentInputKeys {
  const plan = planExperiment(registry, spec);
  const dataset = datasetInputKey(plan, spec.seed, threads);
  const { classes } = plan.described;
  const prototypes =
    spec.prototypes && 'strategy' in spec.prototypes && classes !== undefined
      ? prototypeInputKey(plan, { classes, dims: spec.prototypes.dims ?? classes }, spec.seed, threads)
      : undefined;
  return { ...(dataset ? { dataset } : {}), ...(prototypes ? { prototypes } : {}) };
}

/**
 * Every plugin the spec names, with validated options, and what the dataset says of itself without reading data;
 * throws before any work when something is wrong, a run too large to allocate included ({@link refuseOversizedRun}
 * with the sizes known now).
 */
export function planExperiment(registry: Registry, spec: ExperimentSpec) {
  const dataset = registry.get('dataset', spec.dataset.name);
  const head = registry.get('head', spec.head.name);
  const strategy = spec.prototypes && 'strategy' in spec.prototypes ? registry.get('prototypes', spec.prototypes.strategy) : undefined;
  if (head.usesPrototypes && !spec.prototypes) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `head "${head.name}" needs prototypes: name a strategy and dims, or a .npy file`);
  }
  if (!head.usesPrototypes && spec.prototypes) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `head "${head.name}" does not use prototypes; drop the prototypes from the spec`);
  }
  const engine = spec.engine && registry.get('engine', spec.engine.name);
  const datasetOptions = resolveOptions(dataset, spec.dataset.options);
  const plan = {
    dataset,
    datasetOptions,
    head,
    headOptions: resolveOptions(head, spec.head.options),
    strategy,
    strategyOptions:
      strategy && spec.prototypes && 'strategy' in spec.prototypes ? resolveOptions(strategy, spec.prototypes.options) : undefined,
    /** The named engine's options, parsed; undefined when no engine is named (the chosen one gets its defaults). */
    engineOptions: engine && spec.engine ? resolveOptions(engine, spec.engine.options) : undefined,
    evaluators: spec.evaluators.map((ref) => {
      const plugin = registry.get('evaluator', ref.name);
      return { plugin, options: resolveOptions(plugin, ref.options) };
    }),
    /**
     * The dataset's `describe` for these options (empty without one): the sizes known before any data. Asked once
     * every option has been checked, so that a typo fails before any plugin runs.
     */
    described: (callPlugin(dataset, 'describe', datasetOptions) ?? {}) as DatasetDescription,
  };
  const { classes, inputWidth, trainRows } = plan.described;
  // A head with prototypes makes its output layer as wide as them (every built-in one): known from the spec. Other
  // heads say their width when built, after the data; runExperiment checks again then.
  const dims = spec.prototypes && 'strategy' in spec.prototypes ? (spec.prototypes.dims ?? classes) : undefined;
  refuseOversizedRun(
    {
      hiddenUnits: spec.trainer.hiddenUnits,
      hiddenLayers: spec.trainer.hiddenLayers,
      inputWidth,
      classes,
      outputUnits: dims,
      batchRows: trainRows === undefined ? undefined : batchRows(spec.trainer.batchSize, trainRows),
    },
    sizeSetters(head, spec),
  );
  return plan;
}

/** What a size refusal names as setting the output layer's width and the head's parameters. */
function sizeSetters(head: HeadPlugin, spec: ExperimentSpec): RunSizeSetters {
  const options = `the options of ${pluginId(head)}`;
  const prototypes = spec.prototypes;
  return {
    outputUnits: !prototypes
      ? `${options} or the classes`
      : 'strategy' in prototypes
        ? RUN_SIZE_OPTIONS.dims
        : `the columns of the prototype file ${prototypes.file}`,
    headParams: `${options} or the classes`,
  };
}

/** Values of the head's trained parameters; 0 for a head whose parameters are malformed, which the engine refuses naming them. */
function headParamValues(head: HeadDefinition): number {
  try {
    return [...headParams(head).values()].reduce((sum, spec) => sum + headParamSize(spec), 0);
  } catch {
    return 0;
  }
}

/** The error for a strategy asked for a size it cannot make, naming the strategies that can (with their default options). */
export function unsupportedPrototypes(registry: Registry, name: string, request: PrototypeRequest, why: string): UnsupportedRequestError {
  const able = registry
    .list('prototypes')
    .filter((s) => s.name !== name && servesWithDefaults(s, request))
    .map((s) => s.name);
  return new UnsupportedRequestError(
    { kind: 'prototypes', name },
    request,
    why,
    able.length ? `Strategies that can: ${able.join(', ')}.` : undefined,
  );
}

/**
 * Most bytes one prototype matrix (or a strategy's working copy of it) may take: the bound on every part of a run,
 * {@link MAX_RUN_PART_BYTES}. A larger request is refused with its size before anything is allocated.
 */
export const MAX_PROTOTYPE_MATRIX_BYTES = MAX_RUN_PART_BYTES;

/**
 * Why a C x D matrix of `bytesPerValue`-byte values cannot be made, or undefined when it can. Every strategy
 * returns a C x D float32 matrix, so the pipeline asks this of any strategy; strategies that keep a wider working
 * copy (float64) ask it in their `unsupported` with their own width.
 */
export function prototypeMatrixProblem({ classes, dims }: PrototypeRequest, bytesPerValue = 4): string | undefined {
  const bytes = classes * dims * bytesPerValue;
  if (!(bytes > MAX_RUN_PART_BYTES)) return undefined;
  const what = bytesPerValue === 4 ? 'float32 matrix' : `matrix and its working copies (${bytesPerValue} bytes a value)`;
  return `the ${classes} x ${dims} ${what} would need ${gibText(bytes)}; at most ${gibText(MAX_RUN_PART_BYTES)} is allowed`;
}

/**
 * Refuses a request the strategy cannot serve (its `unsupported`, or a matrix too large to allocate), naming the
 * strategies that can; cheap, so callers run it before any long work.
 */
export function refuseUnsupportedPrototypes(
  registry: Registry,
  strategy: PrototypeStrategy,
  request: PrototypeRequest,
  options: unknown,
): void {
  const why = prototypeMatrixProblem(request) ?? callPlugin(strategy, 'unsupported', request, options);
  if (why) throw unsupportedPrototypes(registry, strategy.name, request, why);
}

/** Whether the strategy serves the request with its default options; one whose defaults or `unsupported` fail does not. */
function servesWithDefaults(strategy: PrototypeStrategy, request: PrototypeRequest): boolean {
  if (prototypeMatrixProblem(request)) return false;
  try {
    return !callPlugin(strategy, 'unsupported', request, undefined);
  } catch {
    return false;
  }
}

/** The engine's labels for the validation split, refused (E_INVALID_PLUGIN) unless one class index per row. */
function checkValidationPredictions(predictions: Int32Array, dataset: Dataset, engineId: string): Int32Array {
  const rows = dataset.validation.labels.length;
  const outside = predictions.findIndex((label) => !(label >= 0 && label < dataset.classes));
  if (predictions.length !== rows || outside >= 0) {
    const what =
      predictions.length !== rows
        ? `${predictions.length} labels for ${rows} rows`
        : `label ${predictions[outside]} at row ${outside}, outside [0, ${dataset.classes})`;
    throw new HyperprotoError(ErrorCode.InvalidPlugin, `${engineId}: its validation predictions have ${what}`, {
      pluginId: engineId,
      hint: "This is a bug of the engine: its validationPredictions must be the kept model's labels, one per validation row.",
    });
  }
  return predictions;
}

function checkDataset(dataset: Dataset, source: string): void {
  const check = (split: DatasetSplit, name: string) => {
    // The array types first: the checks below and every engine read the arrays as float32 features and int32 labels.
    const problem = datasetSplitArraysProblem(split, name) ?? datasetSplitProblem(split, name, dataset.inputWidth, dataset.classes);
    if (problem) throw invalidPluginResult(source, problem);
  };
  if (!Number.isInteger(dataset.classes) || dataset.classes < 2)
    throw invalidPluginResult(source, `needs at least 2 classes, has ${dataset.classes}`);
  check(dataset.train, 'train');
  check(dataset.validation, 'validation');
  check(dataset.test, 'test');
  // Class names first: the missing classes are named by them.
  const classes = classNamesProblem(dataset) ?? missingTrainingClassesProblem(dataset);
  if (classes) throw invalidPluginResult(source, classes);
  // The evaluators score the reference rule against the test labels: a wrong count would be blamed on them.
  const reference = referencePredictionsProblem(dataset);
  if (reference) throw invalidPluginResult(source, reference);
  // A model keeps these names to check rows by: a list of another length would refuse every correct row.
  const names = dataset.featureNames;
  if (names === undefined) return;
  const problem =
    names.length !== dataset.inputWidth
      ? `has ${names.length} ${names.length === 1 ? 'name' : 'names'} for input width ${dataset.inputWidth}`
      : names.every((name) => typeof name === 'string')
        ? undefined
        : 'holds something other than a string';
  if (problem) throw invalidPluginResult(source, `featureNames ${problem}; give one name (a string) per input feature`);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, 'interrupted');
}
