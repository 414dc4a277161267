import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, HyperprotoError, type Matrix } from '@hyperproto/core';
import * as ort from 'onnxruntime-node';
import { explainCudaFailure, isExecutionProvider, EXECUTION_PROVIDERS, type ExecutionProvider } from './execution-providers.js';
import { toFeatureMatrix, type FeatureInput } from './feature-rows.js';
import { readOnnxModelInfo, type OnnxModelInfo } from './onnx-model-info.js';
import { narrowTopK, topKOfScores, type TopK } from './top-k.js';

/** Output names of models written by @hyperproto/onnx. */
export const LABEL_OUTPUT = 'label';
export const TOPK_SCORES_OUTPUT = 'topk_scores';
export const TOPK_LABELS_OUTPUT = 'topk_labels';

export interface SessionOptions {
  /** Execution providers in order of preference; `['cpu']` by default. */
  readonly providers?: readonly ExecutionProvider[];
  /** Whether a provider that cannot start may be passed over for the next one in `providers`; false by default. */
  readonly fallback?: boolean;
  /** Threads for one inference (onnxruntime's intra-op pool); onnxruntime's default when absent. */
  readonly intraOpThreads?: number;
  readonly cudaDeviceId?: number;
  /**
   * Whether onnxruntime's threads spin while waiting for work: quicker back-to-back runs, but the spinning takes
   * CPU from everything else in the process (e.g. an HTTP server's event loop). onnxruntime's default (on) when absent.
   */
  readonly spinning?: boolean;
  /** Told when a provider is skipped in favour of the next. */
  readonly log?: (message: string) => void;
  /** Names the model in messages when it is given as bytes. */
  readonly source?: string;
}

/** A provider that was tried and could not start. */
export interface ProviderAttempt {
  readonly provider: ExecutionProvider;
  readonly reason: string;
  readonly hint?: string;
}

export interface PredictOptions {
  /** Also return the k best classes of each row (1 to classes). */
  readonly topK?: number;
  /** Return every class score; true by default. Off saves copying [rows, classes] floats out of onnxruntime. */
  readonly scores?: boolean;
  /** Most rows accepted at once. */
  readonly maxRows?: number;
  /** Names the input in messages. */
  readonly source?: string;
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
  /** Providers tried first that could not start, with why. */
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
  /** How many top-k columns the model computes itself (0 when it has no top-k outputs). */
  readonly modelTopK: number;
  /** Checks the rows (width, finite values, not ragged, not empty) and runs them as one batch. */
  predict(features: FeatureInput, options?: PredictOptions): Promise<Prediction>;
  /**
   * Where onnxruntime placed each node on this session's provider (a provider may leave nodes it cannot run to the
   * CPU): one profiled run of a twin session on a row of zeros. Costs a second session load; for diagnostics.
   */
  placement(): Promise<NodePlacement[]>;
  release(): Promise<void>;
}

let loggingQuietened = false;

/**
 * Opens an exported model on the first execution provider of `providers` that starts. A provider that cannot
 * start is an error naming it and what to do (for CUDA: how to install its libraries), unless `fallback` allows
 * the next provider in the list, which is then reported in `skipped`.
 */
