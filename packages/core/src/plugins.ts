import type { z } from 'zod';
import type { HeadDefinition } from './head-graph.js';
import type { Matrix } from './matrix.js';
import { bindPluginHooks } from './plugin-call.js';
import type { Rng } from './rng.js';
import type { TrainerSettings } from './spec.js';

export type PluginKind = 'dataset' | 'prototypes' | 'head' | 'evaluator' | 'engine';
export const PLUGIN_KINDS: readonly PluginKind[] = ['dataset', 'prototypes', 'head', 'evaluator', 'engine'];

/** Schema of a plugin's options; its parsed output is what the plugin receives. */
export type OptionsSchema<O = unknown> = z.ZodType<O>;

/** What every plugin call gets besides its options. */
export interface PluginContext {
  /** The experiment seed; derive randomness from `rng`, never from Math.random. */
  readonly seed: number;
  readonly rng: Rng;
  /** Progress of long work (done out of total); the CLI draws it as a bar. */
  readonly progress?: (done: number, total: number, label?: string) => void;
  /** Informational messages for the user (shown unless quiet). */
  readonly log?: (message: string) => void;
  /** Aborted on Ctrl-C: long loops check it and stop. */
  readonly signal?: AbortSignal;
  /**
   * Native compute threads this call may use (e.g. onnxruntime's intra-op pool): the caller's budget, so that
   * parallel runs share the cores instead of each starting a pool as wide as the machine. Absent: every core the
   * process may use.
   */
  readonly threads?: number;
}

interface PluginBase<K extends PluginKind, O> {
  readonly kind: K;
  /** kebab-case, unique within its kind. */
  readonly name: string;
  /** One line for `hyperproto plugins`. */
  readonly summary: string;
  readonly options: OptionsSchema<O>;
}

// ---- datasets ----------------------------------------------------------------------------------------------

export interface DatasetSplit {
  /** [N, inputWidth] */
  readonly features: Matrix;
  /** Class index per row, in [0, classes). */
  readonly labels: Int32Array;
}

export interface Dataset {
  readonly classes: number;
  readonly inputWidth: number;
  readonly classNames?: readonly string[];
  /**
   * One name per input feature, in input order, when the data names its columns (a CSV header): kept with the
   * model, so that rows to classify can be checked by name. Never cut short, unlike any list in `info`.
   */
  readonly featureNames?: readonly string[];
  readonly train: DatasetSplit;
  readonly validation: DatasetSplit;
  readonly test: DatasetSplit;
  /** Predictions of a known-optimal rule on the test split (the ceiling for every model), when there is one. */
  readonly reference?: { readonly name: string; readonly testPredictions: Int32Array };
  /** Facts about the generated data worth recording (sizes, noise level, ...). */
  readonly info: Readonly<Record<string, unknown>>;
}

/**
 * What `generate` will give, said before it runs: by `describe` from the options alone (each field only when known
 * without reading data), or by `inspect` from reading the data.
 */
export interface DatasetDescription {
  /** The `classes` the dataset will have: lets a prototype size the strategy refuses fail before any data work. */
  readonly classes?: number;
  /** Rows of the train split: with `inputWidth` and `classes`, what a run's cost estimate needs. */
  readonly trainRows?: number;
  /** Feature width (`inputWidth` of the dataset). */
  readonly inputWidth?: number;
}

/**
 * One file a dataset reads, fingerprinted: which file (`path`, absolute) and what it held (`bytes`, `sha256`), so
 * that records say exactly which data they came from and `--resume` can tell when a file changed since.
 */
export interface DatasetInput {
  /** What the file is to the dataset, e.g. the option naming it (`data`, `testLabels`): pairs files across sessions. */
  readonly option: string;
  /** Absolute path, relative ones resolved as the dataset resolves them when reading. */
  readonly path: string;
  readonly bytes: number;
  /** SHA-256 of the content, lowercase hex. */
  readonly sha256: string;
}

