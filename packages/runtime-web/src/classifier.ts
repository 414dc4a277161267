import * as ort from 'onnxruntime-web';
import { RuntimeWebError, errorMessage } from './errors.js';
import { readModelInfo, type ModelInfo } from './model-info.js';
import { topKRows, type ScoredClass } from './top-k.js';

export type WebProvider = 'webgpu' | 'wasm';

/** WebGPU first, then the CPU (WebAssembly) provider that every browser and Node.js can run. */
export const DEFAULT_PROVIDERS: readonly WebProvider[] = ['webgpu', 'wasm'];

export type LogLevel = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
const SEVERITY: Record<LogLevel, 0 | 1 | 2 | 3 | 4> = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 };

/** An ONNX file's bytes, or where to fetch it. */
export type ModelSource = Uint8Array | ArrayBuffer | string | URL;

/** Rows of features: an array of rows, or one flat row-major Float32Array of [rows * width] values. */
export type FeatureRows = readonly ArrayLike<number>[] | Float32Array;

export interface CreateWebClassifierOptions {
  /** Providers to try, in order; the first that loads the model and runs it wins. Default: webgpu, then wasm. */
  readonly providers?: readonly WebProvider[];
  /**
   * onnxruntime's log level for this session (and `ort.env.logLevel`, which is global). `verbose` logs where each
   * node was placed, e.g. "All nodes placed on [WebGpuExecutionProvider]".
   */
  readonly logLevel?: LogLevel;
  /**
   * Run one all-zero row right after loading (default true), so that a provider that loads the model but cannot run
   * it counts as failed and the next one is tried.
   */
  readonly probe?: boolean;
  /** Used to load a model given as a URL; defaults to the global fetch. */
  readonly fetch?: typeof fetch;
}

export interface ProviderAttempt {
  readonly provider: WebProvider;
  /** Why the provider was not used; absent for the one that ran. */
  readonly error?: string;
}

export interface PredictOptions {
  /** Also return the k best classes of each row (clamped to the class count). */
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
  /** Wall time of the inference call, in milliseconds. */
  readonly milliseconds: number;
}

