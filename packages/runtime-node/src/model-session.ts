import { constants, type Stats } from 'node:fs';
import { type FileHandle, mkdtemp, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  argmaxOfScores,
  checkClassifierAnswers,
  checkOnnxFileStart,
  checkPredictOptionsObject,
  checkProviderList,
  checkRunBytes,
  checkTopK,
  ContractErrorCode,
  describeFileKind,
  errorMessage,
  exportAgainHint,
  exportInstructions,
  invalidOptionError,
  LABEL_OUTPUT,
  ModelContractError,
  modelSizeProblem,
  narrowTopK,
  readOnnxModelInfo,
  releasedSessionError,
  resolveClassifierInterface,
  RUN_BYTES,
  partsOf,
  rowsPerRun as rowsPerRunOf,
  runInParts,
  selfCheckBatch,
  startOnFirstProvider,
  toFeatureMatrix,
  topKOfScores,
  TOPK_LABELS_OUTPUT,
  TOPK_SCORES_OUTPUT,
  valueInfoOf,
  type ClassifierAnswers,
  type ClassifierInterface,
  type FeatureMatrix,
  type OnnxModelInfo,
  type OutputValues,
  type ProviderOutcome,
  type SkippedProvider,
  type TopK,
} from '@hyperproto/model-contract';
import * as ort from 'onnxruntime-node';
import { explainCudaFailure, EXECUTION_PROVIDERS, type ExecutionProvider, type ProviderOptionWording } from './execution-providers.js';

/** The default of `runBytes`, defined by @hyperproto/model-contract with the rule of every runtime: 256 MiB. */
export { RUN_BYTES };

/** Output names of models written by @hyperproto/onnx (defined by @hyperproto/model-contract). */
export { LABEL_OUTPUT, TOPK_LABELS_OUTPUT, TOPK_SCORES_OUTPUT };

/** Feature rows as a row-major float32 matrix (a `@hyperproto/core` Matrix), or as an array of rows (e.g. parsed JSON). */
export type FeatureInput = FeatureMatrix | readonly (readonly number[])[];

export interface SessionOptions {
  /** Execution providers in order of preference; `['cpu']` by default. */
  readonly providers?: readonly ExecutionProvider[];
  /**
   * Whether a provider that cannot start may be passed over for the next one in `providers`; false by default, so
   * that a deployment asked to run on CUDA never runs on the CPU unnoticed. See `startOnFirstProvider` in
   * @hyperproto/model-contract for the policy every runtime follows.
   */
  readonly fallback?: boolean;
  /** Threads for one inference (onnxruntime's intra-op pool), an integer from 1; onnxruntime's default when absent. */
  readonly intraOpThreads?: number;
  /**
   * The most one onnxruntime run may make in tensors, in bytes, by the bound the model file allows; an integer from
   * 1, RUN_BYTES (256 MiB) when absent. `predict` runs a batch whose rows could make more in parts (`rowsPerRun`).
   */
  readonly runBytes?: number;
  /** The CUDA device to run on, an integer from 0; device 0 when absent. */
  readonly cudaDeviceId?: number;
  /**
   * Whether onnxruntime's threads spin while waiting for work: quicker back-to-back runs, but the spinning takes
   * CPU from everything else in the process (e.g. an HTTP server's event loop). onnxruntime's default (on) when absent.
   */
  readonly spinning?: boolean;
  /** Told when a provider is skipped in favour of the next. */
  readonly log?: (message: string) => void;
  /**
   * How `providers` and `fallback` are named in the hints of a provider that cannot start (`skipped[].hint`, the
   * E_NO_ENGINE error): these options' own names by default; a command line gives its flags.
   */
  readonly optionWording?: ProviderOptionWording;
  /** Names the model in messages when it is given as bytes. */
  readonly source?: string;
}

/** A provider that was tried and could not start, with why and what to do about it. */
export type ProviderAttempt = SkippedProvider<ExecutionProvider>;

/**
 * Options of one `predict`. `topK` is checked against the model (E_INVALID_INPUT, as a request's top-k is); the
 * others are the caller's settings, refused outside their range with E_INVALID_OPTIONS naming the option.
 */
