import {
  prototypeGeometry,
  type EpochRecord,
  type ExperimentOutcome,
  type ExperimentSpec,
  type Metrics,
  type PrototypeGeometry,
  type SharedInput,
} from '@hyperproto/core';
import type { GitProvenance } from './git-provenance.js';
import { runKey } from './grid-expansion.js';
import { pluginsOfRun, type PluginOrigin } from './plugin-origins.js';

export const RECORD_FORMAT = 1;

export interface Scores {
  readonly accuracy: number | null;
  readonly macroF1: number | null;
}

export interface RunVersions {
  readonly node: string;
  /** `@hyperproto/*` package -> version, as the registry module and this package report them. */
  readonly hyperproto: Readonly<Record<string, string>>;
  /** TensorFlow.js version, when the application reports one. */
  readonly tfjs: string | null;
  /** Any other package versions the application reports. */
  readonly other: Readonly<Record<string, string>>;
}

/** One finished run, as stored on one line of results.jsonl. */
export interface RunRecord {
  readonly format: typeof RECORD_FORMAT;
  /** `dataset/model/s<seed>`. */
  readonly key: string;
  readonly dataset: string;
  readonly model: string;
  readonly seed: number;
  readonly classes: number;
  readonly head: string;
  readonly prototypes: { readonly strategy: string; readonly dims: number } | null;
  /**
   * Nearest-neighbour cosines, singular values, effective rank and condition of the run's prototypes (see
   * `prototypeGeometry` in core); null without prototypes, absent from records written before it existed.
   */
  readonly prototypeGeometry?: PrototypeGeometry | null;
  /** The full experiment spec, defaults filled: rerunning it reproduces the record's numbers on the same backend. */
  readonly spec: ExperimentSpec;
  /**
   * Scores on the test split; `bayes` is the dataset's optimal rule on the same split (the ceiling), `reference` that
   * rule's name as the dataset gives it (absent from records written before it was recorded, all of the gaussian
   * data's `bayes-optimal`), `classMean` the nearest-class-mean baseline (absent from records written before it existed).
   */
  readonly metrics: Scores & { readonly bayes: Scores | null; readonly reference?: string; readonly classMean?: Scores };
  /** The kept model's scores on the validation split, what calibration may use (absent from older records). */
  readonly validation?: Scores;
  /** Epoch (1-based) with the best validation score, whose weights were kept: epochs to convergence. */
  readonly bestEpoch: number;
  readonly epochs: number;
  readonly secondsPerEpoch: number;
  readonly history: readonly EpochRecord[];
  readonly engine: { readonly name: string; readonly backend: string };
  readonly versions: RunVersions;
  /**
   * Each plugin the run used with the package (name and version from its package.json) that provided it, third-party
   * ones included. Absent from records written before it existed.
   */
  readonly plugins?: readonly PluginOrigin[];
  /**
   * The commit of the checkout the running code came from (see `gitProvenance`), `dirty` with uncommitted changes;
   * null when it did not run from a git checkout. Absent from records written before it existed.
   */
  readonly git?: GitProvenance | null;
  /**
   * Wall time of each stage and in all, seconds (see `ExperimentOutcome.seconds`; `geometry` measures the
   * prototype geometry). `setup`, `evaluation` and `geometry` are absent from records written before they were
   * measured, `baseline` from those before the baseline existed. A stage whose input was reused took only its copy.
   */
  readonly seconds: RunSeconds;
  /**
   * What this run took from its worker's store instead of making it, because an earlier run of the same worker
   * made the same (same plugin, options and seed): absent when nothing was reused, and from older records.
   */
  readonly reused?: readonly RunInput[];
  /**
   * The memory of the process the run executed in, sampled while it ran (see {@link RunMemory}): set by the thread
   * that started the run, so absent from runs executed inline (in the sampling thread itself) and from records
   * written before it was measured.
   */
  readonly memory?: RunMemory;
  /** Facts the dataset reported (sizes, noise level). */
  readonly data: Readonly<Record<string, unknown>>;
  /** Everything each evaluator returned. */
  readonly evaluators: Readonly<Record<string, Metrics>>;
  readonly finishedAt: string;
}

export interface RunSeconds {
  readonly data: number;
  readonly prototypes: number;
  readonly setup?: number;
  readonly training: number;
  readonly evaluation?: number;
  readonly baseline?: number;
  readonly geometry?: number;
  readonly total: number;
}