export interface DatasetPlugin<O = any> extends PluginBase<'dataset', O> {
  /**
   * What `generate` will give for these options, said without generating or reading anything (synchronous and
   * cheap: planning calls it for every run of a grid). Leave out what cannot be known that way; what it says must
   * match what `generate` produces (the dataset conformance suite checks). What only the data can say (a class count
   * read from labels) is `inspect`'s.
   */
  describe?(options: O): DatasetDescription;
  /**
   * The files `generate` would read for these options, fingerprinted now, without loading the data (it reads each
   * file once to hash it). A dataset that has it records the same list as `info.inputs` when it generates, so a
   * resumed grid can refuse to add runs on changed files to runs made on the old ones. Leave it out when the data
   * comes from no file.
   */
  inputs?(options: O): Promise<readonly DatasetInput[]>;
  /**
   * What `describe` cannot say without reading the data, learned by reading it (e.g. the class count of labels in a
   * file), without building the dataset: it may take as long as one read of the files. A grid calls it once per
   * dataset with runs to do before its first run, when `describe` leaves the class count unknown and a model with
   * prototypes runs on the dataset, so that a prototype size the strategy cannot make is refused before any run. A
   * problem with the data that `generate` would refuse may be refused here the same way. What it says must match
   * what `generate` produces (the dataset conformance suite checks); leave out what cannot be known by reading.
   */
  inspect?(options: O): Promise<DatasetDescription>;
  generate(ctx: PluginContext, options: O): Dataset | Promise<Dataset>;
  /**
   * The nearest-class-mean baseline's predictions for `features` (exactly those of `nearestClassMeanPredictions`),
   * by a faster route, for data so large that the plain loop would outlast the training (100,000 classes).
   */
  classMeanPredictions?(ctx: PluginContext, train: DatasetSplit, features: Matrix, classes: number): Promise<Int32Array>;
}

// ---- prototypes --------------------------------------------------------------------------------------------

export interface PrototypeRequest {
  readonly classes: number;
  readonly dims: number;
}

export interface PrototypeStrategy<O = any> extends PluginBase<'prototypes', O> {
  /** Why this strategy cannot serve the request, or undefined when it can. Checked before `generate`. */
  unsupported?(request: PrototypeRequest, options: O): string | undefined;
  /** C x D float32 rows of unit L2 norm. */
  generate(ctx: PluginContext, request: PrototypeRequest, options: O): Matrix | Promise<Matrix>;
}

// ---- heads -------------------------------------------------------------------------------------------------

export interface HeadBuildInput {
  readonly classes: number;
  /** Present when the head declared `usesPrototypes`. */
  readonly prototypes?: Matrix;
}

export interface HeadPlugin<O = any> extends PluginBase<'head', O> {
  /** Whether an experiment with this head needs a prototype strategy or file. */
  readonly usesPrototypes: boolean;
  build(input: HeadBuildInput, options: O): HeadDefinition;
}

// ---- evaluators --------------------------------------------------------------------------------------------

export interface EpochRecord {
  /** 1-based. */
  readonly epoch: number;
  readonly trainLoss: number;
  readonly validationLoss: number;
  readonly validationAccuracy: number;
  /** Macro-F1 on the validation split (absent from histories written before it was recorded). */
  readonly validationMacroF1?: number;
  /**
   * The test split's loss, accuracy and macro-F1 after this epoch, with the trainer's `traceTest` on: logged only,
   * never read by the stopping rule or the choice of the kept epoch.
   */
  readonly testLoss?: number;
  readonly testAccuracy?: number;
  readonly testMacroF1?: number;
  /** Wall-clock seconds of the epoch: its training steps and the validation pass (the test pass is not counted). */
  readonly seconds: number;
  /** Seconds of the test pass, when there was one. */
  readonly testSeconds?: number;
}

export interface EvaluationInput {
  readonly classes: number;
  readonly labels: Int32Array;
  readonly predictions: Int32Array;
  /** Training history when the predictions come from a trained model. */
  readonly history?: readonly EpochRecord[];
  readonly bestEpoch?: number;
}

export type Metrics = Readonly<Record<string, unknown>>;

export interface EvaluatorPlugin<O = any> extends PluginBase<'evaluator', O> {
  evaluate(input: EvaluationInput, options: O): Metrics;
}

// ---- engines -----------------------------------------------------------------------------------------------

export interface TrainingJob {
  readonly dataset: Dataset;
  readonly head: HeadDefinition;
  readonly trainer: TrainerSettings;
}