export interface PredictOptions {
  /** Also return the k best classes of each row (1 to classes). */
  readonly topK?: number;
  /**
   * Return every class score (true or false); true by default. Off saves copying [rows, classes] floats out of
   * onnxruntime when the model computes its own top-k: the labels are then checked against it, not the scores.
   */
  readonly scores?: boolean;
  /** Most rows accepted at once, an integer from 1; no limit when absent. More rows are refused (`too-many-rows`). */
  readonly maxRows?: number;
  /** Names the input in messages. */
  readonly source?: string;
  /**
   * The number messages give the batch's first row, an integer from 0; 0 by default. A caller predicting a larger
   * input in chunks (a file) passes each chunk's place in it, so that a message about a row counts in that input.
   */
  readonly firstRow?: number;
}

export interface Prediction {
  readonly rows: number;
  readonly classes: number;
  /** Predicted class per row (the argmax of the scores). */
  readonly labels: Int32Array;
  /** The score of each predicted class. */
  readonly labelScores: Float32Array;
  /** [rows * classes], unless `scores: false`. */
  readonly scores?: Float32Array;
  readonly topK?: TopK;
}

/** One node of the model and the execution provider that ran it, e.g. `CUDAExecutionProvider`. */
export interface NodePlacement {
  readonly node: string;
  readonly op: string;
  readonly provider: string;
}

export interface ModelSession {
  /** The file path, or `source` for bytes. */
  readonly source: string;
  /** The execution provider the session runs on. */
  readonly provider: ExecutionProvider;
  /** Providers tried first that could not start, with why (empty unless `fallback` allowed passing them over). */
  readonly skipped: readonly ProviderAttempt[];
  readonly info: OnnxModelInfo;
  /** metadata_props: head, strategy, classes, dims, inputWidth, producerVersion, classNames, ... */
  readonly metadata: Readonly<Record<string, string>>;
  readonly inputName: string;
  readonly inputWidth: number;
  readonly classes: number;
  /** Name of the score output, e.g. `probabilities` (softmax) or `scores` (cosines, HPN). */
  readonly scoresName: string;
  readonly classNames?: readonly string[];
  /**
   * One name per input feature, in input order: the training data's column names (metadata `featureNames`), when
   * it had a header. A runtime reading named input (a CSV header) checks its columns against them.
   */
  readonly featureNames?: readonly string[];
  /** The training data's label column (metadata `labelColumn`): a named input may hold it, to be left out. */
  readonly labelColumn?: string;
  /** How many top-k columns the model computes itself (0 when it has no top-k outputs). */
  readonly modelTopK: number;
  /**
   * The most rows one onnxruntime run takes: `predict` runs a larger batch in parts, so that what a run makes stays
   * within `runBytes` (RUN_BYTES by default) by the bound the model file allows (`info.valuesPerRow` values of at
   * most 8 bytes per row).
   */
  readonly rowsPerRun: number;
  /**
   * Checks the rows (one of the batch forms, width, finite values, not ragged, not empty) and runs them as one
   * batch. A refusal is an InvalidFeaturesError (E_INVALID_INPUT) naming the problem; a call after `release()` is
   * E_INVALID_INPUT too, and options outside their range are E_INVALID_OPTIONS naming the option (PredictOptions).
   * The model's answers are held to its interface as at load (`checkClassifierAnswers`): a batch it answers with
   * a label that is no class or not the best score, or outputs of the wrong shape, fails as a whole with
   * E_INTERNAL (a `ModelAnswersError`), the model's fault. A row whose scores are not finite (features far beyond
   * the training data's range can overflow an honest model) is answered as the model gave it, NaN included.
   */
  predict(features: FeatureInput, options?: PredictOptions): Promise<Prediction>;
  /**
   * Where onnxruntime placed each node on this session's provider (a provider may leave nodes it cannot run to the
   * CPU): one profiled run of a twin session on a row of zeros. Costs a second session load; for diagnostics.
   */
  placement(): Promise<NodePlacement[]>;
  /**
   * Frees the onnxruntime session once the predictions and placements already started have finished (they resolve
   * as usual); `predict` and `placement` calls made after `release` are refused. Every call, the first or a later
   * one, resolves once the session is freed.
   */
  release(): Promise<void>;
}

let loggingQuietened = false;