/**
 * The resident set (`process.memoryUsage.rss()`) of the process a run executed in, sampled by the process's main
 * thread every `sampleMilliseconds` from the run's start to its end. Runs execute in worker threads of one process,
 * so the numbers are the process's: with several runs at once (`concurrentRuns` > 1) the peak is shared with the
 * runs beside it and includes their memory; `--workers 1` measures a run's own peak. A step shorter than the
 * sampling interval can peak between two samples unseen.
 */
export interface RunMemory {
  /** Largest resident set seen from the run's start to its end (both included), bytes. */
  readonly peakResidentBytes: number;
  /** Resident set as the run started, bytes: what the process already held (its other runs, its stores). */
  readonly startResidentBytes: number;
  /** Most runs that executed in the process at once while this one ran, this one included. */
  readonly concurrentRuns: number;
  /** Interval between two samples, milliseconds. */
  readonly sampleMilliseconds: number;
}

/** An input a run can take from its worker's store (see {@link RunRecord.reused}). */
export type RunInput = SharedInput | 'geometry';

/** The prototype geometry of a run as measured for its record (or taken from the worker's store). */
export interface MeasuredGeometry {
  readonly geometry: PrototypeGeometry | null;
  readonly seconds: number;
  readonly reused: boolean;
}

/** What a session knows about the code that runs: recorded with every run. */
export interface RunProvenance {
  readonly versions: RunVersions;
  readonly git: GitProvenance | null;
  /** Origins of every plugin in the registry; each record keeps those of the plugins it used. */
  readonly plugins: readonly PluginOrigin[];
}

export interface RunIdentity {
  readonly key: string;
  readonly dataset: string;
  readonly model: string;
  readonly seed: number;
}

function scores(metrics: Metrics | undefined): Scores {
  const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : null);
  return { accuracy: number(metrics?.accuracy), macroF1: number(metrics?.macroF1) };
}

/**
 * The record of a finished run (plain JSON: it crosses threads and lands in a file). The prototype geometry is
 * measured in the thread that ran the experiment (0.7 s of one core for 1,000 x 1,000 prototypes, skipped with a
 * note past `GEOMETRY_WORK_LIMIT`): here unless `measured` brings it (`executeRun` takes it from the worker's store
 * when an earlier run measured the same prototype set).
 */
export function recordFromOutcome(
  run: RunIdentity,
  outcome: ExperimentOutcome,
  provenance: RunProvenance,
  now = new Date(),
  measured: MeasuredGeometry = geometryOfRun(run, outcome),
): RunRecord {
  const reused: RunInput[] = [...outcome.reused, ...(measured.reused ? (['geometry'] as const) : [])];
  const history = outcome.training.history.map((e) => ({ ...e }));
  const seconds = history.reduce((sum, e) => sum + e.seconds, 0);
  const reference = outcome.referenceMetrics?.classification;
  const prototypes = outcome.spec.prototypes;
  return {
    format: RECORD_FORMAT,
    key: run.key,
    dataset: run.dataset,
    model: run.model,
    seed: run.seed,
    classes: outcome.dataset.classes,
    head: outcome.spec.head.name,
    prototypes:
      prototypes && outcome.prototypes
        ? { strategy: 'strategy' in prototypes ? prototypes.strategy : `file:${prototypes.file}`, dims: outcome.prototypes.cols }
        : null,
    prototypeGeometry: measured.geometry,
    spec: outcome.spec,
    metrics: {
      ...scores(outcome.metrics.classification),
      bayes: reference ? scores(reference) : null,
      ...(outcome.dataset.reference ? { reference: outcome.dataset.reference.name } : {}),
      classMean: scores(outcome.baselineMetrics.classification),
    },
    validation: scores(outcome.validationMetrics.classification),
    bestEpoch: outcome.training.bestEpoch,
    epochs: history.length,
    secondsPerEpoch: history.length ? seconds / history.length : 0,
    history,
    engine: { name: outcome.engine.name, backend: outcome.engine.backend },
    versions: provenance.versions,
    plugins: pluginsOfRun(outcome.spec, outcome.engine.name, provenance.plugins),
    git: provenance.git,
    seconds: { ...outcome.seconds, geometry: measured.seconds, total: outcome.seconds.total + measured.seconds },
    ...(reused.length ? { reused } : {}),
    data: outcome.dataset.info,
    evaluators: outcome.metrics,
    finishedAt: now.toISOString(),
  };
}