/** A loaded model on the provider that could run it. Create with `createWebClassifier`. */
export class WebClassifier {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly session: ort.InferenceSession,
    /** The provider that runs the model. */
    readonly provider: WebProvider,
    /** Every provider tried, in order, with the reason each one before `provider` was passed over. */
    readonly attempts: readonly ProviderAttempt[],
    readonly info: ModelInfo,
    readonly inputName: string,
    /** Features per row, when the model's input shape or metadata says so. */
    readonly inputWidth: number | undefined,
    readonly scoreName: string,
    readonly labelName: string | undefined,
    private classCount: number | undefined,
  ) {}

  /** @internal */
  static async create(source: ModelSource, options: CreateWebClassifierOptions = {}): Promise<WebClassifier> {
    const bytes = await loadBytes(source, options.fetch);
    const info = readModelInfo(bytes);
    const providers = options.providers ?? DEFAULT_PROVIDERS;
    if (providers.length === 0) throw new RuntimeWebError('E_INVALID_INPUT', 'no execution providers to try');
    for (const provider of providers) {
      if (provider !== 'webgpu' && provider !== 'wasm') {
        throw new RuntimeWebError('E_INVALID_INPUT', `unknown execution provider "${String(provider)}": use webgpu or wasm`);
      }
    }
    if (options.logLevel) ort.env.logLevel = options.logLevel;

    const attempts: ProviderAttempt[] = [];
    for (const provider of providers) {
      const unavailable = provider === 'webgpu' ? await webGpuUnavailable() : undefined;
      if (unavailable) {
        attempts.push({ provider, error: unavailable });
        continue;
      }
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(bytes, {
          executionProviders: [provider],
          ...(options.logLevel ? { logSeverityLevel: SEVERITY[options.logLevel], logVerbosityLevel: 0 } : {}),
        });
      } catch (error) {
        attempts.push({ provider, error: errorMessage(error) });
        continue;
      }
      // A model that loads but is not a classifier fails the same on every provider: report it, don't fall back.
      let classifier: WebClassifier;
      try {
        classifier = WebClassifier.fromSession(session, provider, [...attempts, { provider }], info);
      } catch (error) {
        await session.release();
        throw error;
      }
      if (options.probe ?? true) {
        try {
          await classifier.probe();
        } catch (error) {
          attempts.push({ provider, error: `loaded, but a first run failed: ${errorMessage(error)}` });
          await session.release();
          continue;
        }
      }
      return classifier;
    }
    const tried = attempts.map((a) => `${a.provider}: ${a.error ?? 'failed'}`).join('; ');
    throw new RuntimeWebError('E_NO_ENGINE', `no execution provider could run the model (${tried})`, {
      hint: providers.includes('wasm') ? undefined : 'add "wasm" to the providers to fall back to the CPU',
    });
  }

  private static fromSession(session: ort.InferenceSession, provider: WebProvider, attempts: ProviderAttempt[], info: ModelInfo): WebClassifier {
    const inputName = session.inputNames.includes('features') ? 'features' : session.inputNames[0];
    if (inputName === undefined || session.inputNames.length !== 1) {
      throw new RuntimeWebError('E_INVALID_INPUT', `the model should have one input ("features"); it has ${session.inputNames.length} (${session.inputNames.join(', ')})`);
    }
    const scoreName = scoreOutputName(session, info);
    if (scoreName === undefined) {
      throw new RuntimeWebError('E_INVALID_INPUT', `the model has no [N, classes] score output such as "probabilities" or "scores" (outputs: ${session.outputNames.join(', ')})`, {
        hint: 'export it with `hyperproto export`',
      });
    }
    const labelName = session.outputNames.includes('label') ? 'label' : undefined;
    const input = tensorShape(session.inputMetadata, inputName);
    const output = tensorShape(session.outputMetadata, scoreName);
    const inputWidth = positive(input?.[1]) ?? positive(Number(metadataValue(info.metadata, ['inputwidth', 'width'])));
    const classes = positive(output?.[1]) ?? positive(Number(metadataValue(info.metadata, ['classes', 'classcount', 'numclasses'])));
    return new WebClassifier(session, provider, attempts, info, inputName, inputWidth, scoreName, labelName, classes);
  }

  /** The number of classes, from the model's output shape, its metadata or a first run. */
  get classes(): number | undefined {
    return this.classCount;
  }

  /** The model's metadata_props. */
  get metadata(): Readonly<Record<string, string>> {
    return this.info.metadata;
  }

  /** Why the preferred provider was not used, when it was not. */
  get fallbackReason(): string | undefined {
    const failed = this.attempts.filter((a) => a.error !== undefined);
    return failed.length ? failed.map((a) => `${a.provider}: ${a.error}`).join('; ') : undefined;
  }

  /** Class names from the metadata, when the exporter stored them (a JSON array, or one name per line). */
  get classNames(): string[] | undefined {
    const raw = metadataValue(this.info.metadata, ['classnames', 'labels', 'classlabels']);
    if (raw === undefined) return undefined;
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      // not JSON: fall through to one name per line
    }
    return raw.split(/\r?\n/);
  }

  /** Classifies a batch; calls are queued because an onnxruntime-web session runs one inference at a time. */
  predict(rows: FeatureRows, options: PredictOptions = {}): Promise<WebPrediction> {
    const topK = options.topK;
    if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1)) {
      return Promise.reject(new RuntimeWebError('E_INVALID_INPUT', `topK must be a whole number >= 1, not ${topK}`));
    }
    let batch: { data: Float32Array; rows: number; width: number };
    try {
      batch = toBatch(rows, this.inputWidth);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.queue.then(() => this.run(batch, topK));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async release(): Promise<void> {
    await this.queue;
    await this.session.release();
  }

  private async probe(): Promise<void> {
    const width = this.inputWidth;
    // Without a known width there is no valid row to try; the first real batch will tell.
    if (width === undefined) return;
    await this.run({ data: new Float32Array(width), rows: 1, width }, undefined);
  }

  private async run(batch: { data: Float32Array; rows: number; width: number }, topK: number | undefined): Promise<WebPrediction> {
    const feeds = { [this.inputName]: new ort.Tensor('float32', batch.data, [batch.rows, batch.width]) };
    const fetches = this.labelName ? [this.scoreName, this.labelName] : [this.scoreName];
    const started = performance.now();
    const outputs = await this.session.run(feeds, fetches);
    const milliseconds = performance.now() - started;
    const scoreTensor = outputs[this.scoreName];
    if (!scoreTensor || !(scoreTensor.data instanceof Float32Array) || scoreTensor.dims.length !== 2) {
      throw new RuntimeWebError('E_INVALID_INPUT', `the model's "${this.scoreName}" output is not a float32 [rows, classes] matrix`);
    }
    const scores = scoreTensor.data;
    const classes = scoreTensor.dims[1]!;
    this.classCount ??= classes;
    const labelData = this.labelName ? outputs[this.labelName]?.data : undefined;
    const labels = labelData ? Int32Array.from(labelData as ArrayLike<number | bigint>, Number) : argmaxRows(scores, batch.rows, classes);
    for (const tensor of Object.values(outputs)) tensor.dispose();
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
 * Loads a model and picks the first provider that runs it (default: webgpu, then wasm). The classifier reports
 * the provider it runs on (`provider`) and why earlier ones were passed over (`attempts`, `fallbackReason`).
 */
export function createWebClassifier(source: ModelSource, options: CreateWebClassifierOptions = {}): Promise<WebClassifier> {
  return WebClassifier.create(source, options);
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
  const url = String(source);
  const doFetch = fetchImpl ?? globalThis.fetch;
  let response: Response;
  try {
    response = await doFetch(url);
  } catch (error) {
    throw new RuntimeWebError('E_IO', `could not fetch the model from ${url}: ${errorMessage(error)}`, { cause: error });
  }
  if (!response.ok) {
    // A short plain-text body usually says why (e.g. a server started without a model).
    const type = response.headers.get('content-type') ?? '';
    const body = type.startsWith('text/plain') ? (await response.text().catch(() => '')).trim() : '';
    const why = body && body.length <= 200 ? ` (${body})` : '';
    throw new RuntimeWebError('E_IO', `could not fetch the model from ${url}: HTTP ${response.status} ${response.statusText}`.trim() + why);
  }
  return new Uint8Array(await response.arrayBuffer());
}

function toBatch(rows: FeatureRows, width: number | undefined): { data: Float32Array; rows: number; width: number } {
  if (rows instanceof Float32Array) {
    if (rows.length === 0) throw invalid('empty batch: give at least one row');
    if (width === undefined) throw invalid('the model does not declare its input width, so a flat Float32Array cannot be split into rows: pass an array of rows');
    if (rows.length % width !== 0) throw invalid(`a flat batch of ${rows.length} values is not a whole number of rows of ${width} features`);
    checkFinite(rows, width);
    return { data: rows, rows: rows.length / width, width };
  }
  if (!Array.isArray(rows)) throw invalid('rows must be an array of rows or a flat Float32Array');
  const first = rows[0];
  if (first === undefined) throw invalid('empty batch: give at least one row');
  const rowWidth = first.length;
  if (width !== undefined && rowWidth !== width) throw invalid(`the model expects ${width} features per row; row 1 has ${rowWidth}`);
  if (rowWidth === 0) throw invalid('row 1 is empty');
  const data = new Float32Array(rows.length * rowWidth);
  // A plain loop, not forEach, so that holes in a sparse array are reported rather than skipped.
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as ArrayLike<number> | undefined;
    if (row === undefined || row === null || typeof row.length !== 'number') throw invalid(`row ${r + 1} is not an array of numbers`);
    if (row.length !== rowWidth) throw invalid(`ragged rows: row ${r + 1} has ${row.length} values, row 1 has ${rowWidth}`);
    for (let c = 0; c < rowWidth; c++) {
      const value = row[c];
      if (typeof value !== 'number' || !Number.isFinite(value)) throw nonFinite(r, c, value);
      data[r * rowWidth + c] = value;
    }
  }
  return { data, rows: rows.length, width: rowWidth };
}

function checkFinite(data: Float32Array, width: number): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw nonFinite(Math.floor(i / width), i % width, data[i]);
  }
}