/**
 * Opens an exported model on the first execution provider of `providers` (default `['cpu']`) that starts. A
 * provider that cannot start is an error (`E_NO_ENGINE`) naming it and what to do (for CUDA: how to install its
 * libraries), unless `fallback: true` allows the next provider in the list; the provider that runs is
 * `provider`, and the ones passed over are in `skipped`, with why. A file that is not a classifier this runtime
 * can serve is refused (`E_INVALID_INPUT`) without trying another provider: its interface is read, and it is run
 * once on a few fixed rows whose answers must keep it (labels that are class indices picking the best score;
 * `checkClassifierAnswers` in @hyperproto/model-contract). Options outside their range are refused first
 * (`E_INVALID_OPTIONS`, naming the option).
 */
export async function createSession(model: string | Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
  const source = typeof model === 'string' ? model : (options.source ?? 'the model');
  const providers = checkSessionOptions(options);
  const bytes = typeof model === 'string' ? await readModelFile(model) : model;
  const info = readOnnxModelInfo(bytes, source);

  if (!loggingQuietened) {
    // onnxruntime prints a provider's load failure to stderr itself; we report it as an error with a remedy instead.
    ort.env.logLevel = 'fatal';
    loggingQuietened = true;
  }
  const choice = await startOnFirstProvider(
    providers,
    { fallback: options.fallback ?? false, source, ...(options.log ? { log: options.log } : {}) },
    async (provider) => {
      let session: ort.InferenceSession;
      try {
        session = await loadOrtSession(bytes, sessionOptions(provider, options));
      } catch (error) {
        if (provider === 'cpu') {
          // The CPU provider is always present: a failure here is the model's.
          throw new ModelContractError(ContractErrorCode.InvalidInput, `onnxruntime cannot load ${source}: ${errorMessage(error)}`, {
            cause: error,
            hint: loadFailureHint(error, info),
          });
        }
        // The hint asks for the fallback unless it would run: allowed, and a provider left to fall back to.
        const fallbackRuns = options.fallback === true && providers.indexOf(provider) < providers.length - 1;
        return { ok: false, ...explainCudaFailure(error, options.optionWording, fallbackRuns), cause: error };
      }
      try {
        const io = { inputs: session.inputMetadata.map(valueInfoOf), outputs: session.outputMetadata.map(valueInfoOf) };
        const contract = resolveClassifierInterface(io, info.metadata, source);
        const checked = await selfCheck(session, contract, provider, source, rowsPerRunOf(info.valuesPerRow, options.runBytes));
        if (!checked.ok) await session.release();
        return checked.ok ? { ok: true, value: { session, contract } } : checked;
      } catch (error) {
        await session.release();
        throw error;
      }
    },
  );
  const { session, contract } = choice.value;
  return wrapSession(session, contract, {
    source,
    provider: choice.provider,
    skipped: choice.skipped,
    info,
    bytes,
    sessionOptions: sessionOptions(choice.provider, options),
    runBytes: options.runBytes ?? RUN_BYTES,
  });
}

/** What to do about a model onnxruntime cannot load; its IR version is named only when that is what it refused. */
function loadFailureHint(error: unknown, info: OnnxModelInfo): string {
  // onnxruntime's words: "Unsupported model IR version: 99, max supported IR version: 13".
  const newest = /max supported IR version: (\d+)/.exec(errorMessage(error))?.[1];
  if (newest !== undefined)
    return `This onnxruntime-node reads ONNX IR versions up to ${newest}, and the file has IR version ${info.irVersion}: export the model again with ${exportInstructions()}.`;
  return exportAgainHint();
}

/**
 * Creates an onnxruntime session with `model_external_initializers_file_folder_path` set to an empty folder made for
 * the load and removed after it. readOnnxModelInfo refuses a tensor with external data before onnxruntime sees the
 * file; should one get past it, onnxruntime looks for the data there rather than in the working directory (where a
 * server keeps its .env), and finds nothing. Exported for its test.
 */