/** The geometry of the run's prototypes (null without prototypes), timed. */
export function geometryOfRun(run: RunIdentity, outcome: ExperimentOutcome): MeasuredGeometry {
  const started = performance.now();
  const geometry = outcome.prototypes ? prototypeGeometry(outcome.prototypes, { source: `the prototypes of ${run.key}` }) : null;
  return { geometry, seconds: (performance.now() - started) / 1000, reused: false };
}

/** Why a parsed line is not a usable record, or undefined when it is one. */
export function recordProblem(value: unknown): string | undefined {
  if (!isJsonObject(value)) return 'not a JSON object';
  if (value.format !== RECORD_FORMAT) return `format ${JSON.stringify(value.format)} is not ${RECORD_FORMAT}`;
  // The fields the report and --resume read: a record that passes is one they can use without a TypeError or a NaN.
  const problem = fieldsProblem(value, '', RECORD_FIELDS);
  if (problem) return problem;
  // The key names the run; one that disagrees with the record's own dataset, model and seed names another run.
  const key = runKey(value.dataset as string, value.model as string, value.seed as number);
  if (value.key !== key) return `"key" ${JSON.stringify(value.key)} is not ${JSON.stringify(key)}, the key of its dataset, model and seed`;
  return undefined;
}

/**
 * Who wrote the field of a record that a {@link recordProblem} names, when it is a plugin's (`engine:<name>`,
 * `dataset:<name>`) or the registry module's (`the registry module`, for its versions): what a refused record is blamed
 * on. Undefined for the fields the runner makes itself.
 */
export function recordProblemAuthor(problem: string, record: RunRecord): string | undefined {
  // fieldsProblem names the field first: `"history.0.trainLoss" is not ...`.
  const field = /^"([^".]+)/.exec(problem)?.[1];
  // The record is the one refused, so any field of it may be broken: each is looked at before it is used.
  const nameOf = (ref: unknown) => (isJsonObject(ref) && typeof ref.name === 'string' ? ref.name : undefined);
  const spec: unknown = record.spec;
  const specRef = (kind: string) => (isJsonObject(spec) ? nameOf(spec[kind]) : undefined);
  if (field === 'history' || field === 'bestEpoch' || field === 'epochs' || field === 'secondsPerEpoch' || field === 'engine') {
    const engine = nameOf(record.engine) ?? specRef('engine');
    return engine ? `engine:${engine}` : 'the engine';
  }
  if (field === 'classes' || field === 'data' || problem.startsWith('"metrics.reference"')) {
    const dataset = specRef('dataset');
    return dataset ? `dataset:${dataset}` : 'the dataset';
  }
  if (field === 'versions') return 'the registry module';
  return undefined;
}

/** A JSON object: not null, not a list. */
export const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** What a field of a JSON line must be: `is` says whether a present value fits; an `optional` field may be absent. */
export interface FieldRule {
  readonly is: (value: unknown) => boolean;
  /** The kind in words, for `"field" is not <what>`. */
  readonly what: string;
  readonly optional?: boolean;
  /** Rules of the fields of an object value, checked once `is` holds. */
  readonly fields?: Readonly<Record<string, FieldRule>>;
  /** The rule of every item of a list value, checked once `is` holds. */
  readonly items?: FieldRule;
}

const rule = (is: (value: unknown) => boolean, what: string): FieldRule => ({ is, what });
export const NUMBER = rule((v) => typeof v === 'number', 'a number');
export const STRING = rule((v) => typeof v === 'string', 'a string');
export const BOOLEAN = rule((v) => typeof v === 'boolean', 'a boolean');
const NUMBER_OR_NULL = rule((v) => v === null || typeof v === 'number', 'a number or null');
const STRING_OR_NULL = rule((v) => v === null || typeof v === 'string', 'a string or null');
const STRING_MAP = rule((v) => isJsonObject(v) && Object.values(v).every((x) => typeof x === 'string'), 'an object of strings');
const OBJECT = rule(isJsonObject, 'an object');
const OBJECT_OR_NULL = rule((v) => v === null || isJsonObject(v), 'an object or null');
export const optional = (of: FieldRule): FieldRule => ({ ...of, optional: true });
const object = (fields: Readonly<Record<string, FieldRule>>, of = OBJECT): FieldRule => ({ ...of, fields });
const list = (items: FieldRule): FieldRule => ({ ...rule(Array.isArray, 'a list'), items });

