import * as ort from 'onnxruntime-web';
import {
  argmaxOfScores,
  checkClassifierAnswers,
  checkPredictOptionsObject,
  checkProviderList,
  checkRunBytes,
  checkTopK,
  ContractErrorCode,
  errorMessage,
  invalidOptionError,
  ModelContractError,
  modelSizeProblem,
  partsOf,
  readOnnxModelInfo,
  releasedSessionError,
  resolveClassifierInterface,
  rowsPerRun,
  runInParts,
  selfCheckBatch,
  startOnFirstProvider,
  toFeatureMatrix,
  valueInfoOf,
  type AnswerStage,
  type ClassifierInterface,
  type FeatureMatrix,
  type ModelMetadata,
  type OutputValues,
  type ProviderOutcome,
  type SkippedProvider,
} from './contract.js';
import type { ModelInfo } from './model-info.js';
import { topKRows, type ScoredClass } from './top-k.js';

export type WebProvider = 'webgpu' | 'wasm';
const WEB_PROVIDERS: readonly WebProvider[] = ['webgpu', 'wasm'];

/** WebGPU first, then the CPU (WebAssembly) provider that every browser and Node.js can run. */
export const DEFAULT_PROVIDERS: readonly WebProvider[] = ['webgpu', 'wasm'];