/** Named float32 parameters of a trained network, engine-neutral (exporters read these). */
export interface NamedWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface TrainedModel {
  readonly inputWidth: number;
  readonly classes: number;
  readonly trainer: TrainerSettings;
  readonly head: HeadDefinition;
  readonly weights: readonly NamedWeight[];
  /** Scores [N, C] and predicted labels for a batch of feature rows. */
  predict(features: Matrix): Promise<{ scores: Matrix; labels: Int32Array }>;
  /**
   * The predicted labels alone, byte for byte `predict(features).labels` (ties broken the same way), in memory
   * bounded independently of N x C: the argmax taken inside the engine, rows in chunks. Optional: for a model
   * without it, {@link predictModelLabels} calls `predict` on row chunks and keeps only the labels.
   */
  predictLabels?(features: Matrix): Promise<Int32Array>;
  /** Frees what the model holds in its engine (sessions, tensors); predicting afterwards is an error. */
  dispose(): void;
}

export interface TrainingResult {
  readonly model: TrainedModel;
  readonly history: readonly EpochRecord[];
  /** 1-based epoch whose weights were kept (best validation score). */
  readonly bestEpoch: number;
  /**
   * The kept model's predicted labels for the job's validation split, when the engine computed them while training
   * with the kept weights: exactly `model.predictLabels(validation.features)`. The pipeline then does not predict
   * the validation split again.
   */
  readonly validationPredictions?: Int32Array;
  /** Engine backend that ran, e.g. `tfjs/wasm`. */
  readonly backend: string;
}

export type EngineProbe =
  | {
      readonly ok: true;
      readonly backend: string;
      readonly skipped: readonly string[];
      /** The engine's priority on the backend it found, when lower than its `priority` (e.g. a slow fallback). */
      readonly priority?: number;
    }
  | { readonly ok: false; readonly reason: string };

export interface EnginePlugin<O = any> extends PluginBase<'engine', O> {
  /** Higher is chosen first when no engine is named; the most the engine can rank (its probe may lower it). */
  readonly priority: number;
  /**
   * Starts the engine lazily; says which backend it would use, or why it cannot run. `options` (already parsed by
   * the schema) are given when the engine is named with options that choose its backend.
   */
  probe(options?: O): Promise<EngineProbe>;
  train(ctx: PluginContext, job: TrainingJob, options: O): Promise<TrainingResult>;
}

export type Plugin = DatasetPlugin | PrototypeStrategy | HeadPlugin | EvaluatorPlugin | EnginePlugin;
export type PluginOfKind<K extends PluginKind> = Extract<Plugin, { kind: K }>;

// ---- define helpers: they fix the kind, infer the options type from the schema and route hooks through callPlugin

type Define<P extends { kind: PluginKind }> = Omit<P, 'kind'>;

/*
 * Each helper returns a new object whose hooks with options (`generate`, `unsupported`, `build`, `evaluate`,
 * `train`) go through `callPlugin`: a direct call validates its options against the schema (E_INVALID_OPTIONS
 * naming the plugin, never a raw ZodError), a strategy's `generate` asks `unsupported` first, and what a hook
 * throws is tagged with the plugin's id. Options that the schema already parsed (`resolveOptions`, the pipeline)
 * are not parsed again, so a hook receives its schema's output exactly once.
 */

export function defineDataset<O>(plugin: Define<DatasetPlugin<O>>): DatasetPlugin<O> {
  return bindPluginHooks({ kind: 'dataset', ...plugin } as DatasetPlugin<O>);
}
export function definePrototypeStrategy<O>(plugin: Define<PrototypeStrategy<O>>): PrototypeStrategy<O> {
  return bindPluginHooks({ kind: 'prototypes', ...plugin } as PrototypeStrategy<O>);
}
export function defineHead<O>(plugin: Define<HeadPlugin<O>>): HeadPlugin<O> {
  return bindPluginHooks({ kind: 'head', ...plugin } as HeadPlugin<O>);
}
export function defineEvaluator<O>(plugin: Define<EvaluatorPlugin<O>>): EvaluatorPlugin<O> {
  return bindPluginHooks({ kind: 'evaluator', ...plugin } as EvaluatorPlugin<O>);
}
export function defineEngine<O>(plugin: Define<EnginePlugin<O>>): EnginePlugin<O> {
  return bindPluginHooks({ kind: 'engine', ...plugin } as EnginePlugin<O>);
}