function nonFinite(row: number, column: number, value: unknown): RuntimeWebError {
  const shown = typeof value === 'number' ? String(value) : JSON.stringify(value) ?? String(value);
  return invalid(`row ${row + 1}, feature ${column + 1} is ${shown}: features must be finite numbers`);
}

function argmaxRows(scores: Float32Array, rows: number, classes: number): Int32Array {
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[r * classes + c]! > scores[r * classes + best]!) best = c;
    labels[r] = best;
  }
  return labels;
}

/** The head names its score output (metadata `scoresName`): softmax `probabilities`, HPN `scores`. */
function scoreOutputName(session: ort.InferenceSession, info: ModelInfo): string | undefined {
  const outputs = session.outputNames;
  const declared = metadataValue(info.metadata, ['scoresname']);
  if (declared !== undefined && outputs.includes(declared)) return declared;
  const known = ['probabilities', 'scores'].find((name) => outputs.includes(name));
  if (known) return known;
  // Otherwise the one float matrix that is not the optional top-k output.
  const candidates = outputs.filter((name) => {
    const meta = session.outputMetadata?.find((m) => m.name === name);
    return !name.startsWith('topk_') && meta?.isTensor === true && meta.type === 'float32' && meta.shape.length === 2;
  });
  return candidates.length === 1 ? candidates[0] : undefined;
}

function tensorShape(metadata: readonly ort.InferenceSession.ValueMetadata[] | undefined, name: string): readonly (number | string)[] | undefined {
  const entry = metadata?.find((m) => m.name === name);
  return entry && entry.isTensor ? entry.shape : undefined;
}

function positive(value: number | string | undefined): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** Looks a metadata key up ignoring case, separators and a `hyperproto` prefix (`input_width`, `hyperproto.inputWidth`). */
export function metadataValue(metadata: Readonly<Record<string, string>>, keys: readonly string[]): string | undefined {
  const normalise = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '').replace(/^hyperproto/, '');
  for (const [key, value] of Object.entries(metadata)) if (keys.includes(normalise(key))) return value;
  return undefined;
}

function invalid(message: string): RuntimeWebError {
  return new RuntimeWebError('E_INVALID_INPUT', message);
}