export async function loadOrtSession(model: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  const empty = await mkdtemp(join(tmpdir(), 'hyperproto-no-external-data-'));
  try {
    const extra = options.extra as { session?: Record<string, unknown> } | undefined;
    return await ort.InferenceSession.create(model, {
      ...options,
      extra: { ...extra, session: { ...extra?.session, model_external_initializers_file_folder_path: empty } },
    });
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
}

/**
 * Refuses session options outside their range (E_INVALID_OPTIONS naming the option) and answers the providers to
 * try. Some are options onnxruntime would refuse only once it loads the model, with a message that blames the model
 * file; named here, with their allowed values, they are the caller's to fix. Exported for the worker session, which
 * refuses them before it starts a thread.
 */
export function checkSessionOptions(options: SessionOptions): readonly ExecutionProvider[] {
  const providers = checkProviderList(options.providers ?? ['cpu'], EXECUTION_PROVIDERS);
  const refuse = (name: keyof SessionOptions, rule: string) => invalidOptionError(name, rule, options[name]);
  const { intraOpThreads, cudaDeviceId } = options;
  checkRunBytes(options.runBytes);
  if (intraOpThreads !== undefined && !(Number.isInteger(intraOpThreads) && intraOpThreads >= 1))
    throw refuse('intraOpThreads', "an integer of at least 1 (threads per inference), or absent for onnxruntime's default");
  if (cudaDeviceId !== undefined && !(Number.isInteger(cudaDeviceId) && cudaDeviceId >= 0))
    throw refuse('cudaDeviceId', 'an integer of at least 0 (the CUDA device index)');
  for (const name of ['fallback', 'spinning'] as const)
    if (options[name] !== undefined && typeof options[name] !== 'boolean') throw refuse(name, 'true or false');
  if (options.log !== undefined && typeof options.log !== 'function') throw refuse('log', 'a function');
  if (options.source !== undefined && typeof options.source !== 'string') throw refuse('source', 'a string');
  return providers;
}

/**
 * Runs the self-check rows through a freshly loaded session, in parts of `rowsPerRun` rows as any batch (so that a
 * file whose rows may cost much makes no larger run at load than later), and checks the answers against the model's
 * interface. A run that fails is the model's fault on the CPU (refused); on another provider that provider is passed
 * over. Answers that break the interface are refused on every provider: the model computes them, not the provider.
 */
async function selfCheck(
  session: ort.InferenceSession,
  contract: ClassifierInterface,
  provider: ExecutionProvider,
  source: string,
  rowsPerRun: number,
): Promise<ProviderOutcome<true>> {
  const { inputName, inputWidth, scoresName, labelName, modelTopK } = contract;
  const fetches = [scoresName, ...(labelName ? [labelName] : []), ...(modelTopK > 0 ? [TOPK_SCORES_OUTPUT, TOPK_LABELS_OUTPUT] : [])];
  for (const { part } of partsOf(selfCheckBatch(inputWidth), rowsPerRun)) {
    let result: Record<string, ort.Tensor>;
    try {
      const feeds = { [inputName]: new ort.Tensor('float32', part.data, [part.rows, part.cols]) };
      result = (await session.run(feeds, fetches)) as Record<string, ort.Tensor>;
    } catch (error) {
      if (provider !== 'cpu') return { ok: false, reason: `loaded, but a first run failed: ${errorMessage(error)}`, cause: error };
      throw new ModelContractError(
        ContractErrorCode.InvalidInput,
        `onnxruntime loads ${source} but cannot run it: ${errorMessage(error)}`,
        {
          cause: error,
          hint: exportAgainHint(),
        },
      );
    }
    checkClassifierAnswers(answersOf(result, contract, part.rows), source, 'self-check');
  }
  return { ok: true, value: true };
}

/** The outputs of a run that `fetches` asked for, as the model contract's check reads them. */
function answersOf(result: Record<string, ort.Tensor>, contract: ClassifierInterface, rows: number): ClassifierAnswers {
  const output = <T extends number | bigint>(name: string | undefined): OutputValues<T> | undefined => {
    const tensor = name === undefined ? undefined : result[name];
    return tensor ? { dims: tensor.dims, data: tensor.data as unknown as ArrayLike<T>, type: tensor.type } : undefined;
  };
  const scores = output<number>(contract.scoresName);
  const labels = output(contract.labelName);
  const topLabels = output(TOPK_LABELS_OUTPUT);
  const topScores = output<number>(TOPK_SCORES_OUTPUT);
  return {
    rows,
    classes: contract.classes,
    ...(scores ? { scores } : {}),
    ...(labels ? { labels } : {}),
    ...(topLabels ? { topK: { k: contract.modelTopK, labels: topLabels, ...(topScores ? { scores: topScores } : {}) } } : {}),
  };
}

/** The first bytes of a model file, checked (checkOnnxFileStart) before the rest of it is read. */
const HEAD_BYTES = 64 * 1024;

/**
 * Reads a model file, refusing before it reads anything what it could not load or would never finish reading
 * (`E_IO` naming the path): a path that is not a regular file after following symlinks (a named pipe would block
 * the reader, a device such as /dev/zero never ends) and a file of more than MAX_MODEL_BYTES (@hyperproto/model-
 * contract's bound, 2 GiB). The file's first bytes are checked before the rest is read, so that a large file that
 * is not protobuf at all (zeros, text) is refused (`E_INVALID_INPUT`, as the whole file would be) without reading it.
 * The path is checked, then opened, then the open file is checked again, in case the path changed in between.
 */
async function readModelFile(path: string): Promise<Uint8Array> {
  let handle: FileHandle;
  try {
    checkModelFile(await stat(path), path);
    // O_NONBLOCK: should the path have become a pipe since it was checked, opening it returns instead of waiting.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw error instanceof ModelContractError ? error : unreadableModel(error, path);
  }
  try {
    const size = checkModelFile(await handle.stat(), path);
    const head = await readModelBytes(handle, new Uint8Array(Math.min(size, HEAD_BYTES)), 0, path);
    checkOnnxFileStart(head, path);
    if (head.length === size) return head;
    const bytes = new Uint8Array(size);
    bytes.set(head);
    await readModelBytes(handle, bytes.subarray(head.length), head.length, path);
    return bytes;
  } catch (error) {
    throw error instanceof ModelContractError ? error : unreadableModel(error, path);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** The size of a model file whose stat is `info`; E_IO unless a regular file of at most MAX_MODEL_BYTES. */
function checkModelFile(info: Stats, path: string): number {
  if (!info.isFile()) {
    throw new ModelContractError(
      ContractErrorCode.Io,
      `cannot read the model ${path}: it is ${describeFileKind(info)}, not a regular file; give the path of an ONNX model file`,
      info.isDirectory()
        ? {}
        : { hint: 'A model is read from a file: pipes and devices cannot be read as one. Save the model to a file and give its path.' },
    );
  }
  const tooLarge = modelSizeProblem(info.size);
  if (tooLarge)
    throw new ModelContractError(ContractErrorCode.Io, `cannot read the model ${path}: ${tooLarge.why}`, { hint: tooLarge.hint });
  return info.size;
}

/** Fills `bytes` from the file at `position`; E_IO if the file ends first (it changed while it was read). */
async function readModelBytes(handle: FileHandle, bytes: Uint8Array, position: number, path: string): Promise<Uint8Array> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesRead } = await handle.read(bytes, done, bytes.length - done, position + done);
    if (bytesRead === 0) {
      throw new ModelContractError(
        ContractErrorCode.Io,
        `cannot read the model ${path}: it ended at byte ${position + done}, before the size it had when opened; it changed while it was read`,
        { hint: 'Give the path of a model file that nothing is writing to.' },
      );
    }
    done += bytesRead;
  }
  return bytes;
}