/** onnxruntime-web's log levels, from the most said to the least; a level's index is its severity number. */
const LOG_LEVELS = ['verbose', 'info', 'warning', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** An ONNX file's bytes, or where to fetch it. */
export type ModelSource = Uint8Array | ArrayBuffer | string | URL;

/** Rows of features: an array of rows, or one flat row-major Float32Array of [rows * width] values. */
export type FeatureRows = readonly ArrayLike<number>[] | Float32Array;

export interface CreateWebClassifierOptions {
  /** Providers to try, in order of preference. Default: webgpu, then wasm. */
  readonly providers?: readonly WebProvider[];
  /**
   * Whether a provider that cannot run the model may be passed over for the next one in `providers` (the model
   * contract's one fallback policy, as in runtime-node). True by default here, unlike runtime-node: in a browser
   * WebGPU is a bonus that many machines lack, and a page should still answer on the CPU; the classifier reports
   * the provider that runs (`provider`) and why the others were passed over (`skipped`, `fallbackReason`). With
   * `fallback: false` the first provider that cannot run the model is an error (`E_NO_ENGINE`).
   */
  readonly fallback?: boolean;
  /**
   * onnxruntime's log level for this session (and `ort.env.logLevel`, which is global). `verbose` logs where each
   * node was placed, e.g. "All nodes placed on [WebGpuExecutionProvider]".
   */
  readonly logLevel?: LogLevel;
  /**
   * Run a few fixed rows right after loading (default true): a provider that loads the model but cannot run them
   * counts as failed and the next one is tried, and a model whose answers break its own interface (a label that is
   * not the best-scoring class, a wrong class count) is refused (`E_INVALID_INPUT`), as runtime-node and `serve`
   * refuse it. `false` skips both, for a model already checked.
   */
  readonly probe?: boolean;
  /**
   * The most one onnxruntime run may make in tensors, in bytes, by the bound the model file allows; an integer from
   * 1, RUN_BYTES (256 MiB) when absent. `predict` runs a batch whose rows could make more in parts (`rowsPerRun`),
   * so that a file built to make each row costly cannot make one run ask the page for more.
   */
  readonly runBytes?: number;
  /** Used to load a model given as a URL; defaults to the global fetch. */
  readonly fetch?: typeof fetch;
  /** Names the model in messages when it is given as bytes (a URL names itself); `the model` by default. */
  readonly source?: string;
}

/** A provider in the order tried: `error` says why it was passed over; the one that runs has none. */
export interface ProviderAttempt {
  readonly provider: WebProvider;
  /** Why the provider was not used; absent for the one that ran. */
  readonly error?: string;
}

export interface PredictOptions {
  /** Also return the k best classes of each row: an integer from 1 to the class count (E_INVALID_INPUT otherwise). */
  readonly topK?: number;
}

export interface WebPrediction {
  readonly rows: number;
  readonly classes: number;
  /** The model's output the scores came from: `probabilities` (softmax), `scores` (HPN cosines), or another head's. */
  readonly scoreName: string;
  /** The predicted class index of each row. */
  readonly labels: Int32Array;
  /** Row-major [rows, classes]. */
  readonly scores: Float32Array;
  /** Present when `topK` was asked for: the best classes of each row, best first. */
  readonly topK: ScoredClass[][] | undefined;
  readonly provider: WebProvider;
  /** Wall time of the inference calls (every part of a batch run in parts), in milliseconds. */
  readonly milliseconds: number;
}

/** A loaded model on the provider that could run it. Create with `createWebClassifier`. */
export class WebClassifier {
  private queue: Promise<unknown> = Promise.resolve();
  /** Set by the first `release()`: later predictions are refused, and every `release()` answers this. */
  private releasing: Promise<void> | undefined;
  /** Every provider tried, in order, with the reason each one before `provider` was passed over. */
  readonly attempts: readonly ProviderAttempt[];
  readonly inputName: string;
  /** Features per row, from the model's input shape or its metadata (the model contract requires one of them). */
  readonly inputWidth: number;
  readonly scoreName: string;
  readonly labelName: string | undefined;
  /** The model's metadata, typed by the model contract. */
  readonly modelMetadata: ModelMetadata;
  /**
   * The most rows one onnxruntime run takes: `predict` runs a larger batch in parts and answers it as one, so that
   * what a run makes stays within `runBytes` (RUN_BYTES by default) by the bound the model file allows
   * (`info.valuesPerRow` values of at most 8 bytes per row).
   */
  readonly rowsPerRun: number;
  private readonly contract: ClassifierInterface;

  private constructor(
    private readonly session: ort.InferenceSession,
    /** Names the model in messages. */
    private readonly source: string,
    /** The provider that runs the model. */
    readonly provider: WebProvider,
    /** The providers tried before `provider` that could not run the model, with why (empty unless it fell back). */
    readonly skipped: readonly SkippedProvider<WebProvider>[],
    readonly info: ModelInfo,
    contract: ClassifierInterface,
    runBytes: number | undefined,
  ) {
    this.contract = contract;
    this.rowsPerRun = rowsPerRun(info.valuesPerRow, runBytes);
    this.attempts = [...skipped.map((s) => ({ provider: s.provider, error: s.reason })), { provider }];
    this.inputName = contract.inputName;
    this.inputWidth = contract.inputWidth;
    this.scoreName = contract.scoresName;
    this.labelName = contract.labelName;
    this.modelMetadata = contract.metadata;
  }

  /** @internal */
  static async create(source: ModelSource, options: CreateWebClassifierOptions = {}): Promise<WebClassifier> {
    const providers = checkProviderList(options.providers ?? DEFAULT_PROVIDERS, WEB_PROVIDERS);
    checkCreateOptions(options);
    const name = typeof source === 'string' || source instanceof URL ? String(source) : (options.source ?? 'the model');
    const bytes = await loadBytes(source, options.fetch);
    const info = readOnnxModelInfo(bytes, name);
    if (options.logLevel) ort.env.logLevel = options.logLevel;

    const start = async (
      provider: WebProvider,
    ): Promise<ProviderOutcome<{ session: ort.InferenceSession; contract: ClassifierInterface }>> => {
      const hint = provider === 'webgpu' ? WEBGPU_HINT : undefined;
      const unavailable = provider === 'webgpu' ? await webGpuUnavailable() : undefined;
      if (unavailable) return { ok: false, reason: unavailable, ...(hint ? { hint } : {}) };
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(bytes, {
          executionProviders: [provider],
          ...(options.logLevel
            ? { logSeverityLevel: LOG_LEVELS.indexOf(options.logLevel) as 0 | 1 | 2 | 3 | 4, logVerbosityLevel: 0 }
            : {}),
        });
      } catch (error) {
        return { ok: false, reason: errorMessage(error), cause: error, ...(hint ? { hint } : {}) };
      }
      // A model that loads but is not a classifier fails the same on every provider: thrown, not passed over.
      let contract: ClassifierInterface;
      try {
        contract = resolveClassifierInterface(modelIo(session), info.metadata, name);
      } catch (error) {
        await session.release();
        throw error;
      }
      // In parts as any batch, so that a file whose rows may cost much makes no larger run at load than later.
      if (options.probe ?? true)
        for (const { part } of partsOf(selfCheckBatch(contract.inputWidth), rowsPerRun(info.valuesPerRow, options.runBytes))) {
          let outputs: RunOutputs;
          try {
            outputs = await runBatch(session, contract, part);
          } catch (error) {
            await session.release();
            return { ok: false, reason: `loaded, but a first run failed: ${errorMessage(error)}`, cause: error };
          }
          // Wrong answers are the model's, the same on every provider: thrown, not passed over.
          try {
            readAnswers(outputs, contract, part.rows, name, 'self-check');
          } catch (error) {
            await session.release();
            throw error;
          }
        }
      return { ok: true, value: { session, contract } };
    };
    const choice = await startOnFirstProvider(providers, { fallback: options.fallback ?? true, source: name }, start);
    return new WebClassifier(choice.value.session, name, choice.provider, choice.skipped, info, choice.value.contract, options.runBytes);
  }

  /** The number of classes, from the model's score output or its metadata (the model contract requires one of them). */
  get classes(): number {
    return this.contract.classes;
  }

  /** The model's metadata_props, as stored. */
  get metadata(): Readonly<Record<string, string>> {
    return this.info.metadata;
  }

  /** Why the preferred providers were not used, when they were not: `provider: reason`, joined by `; `. */
  get fallbackReason(): string | undefined {
    return this.skipped.length ? this.skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ') : undefined;
  }

  /** Class names from the metadata (`classNames`, a JSON array of one name per class), when the exporter stored them. */
  get classNames(): string[] | undefined {
    return this.contract.classNames ? [...this.contract.classNames] : undefined;
  }

  /**
   * Classifies a batch; calls are queued because an onnxruntime-web session runs one inference at a time. Rows are
   * checked by the model contract (empty batch, ragged rows, wrong width, values that are not finite numbers):
   * a refusal is an `InvalidFeaturesError` naming the 0-based row and column. Anything that is not rows (a
   * missing request field, a Float64Array) is refused the same way, naming what was given; so is a call after
   * `release()`. The model's answers are held to its interface, with or without `probe`
   * (`checkClassifierAnswers`): a batch it answers with a label that is no class or not the best score, or outputs
   * of the wrong shape, fails as a whole with `E_INTERNAL` (a `ModelAnswersError`), the model's fault. A row whose
   * scores are not finite (features far beyond the training data's range can overflow an honest model) is answered
   * as the model gave it, NaN included. A batch of more than `rowsPerRun` rows runs in parts, each part's answers
   * checked (messages name the row of the whole batch), and is answered as one run.
   */
  predict(rows: FeatureRows, options: PredictOptions = {}): Promise<WebPrediction> {
    let batch: FeatureMatrix;
    let topK: number | undefined;
    try {
      if (this.releasing) throw releasedSessionError(this.source);
      checkPredictOptionsObject(options);
      topK = options.topK === undefined ? undefined : checkTopK(options.topK, this.contract.classes);
      batch = toFeatureMatrix(rows, this.contract.inputWidth);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.queue.then(() => this.run(batch, topK));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Frees the session once the predictions already queued are done (they answer as usual); predictions asked for
   * after it are refused. Every call, the first or a later one, resolves once the session is freed.
   */
  release(): Promise<void> {
    this.releasing ??= this.queue.then(() => this.session.release());
    return this.releasing;
  }

  private async run(batch: FeatureMatrix, topK: number | undefined): Promise<WebPrediction> {
    let milliseconds = 0;
    const { scores, labels } = await runInParts(batch, this.rowsPerRun, async (part, startRow) => {
      const started = performance.now();
      const outputs = await runBatch(this.session, this.contract, part);
      milliseconds += performance.now() - started;
      // Every answer is held to the model's interface, as at load: a file can answer honestly there and lie here.
      return readAnswers(outputs, this.contract, part.rows, this.source, 'prediction', startRow);
    });
    const { classes } = this.contract;
    return {
      rows: batch.rows,
      classes,
      scoreName: this.scoreName,
      labels,
      scores,
      topK: topK === undefined ? undefined : topKRows(scores, batch.rows, classes, topK),
      provider: this.provider,
      milliseconds,
    };
  }
}

/**
 * Loads a model and runs it on the first provider that can (default: webgpu, then wasm, passing over a provider
 * that cannot unless `fallback: false`). The classifier reports the provider it runs on (`provider`) and why
 * earlier ones were passed over (`skipped`, `attempts`, `fallbackReason`).
 */
export function createWebClassifier(source: ModelSource, options: CreateWebClassifierOptions = {}): Promise<WebClassifier> {
  return WebClassifier.create(source, options);
}

/**
 * Refuses options outside their range before the model is fetched or loaded, naming the option and what it may be
 * (`E_INVALID_OPTIONS`): onnxruntime-web refuses an unknown log level only once the model is fetched, as a bare
 * "Unsupported logging level" with no code.
 */
function checkCreateOptions(options: CreateWebClassifierOptions): void {
  const { logLevel, fetch: fetchOption, source } = options;
  checkRunBytes(options.runBytes);
  if (logLevel !== undefined && !(LOG_LEVELS as readonly unknown[]).includes(logLevel))
    throw invalidOptionError(
      'logLevel',
      `one of ${LOG_LEVELS.map((level) => `"${level}"`).join(', ')} (onnxruntime-web's levels)`,
      logLevel,
    );
  for (const name of ['fallback', 'probe'] as const)
    if (options[name] !== undefined && typeof options[name] !== 'boolean') throw invalidOptionError(name, 'true or false', options[name]);
  if (fetchOption !== undefined && typeof fetchOption !== 'function') throw invalidOptionError('fetch', 'a fetch function', fetchOption);
  if (source !== undefined && typeof source !== 'string') throw invalidOptionError('source', 'a string', source);
}

const WEBGPU_HINT =
  'WebGPU needs a browser that has it and a secure origin (https or http://127.0.0.1); to run on the CPU instead, list "wasm" after "webgpu" and allow the fallback (the default).';

function modelIo(session: ort.InferenceSession): { inputs: ReturnType<typeof valueInfoOf>[]; outputs: ReturnType<typeof valueInfoOf>[] } {
  // Without value metadata (older builds), only the names are known and the model's metadata must give the sizes.
  const describe = (names: readonly string[], metadata: readonly ort.InferenceSession.ValueMetadata[] | undefined) =>
    names.map((name) => {
      const entry = metadata?.find((m) => m.name === name);
      return entry ? valueInfoOf(entry) : { name };
    });
  return { inputs: describe(session.inputNames, session.inputMetadata), outputs: describe(session.outputNames, session.outputMetadata) };
}

/** What one run gave: its outputs by name, read out of onnxruntime's tensors. */
type RunOutputs = Readonly<Record<string, OutputValues>>;

/** One inference: the score output and the label output, when the model has one. */
async function runBatch(session: ort.InferenceSession, contract: ClassifierInterface, batch: FeatureMatrix): Promise<RunOutputs> {
  const feeds = { [contract.inputName]: new ort.Tensor('float32', batch.data, [batch.rows, batch.cols]) };
  const fetches = contract.labelName ? [contract.scoresName, contract.labelName] : [contract.scoresName];
  const outputs = await session.run(feeds, fetches);
  const read: Record<string, OutputValues> = {};
  try {
    for (const [name, tensor] of Object.entries(outputs))
      read[name] = { dims: tensor.dims, data: tensor.data as unknown as ArrayLike<number | bigint>, type: tensor.type };
  } finally {
    // Disposing a CPU tensor keeps the data read from it; it frees what a GPU-located output holds.
    for (const tensor of Object.values(outputs)) tensor.dispose();
  }
  return read;
}

/**
 * The scores and labels of a run, once they keep the model's interface (`checkClassifierAnswers`: dims of the
 * batch, float32 scores, finite at the self-check, labels that are class indices picking the best finite score);
 * labels are the argmax of the scores for a model without a label output.
 */
function readAnswers(
  outputs: RunOutputs,
  contract: ClassifierInterface,
  rows: number,
  source: string,
  stage: AnswerStage,
  firstRow = 0,
): { scores: Float32Array; labels: Int32Array } {
  const { classes, scoresName, labelName } = contract;
  // onnxruntime gives every output it was asked for.
  const scores = outputs[scoresName] as OutputValues<number>;
  const label = labelName === undefined ? undefined : outputs[labelName];
  checkClassifierAnswers({ rows, classes, scores, ...(label ? { labels: label } : {}) }, source, stage, firstRow);
  const scoreData = scores.data as Float32Array;
  return { scores: scoreData, labels: label ? Int32Array.from(label.data, Number) : argmaxOfScores(scoreData, rows, classes) };
}

/** The reason WebGPU cannot be used here, or undefined when an adapter is available. */
async function webGpuUnavailable(): Promise<string | undefined> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter?: () => Promise<unknown> } } }).navigator?.gpu;
  if (!gpu || typeof gpu.requestAdapter !== 'function') {
    return 'WebGPU is not available here (no navigator.gpu: it needs a browser with WebGPU and a secure origin such as https or http://127.0.0.1)';
  }
  try {
    if (!(await gpu.requestAdapter())) {
      return 'WebGPU found no GPU adapter (Chromium without a supported GPU needs --enable-unsafe-webgpu)';
    }
  } catch (error) {
    return `WebGPU adapter request failed: ${errorMessage(error)}`;
  }
  return undefined;
}