export async function createSession(model: string | Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
  const source = typeof model === 'string' ? model : (options.source ?? 'the model');
  const providers = options.providers ?? ['cpu'];
  checkProviders(providers);
  const bytes = typeof model === 'string' ? await readModelFile(model) : model;
  const info = readOnnxModelInfo(bytes, source);

  if (!loggingQuietened) {
    // onnxruntime prints a provider's load failure to stderr itself; we report it as an error with a remedy instead.
    ort.env.logLevel = 'fatal';
    loggingQuietened = true;
  }
  const skipped: ProviderAttempt[] = [];
  for (let i = 0; i < providers.length; i++) {
    const provider = providers[i]!;
    try {
      const session = await ort.InferenceSession.create(bytes, sessionOptions(provider, options));
      try {
        return wrapSession(session, { source, provider, skipped, info, bytes, sessionOptions: sessionOptions(provider, options) });
      } catch (error) {
        await session.release();
        throw error;
      }
    } catch (error) {
      if (error instanceof HyperprotoError) throw error;
      if (provider === 'cpu') {
        // The CPU provider is always present: a failure here is the model's.
        const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
        throw new HyperprotoError(ErrorCode.InvalidInput, `onnxruntime cannot load ${source}: ${message}`, {
          cause: error,
          hint: 'Export the model again with `hyperproto export`; onnxruntime-node 1.30 reads ONNX IR versions up to 10.',
        });
      }
      const { reason, hint } = explainCudaFailure(error);
      skipped.push({ provider, reason, hint });
      const next = providers[i + 1];
      if (next === undefined || !options.fallback) {
        const tried = skipped.map((s) => `[${s.provider}] ${s.reason}`).join('; ');
        throw new HyperprotoError(ErrorCode.NoEngine, `no execution provider could start for ${source}: ${tried}`, { cause: error, hint });
      }
      options.log?.(`${provider} execution provider unavailable: ${reason}; falling back to ${next} as allowed`);
    }
  }
  throw new HyperprotoError(ErrorCode.Internal, 'createSession tried no provider');
}

function checkProviders(providers: readonly string[]): void {
  if (providers.length === 0) throw new HyperprotoError(ErrorCode.InvalidOptions, `name at least one execution provider (${EXECUTION_PROVIDERS.join(', ')})`);
  for (const provider of providers) {
    if (!isExecutionProvider(provider)) {
      throw new HyperprotoError(ErrorCode.InvalidOptions, `unknown execution provider "${provider}"; choose from ${EXECUTION_PROVIDERS.join(', ')}`);
    }
  }
  if (new Set(providers).size !== providers.length) throw new HyperprotoError(ErrorCode.InvalidOptions, `execution provider listed twice: ${providers.join(', ')}`);
}

async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new HyperprotoError(ErrorCode.Io, `cannot read the model ${path}: ${reason}`, { cause: error, hint: 'Make one with `hyperproto export RUN_DIR --out model.onnx`.' });
  }
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
}