function unreadableModel(error: unknown, path: string): ModelContractError {
  const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
  return new ModelContractError(ContractErrorCode.Io, `cannot read the model ${path}: ${reason}`, {
    cause: error,
    hint: `Make one with ${exportInstructions()}.`,
  });
}

function sessionOptions(provider: ExecutionProvider, options: SessionOptions): ort.InferenceSession.SessionOptions {
  const executionProvider: ort.InferenceSession.ExecutionProviderConfig =
    provider === 'cuda' ? { name: 'cuda', ...(options.cudaDeviceId === undefined ? {} : { deviceId: options.cudaDeviceId }) } : 'cpu';
  return {
    executionProviders: [executionProvider],
    graphOptimizationLevel: 'all',
    ...(options.intraOpThreads === undefined ? {} : { intraOpNumThreads: options.intraOpThreads }),
    ...(options.spinning === undefined ? {} : { extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } } }),
  };
}

interface SessionFacts {
  readonly source: string;
  readonly provider: ExecutionProvider;
  readonly skipped: readonly ProviderAttempt[];
  readonly info: OnnxModelInfo;
  readonly bytes: Uint8Array;
  readonly sessionOptions: ort.InferenceSession.SessionOptions;
  readonly runBytes: number;
}

function wrapSession(session: ort.InferenceSession, contract: ClassifierInterface, facts: SessionFacts): ModelSession {
  const { source, info } = facts;
  const { inputName, inputWidth, classes, scoresName, labelName, modelTopK, classNames, featureNames } = contract;
  const { labelColumn } = contract.metadata;

  // onnxruntime frees a session even while a run of it is under way: release waits for the calls started before
  // it, predictions and placements alike (a worker session's thread ends once the release is done, and a call it
  // has not answered by then would never be).
  let releasing: Promise<void> | undefined;
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(running: Promise<T>): Promise<T> => {
    inFlight.add(running);
    const settled = () => inFlight.delete(running);
    running.then(settled, settled);
    return running;
  };
  const predict = (features: FeatureInput, options: PredictOptions = {}): Promise<Prediction> =>
    releasing ? Promise.reject(releasedSessionError(source)) : track(runPredict(features, options));
  const release = (): Promise<void> => {
    releasing ??= Promise.allSettled(inFlight).then(() => session.release());
    return releasing;
  };

  // A file's tensors may hold up to `valuesPerRow` values for each row (readOnnxModelInfo): a batch is run in parts
  // of as many rows as `runBytes` allows (the model contract's rule), so that no file makes one run ask for more.
  const rowsPerRun = rowsPerRunOf(info.valuesPerRow, facts.runBytes);

  /** The outputs `fetches` of every row of `matrix`, each part's answers held to the model's interface. */
  const runRows = (
    matrix: FeatureMatrix,
    fetches: readonly string[],
    firstRow: number,
  ): Promise<Record<string, Float32Array | BigInt64Array>> =>
    runInParts(matrix, rowsPerRun, async (part, start) => {
      const result = await runBatch(session, info, inputName, part, fetches, source);
      // Every answer is held to the model's interface, as at load: a file can answer honestly there and lie here.
      checkClassifierAnswers(answersOf(result, contract, part.rows), source, 'prediction', firstRow + start);
      const values: Record<string, Float32Array | BigInt64Array> = {};
      for (const name of fetches) values[name] = result[name]!.data as Float32Array | BigInt64Array;
      return values;
    });

  const runPredict = async (features: FeatureInput, options: PredictOptions): Promise<Prediction> => {
    const { matrix, k } = checkPredictCall(features, options, contract);
    const wantScores = options.scores !== false;
    const modelCoversTopK = k !== undefined && k <= modelTopK;
    // The scores are copied out of onnxruntime only when they are asked for or needed to compute what was.
    const needScores = wantScores || !labelName || (k !== undefined && !modelCoversTopK) || modelTopK === 0;
    const fetches = [
      ...(needScores ? [scoresName] : []),
      ...(labelName ? [labelName] : []),
      ...(modelTopK > 0 && (modelCoversTopK || !needScores) ? [TOPK_SCORES_OUTPUT, TOPK_LABELS_OUTPUT] : []),
    ];
    const rows = matrix.rows;
    const result = await runRows(matrix, fetches, options.firstRow ?? 0);
    const scores = needScores ? (result[scoresName] as Float32Array) : undefined;
    const labels = labelName ? int32(result[labelName] as BigInt64Array) : argmaxOfScores(scores!, rows, classes);
    let topK: TopK | undefined;
    let modelTop: TopK | undefined;
    if (result[TOPK_SCORES_OUTPUT]) {
      modelTop = {
        k: modelTopK,
        scores: result[TOPK_SCORES_OUTPUT] as Float32Array,
        labels: int32(result[TOPK_LABELS_OUTPUT] as BigInt64Array),
      };
    }
    if (k !== undefined)
      topK =
        modelCoversTopK && modelTop
          ? narrowTopK(modelTop.labels, modelTop.scores, rows, modelTopK, k)
          : topKOfScores(scores!, rows, classes, k);
    const labelScores = new Float32Array(rows);
    for (let r = 0; r < rows; r++) labelScores[r] = scores ? scores[r * classes + labels[r]!]! : modelTop!.scores[r * modelTopK]!;
    return { rows, classes, labels, labelScores, ...(wantScores ? { scores } : {}), ...(topK ? { topK } : {}) };
  };

  return {
    source,
    provider: facts.provider,
    skipped: facts.skipped,
    info,
    metadata: info.metadata,
    inputName,
    inputWidth,
    classes,
    scoresName,
    ...(classNames ? { classNames } : {}),
    ...(featureNames ? { featureNames } : {}),
    ...(labelColumn === undefined ? {} : { labelColumn }),
    modelTopK,
    rowsPerRun,
    predict,
    placement: () => (releasing ? Promise.reject(releasedSessionError(source)) : track(profilePlacement(facts, inputName, inputWidth))),
    release,
  };
}