/**
 * The first field of `value` that breaks its rule, as `"path.field" is not <what>`; undefined when every field fits.
 * Fields without a rule are not looked at.
 */
export function fieldsProblem(
  value: Record<string, unknown>,
  path: string,
  rules: Readonly<Record<string, FieldRule>>,
): string | undefined {
  for (const [field, fieldRule] of Object.entries(rules)) {
    const v = value[field];
    if (v === undefined && fieldRule.optional) continue;
    const problem = valueProblem(v, path ? `${path}.${field}` : field, fieldRule);
    if (problem) return problem;
  }
  return undefined;
}

function valueProblem(value: unknown, at: string, valueRule: FieldRule): string | undefined {
  if (!valueRule.is(value)) return `"${at}" is not ${valueRule.what}`;
  if (valueRule.fields && isJsonObject(value)) return fieldsProblem(value, at, valueRule.fields);
  if (valueRule.items && Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const problem = valueProblem(item, `${at}.${i}`, valueRule.items);
      if (problem) return problem;
    }
  }
  return undefined;
}

const SCORES = { accuracy: NUMBER_OR_NULL, macroF1: NUMBER_OR_NULL };

/**
 * One epoch of `history` (see `EpochRecord`): the fields training always writes, then those that came later. The
 * later ones are only shown, never computed with, so null is taken too: JSON writes a score or loss that overflowed
 * (Infinity, NaN) as null, and the report leaves out what is not a number.
 */
const EPOCH_FIELDS = {
  epoch: NUMBER,
  trainLoss: NUMBER,
  validationLoss: NUMBER,
  validationAccuracy: NUMBER,
  seconds: NUMBER,
  validationMacroF1: optional(NUMBER_OR_NULL),
  testLoss: optional(NUMBER_OR_NULL),
  testAccuracy: optional(NUMBER_OR_NULL),
  testMacroF1: optional(NUMBER_OR_NULL),
  testSeconds: optional(NUMBER_OR_NULL),
} satisfies Record<keyof EpochRecord, FieldRule>;

/** The record's fields, as {@link RunRecord} has them (optional: absent from records written before they existed). */
const RECORD_FIELDS: Readonly<Record<string, FieldRule>> = {
  key: STRING,
  dataset: STRING,
  model: STRING,
  seed: NUMBER,
  classes: NUMBER,
  head: STRING,
  bestEpoch: NUMBER,
  epochs: NUMBER,
  secondsPerEpoch: NUMBER,
  spec: OBJECT,
  history: list(object(EPOCH_FIELDS)),
  metrics: object({
    ...SCORES,
    bayes: object(SCORES, OBJECT_OR_NULL),
    reference: optional(STRING),
    classMean: optional(object(SCORES)),
  }),
  validation: optional(object(SCORES)),
  seconds: object({
    data: NUMBER,
    prototypes: NUMBER,
    setup: optional(NUMBER),
    training: NUMBER,
    evaluation: optional(NUMBER),
    baseline: optional(NUMBER),
    geometry: optional(NUMBER),
    total: NUMBER,
  } satisfies Record<keyof RunSeconds, FieldRule>),
  engine: object({ name: STRING, backend: STRING }),
  versions: object({ node: STRING, hyperproto: STRING_MAP, tfjs: optional(STRING_OR_NULL), other: STRING_MAP }),
  prototypes: object({ strategy: STRING, dims: NUMBER }, OBJECT_OR_NULL),
  prototypeGeometry: optional(OBJECT_OR_NULL),
  data: OBJECT,
  git: optional(object({ commit: STRING, dirty: BOOLEAN }, OBJECT_OR_NULL)),
  reused: optional(list(STRING)),
  memory: optional(
    object({
      peakResidentBytes: NUMBER,
      startResidentBytes: NUMBER,
      concurrentRuns: NUMBER,
      sampleMilliseconds: NUMBER,
    } satisfies Record<keyof RunMemory, FieldRule>),
  ),
  finishedAt: STRING,
};