function wrapSession(session: ort.InferenceSession, facts: SessionFacts): ModelSession {
  const { source, info } = facts;
  const refuse = (why: string) =>
    new HyperprotoError(ErrorCode.InvalidInput, `${source} is not a classifier this runtime can serve: ${why}`, {
      hint: 'Use a model written by `hyperproto export`: one float32 input [N, width], scores [N, classes] and a label output.',
    });
  if (session.inputNames.length !== 1) throw refuse(`it has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}), not 1`);
  const input = session.inputMetadata[0]!;
  const inputShape = input.isTensor ? input.shape : [];
  if (!input.isTensor || input.type !== 'float32' || inputShape.length !== 2 || typeof inputShape[1] !== 'number') {
    throw refuse(`its input "${input.name}" is not a float32 matrix [N, width] of fixed width`);
  }
  const inputWidth = inputShape[1] as number;
  const outputs = new Map(session.outputMetadata.map((m) => [m.name, m]));
  const isScoreMatrix = (name: string) => {
    const m = outputs.get(name);
    return m?.isTensor === true && m.type === 'float32' && m.shape.length === 2;
  };
  const named = info.metadata.scoresName;
  const scoresName =
    named !== undefined && isScoreMatrix(named)
      ? named
      : session.outputNames.find((name) => name !== TOPK_SCORES_OUTPUT && isScoreMatrix(name));
  if (!scoresName) throw refuse(`it has no float32 score output [N, classes] (outputs: ${session.outputNames.join(', ')})`);
  const scoresMeta = outputs.get(scoresName) as ort.InferenceSession.TensorValueMetadata;
  const classes = typeof scoresMeta.shape[1] === 'number' ? scoresMeta.shape[1] : Number(info.metadata.classes);
  if (!Number.isInteger(classes) || classes < 1) throw refuse(`the class count of "${scoresName}" is unknown`);
  const hasLabel = outputs.has(LABEL_OUTPUT);
  const topKMeta = outputs.get(TOPK_SCORES_OUTPUT);
  const modelTopK =
    topKMeta?.isTensor && outputs.has(TOPK_LABELS_OUTPUT) && typeof topKMeta.shape[1] === 'number' ? (topKMeta.shape[1] as number) : 0;
  const classNames = parseClassNames(info.metadata.classNames, classes);

  const predict = async (features: FeatureInput, options: PredictOptions = {}): Promise<Prediction> => {
    const k = options.topK;
    if (k !== undefined && (!Number.isInteger(k) || k < 1 || k > classes)) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `top-k must be an integer from 1 to the model's ${classes} classes, got ${k}`);
    }
    const matrix = toFeatureMatrix(features, inputWidth, { maxRows: options.maxRows, source: options.source });
    const wantScores = options.scores !== false;
    const modelCoversTopK = k !== undefined && k <= modelTopK;
    const needScores = wantScores || !hasLabel || (k !== undefined && !modelCoversTopK) || modelTopK === 0;
    const fetches = [
      ...(needScores ? [scoresName] : []),
      ...(hasLabel ? [LABEL_OUTPUT] : []),
      ...(modelTopK > 0 && (modelCoversTopK || !needScores) ? [TOPK_SCORES_OUTPUT, TOPK_LABELS_OUTPUT] : []),
    ];
    const result = await runBatch(session, facts.info, input.name, matrix, fetches, source);
    const rows = matrix.rows;
    const scores = needScores ? (result[scoresName]!.data as Float32Array) : undefined;
    const labels = hasLabel ? int32(result[LABEL_OUTPUT]!.data as BigInt64Array) : topKOfScores(scores!, rows, classes, 1).labels;
    let topK: TopK | undefined;
    let modelTop: TopK | undefined;
    if (result[TOPK_SCORES_OUTPUT]) {
      modelTop = { k: modelTopK, scores: result[TOPK_SCORES_OUTPUT].data as Float32Array, labels: int32(result[TOPK_LABELS_OUTPUT]!.data as BigInt64Array) };
    }
    if (k !== undefined) topK = modelCoversTopK && modelTop ? narrowTopK(modelTop.labels, modelTop.scores, rows, modelTopK, k) : topKOfScores(scores!, rows, classes, k);
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
    inputName: input.name,
    inputWidth,
    classes,
    scoresName,
    ...(classNames ? { classNames } : {}),
    modelTopK,
    predict,
    placement: () => profilePlacement(facts, input.name, inputWidth),
    release: () => session.release(),
  };
}

async function profilePlacement(facts: SessionFacts, inputName: string, inputWidth: number): Promise<NodePlacement[]> {
  const dir = await mkdtemp(join(tmpdir(), 'hyperproto-placement-'));
  try {
    const twin = await ort.InferenceSession.create(facts.bytes, { ...facts.sessionOptions, enableProfiling: true, profileFilePrefix: join(dir, 'profile') });
    try {
      await twin.run({ [inputName]: new ort.Tensor('float32', new Float32Array(inputWidth), [1, inputWidth]) });
    } finally {
      twin.endProfiling();
      await twin.release();
    }
    const file = (await readdir(dir)).find((name) => name.endsWith('.json'));
    if (!file) throw new HyperprotoError(ErrorCode.Internal, 'onnxruntime wrote no profile');
    const events = JSON.parse(await readFile(join(dir, file), 'utf8')) as { cat?: string; name?: string; args?: { op_name?: string; provider?: string } }[];
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
  matrix: Matrix,
  fetches: readonly string[],
  source: string,
): Promise<Record<string, ort.Tensor>> {
  try {
    const feeds = { [inputName]: new ort.Tensor('float32', matrix.data, [matrix.rows, matrix.cols]) };
    return (await session.run(feeds, fetches)) as Record<string, ort.Tensor>;
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
    throw new HyperprotoError(ErrorCode.Internal, `onnxruntime failed to run ${source} (${info.producerName || 'unknown producer'}): ${message}`, { cause: error });
  }
}

function int32(values: BigInt64Array): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]!);
  return out;
}

function parseClassNames(json: string | undefined, classes: number): readonly string[] | undefined {
  if (json === undefined) return undefined;
  try {
    const names: unknown = JSON.parse(json);
    if (Array.isArray(names) && names.length === classes && names.every((n) => typeof n === 'string')) return names as string[];
  } catch {
    // Malformed names are ignored: labels still work without them.
  }
  return undefined;
}