/**
 * The rows of a `predict` call as a checked matrix, and its top-k: the options first (E_INVALID_OPTIONS, or
 * E_INVALID_INPUT for a top-k the model cannot give), then the rows (an InvalidFeaturesError naming the problem).
 * Exported for the worker session, which checks a call before its rows are copied to the thread. The matrix is
 * the caller's own when `features` is one (or a flat Float32Array), a new one made from an array of rows.
 */
export function checkPredictCall(
  features: FeatureInput,
  options: PredictOptions,
  model: { readonly inputWidth: number; readonly classes: number },
): { matrix: FeatureMatrix; k: number | undefined } {
  checkPredictOptions(options);
  const k = options.topK === undefined ? undefined : checkTopK(options.topK, model.classes);
  const matrix = toFeatureMatrix(features, model.inputWidth, {
    ...(options.maxRows === undefined ? {} : { maxRows: options.maxRows }),
    ...(options.source === undefined ? {} : { source: options.source }),
    ...(options.firstRow === undefined ? {} : { firstRow: options.firstRow }),
  });
  return { matrix, k };
}

/** Refuses predict options outside their range before the rows are read (see PredictOptions). */
function checkPredictOptions(options: PredictOptions): void {
  checkPredictOptionsObject(options);
  const { maxRows, scores, source, firstRow } = options;
  if (maxRows !== undefined && !(Number.isInteger(maxRows) && maxRows >= 1))
    throw invalidOptionError('maxRows', 'an integer from 1 (the most rows one call takes), or absent for no limit', maxRows);
  if (scores !== undefined && typeof scores !== 'boolean') throw invalidOptionError('scores', 'true or false', scores);
  if (source !== undefined && typeof source !== 'string') throw invalidOptionError('source', 'a string', source);
  if (firstRow !== undefined && !(Number.isInteger(firstRow) && firstRow >= 0))
    throw invalidOptionError('firstRow', 'an integer from 0 (the number messages give the first row), or absent for 0', firstRow);
}