async function loadBytes(source: ModelSource, fetchImpl: typeof fetch | undefined): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  return fetchModelBytes(String(source), fetchImpl ?? globalThis.fetch);
}

/** The model contract's size rule (modelSizeProblem): why a model of `size` bytes, or of at least that many, is refused. */
export type ModelSizeRule = (size: number, sizeIs: 'exact' | 'at least') => { readonly why: string; readonly hint: string } | undefined;

/**
 * The body of the model at `url`, held to the size rule before it is all in memory: a Content-Length over the
 * limit is refused before the body is read, and a body without one is counted as it arrives and cancelled as soon
 * as it passes the limit. `sizeProblem` is modelSizeProblem except in tests, which cannot send 2 GiB.
 * @internal
 */
export async function fetchModelBytes(
  url: string,
  doFetch: typeof fetch,
  sizeProblem: ModelSizeRule = modelSizeProblem,
): Promise<Uint8Array> {
  const unreachable = (error: unknown) =>
    new ModelContractError(ContractErrorCode.Io, `could not fetch the model from ${url}: ${errorMessage(error)}`, { cause: error });
  // The words and code readOnnxModelInfo refuses a whole file of that size with.
  const tooLarge = (problem: { readonly why: string; readonly hint: string }) =>
    new ModelContractError(ContractErrorCode.InvalidInput, `${url} is not a usable ONNX model: ${problem.why}`, { hint: problem.hint });
  let response: Response;
  try {
    response = await doFetch(url);
  } catch (error) {
    throw unreachable(error);
  }
  if (!response.ok) {
    // A short plain-text body usually says why (e.g. a server started without a model).
    const type = response.headers.get('content-type') ?? '';
    const body = type.startsWith('text/plain') ? (await response.text().catch(() => '')).trim() : '';
    const why = body && body.length <= 200 ? ` (${body})` : '';
    throw new ModelContractError(
      ContractErrorCode.Io,
      `could not fetch the model from ${url}: HTTP ${response.status} ${response.statusText}`.trim() + why,
    );
  }
  const declared = declaredLength(response.headers);
  const declaredProblem = declared === undefined ? undefined : sizeProblem(declared, 'exact');
  if (declaredProblem) {
    void response.body?.cancel().catch(() => undefined);
    throw tooLarge(declaredProblem);
  }
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (error) {
      throw unreachable(error);
    }
    if (next.done) break;
    size += next.value.length;
    const problem = sizeProblem(size, 'at least');
    if (problem) {
      // Cancelling closes the connection, so the server stops sending what would never be used.
      void reader.cancel().catch(() => undefined);
      throw tooLarge(problem);
    }
    chunks.push(next.value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/**
 * The body's length in bytes as its Content-Length says, when that is the length of the bytes read: not with a
 * Content-Encoding, whose Content-Length counts the compressed bytes. Undefined when it is absent or not a number.
 */
function declaredLength(headers: Headers): number | undefined {
  const encoding = headers.get('content-encoding')?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') return undefined;
  const length = headers.get('content-length')?.trim();
  return length && /^\d+$/.test(length) ? Number(length) : undefined;
}

/**
 * Looks a metadata key up ignoring case, separators and a `hyperproto` prefix (`input_width`, `hyperproto.inputWidth`):
 * for showing the metadata of any ONNX file. The classifier itself reads the exact keys of the model contract.
 */
export function metadataValue(metadata: Readonly<Record<string, string>>, keys: readonly string[]): string | undefined {
  const normalise = (key: string) =>
    key
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .replace(/^hyperproto/, '');
  for (const [key, value] of Object.entries(metadata)) if (keys.includes(normalise(key))) return value;
  return undefined;
}