async function profilePlacement(facts: SessionFacts, inputName: string, inputWidth: number): Promise<NodePlacement[]> {
  const dir = await mkdtemp(join(tmpdir(), 'hyperproto-placement-'));
  try {
    const twin = await loadOrtSession(facts.bytes, {
      ...facts.sessionOptions,
      enableProfiling: true,
      profileFilePrefix: join(dir, 'profile'),
    });
    try {
      await twin.run({ [inputName]: new ort.Tensor('float32', new Float32Array(inputWidth), [1, inputWidth]) });
    } finally {
      twin.endProfiling();
      await twin.release();
    }
    const file = (await readdir(dir)).find((name) => name.endsWith('.json'));
    if (!file) throw new ModelContractError(ContractErrorCode.Internal, 'onnxruntime wrote no profile');
    const events = JSON.parse(await readFile(join(dir, file), 'utf8')) as {
      cat?: string;
      name?: string;
      args?: { op_name?: string; provider?: string };
    }[];
    const seen = new Map<string, NodePlacement>();
    for (const event of events) {
      if (event.cat !== 'Node' || !event.args?.provider || !event.name?.endsWith('_kernel_time')) continue;
      const node = event.name.slice(0, -'_kernel_time'.length);
      if (!seen.has(node)) seen.set(node, { node, op: event.args.op_name ?? '', provider: event.args.provider });
    }
    return [...seen.values()];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runBatch(
  session: ort.InferenceSession,
  info: OnnxModelInfo,
  inputName: string,
  matrix: FeatureMatrix,
  fetches: readonly string[],
  source: string,
): Promise<Record<string, ort.Tensor>> {
  try {
    const feeds = { [inputName]: new ort.Tensor('float32', matrix.data, [matrix.rows, matrix.cols]) };
    return (await session.run(feeds, fetches)) as Record<string, ort.Tensor>;
  } catch (error) {
    throw new ModelContractError(
      ContractErrorCode.Internal,
      `onnxruntime failed to run ${source} (${info.producerName || 'unknown producer'}): ${errorMessage(error)}`,
      { cause: error },
    );
  }
}

function int32(values: BigInt64Array): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]!);
  return out;
}
