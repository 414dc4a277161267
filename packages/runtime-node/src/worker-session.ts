import { Worker } from 'node:worker_threads';
import {
  ContractErrorCode,
  errorMessage,
  type FeatureMatrix,
  invalidOptionError,
  ModelContractError,
  releasedSessionError,
} from '@hyperproto/model-contract';
import {
  checkPredictCall,
  checkSessionOptions,
  type FeatureInput,
  type ModelSession,
  type NodePlacement,
  type Prediction,
  type PredictOptions,
  type SessionOptions,
} from './model-session.js';
import { type FromWorker, reviveError, type SessionFacts, type ToWorker, type WorkerData } from './worker-messages.js';

/**
 * A `ModelSession` whose onnxruntime session lives on a worker thread of its own: onnxruntime-node's `run` holds
 * the thread it is called on until the inference is done, and here that is not the caller's, whose event loop
 * keeps turning (a server goes on reading requests and answering health checks). The thread runs `createSession`
 * and answers `predict` and `placement`, so the session behaves as one made by `createSession` with the same
 * options: the same checks and answers, the same errors (of the same classes, with their codes, hints and
 * details), `options.log` told the same messages. Options and the rows of a call are checked here before they are
 * sent; the rows are copied to the thread (the caller's arrays stay its own), the answer's arrays handed back.
 *
 * `release()` frees the session once the calls already started have answered, then ends the thread; every call to
 * it resolves once the thread has ended. A thread that ends any other way (an error it did not catch, out of
 * memory) fails the calls waiting on it, and every later one, with E_INTERNAL (one error, the same object each
 * time: it tells of one event), and tells `options.onUnexpectedEnd`. While no call waits, the thread does not keep
 * the process alive: a session never released does not stop it from exiting.
 *
 * Each call costs a message each way and a copy of its rows: about 0.1 ms for one row; for 1,024 rows of a
 * 1,000-class model about 1 ms, 2-4 ms when all the scores come back (fresh memory for them each time). The thread
 * costs its own instances of the modules it loads (about 15 MB of memory, besides the model).
 *
 * The thread gets no `resourceLimits`: its JavaScript heap has the process's limit already (`--max-old-space-size`
 * applies to it too), and the model's weights and tensors are onnxruntime's native memory, which those limits do not
 * bound. A thread whose heap runs out ends alone (E_INTERNAL, as above); the process goes on.
 */
export function createWorkerSession(model: string | Uint8Array, options: WorkerSessionOptions = {}): Promise<ModelSession> {
  return startWorkerSession(model, options, new URL('./session-worker.js', import.meta.url));
}

/** The options of `createWorkerSession`: `createSession`'s, and whom to tell when the thread ends unexpectedly. */
export interface WorkerSessionOptions extends SessionOptions {
  /**
   * Called once, with the E_INTERNAL error its calls fail with, when the thread ends unexpectedly after the session
   * opened and before `release()` was called (an opening that fails rejects instead). The calls waiting on the
   * thread learn of it too, but an owner with none waiting would not: a server, to stop answering that it is
   * healthy, and to stop. An error it throws is not caught.
   */
  readonly onUnexpectedEnd?: (error: ModelContractError) => void;
}

/** `createWorkerSession` running the thread from `script`: the built one, for tests that run the sources. */
export async function startWorkerSession(model: string | Uint8Array, options: WorkerSessionOptions, script: URL): Promise<ModelSession> {
  // Refused here, before a thread starts; the thread checks them again, as createSession does.
  checkSessionOptions(options);
  const { providers, fallback, intraOpThreads, runBytes, cudaDeviceId, spinning, optionWording, log, onUnexpectedEnd } = options;
  if (onUnexpectedEnd !== undefined && typeof onUnexpectedEnd !== 'function')
    throw invalidOptionError('onUnexpectedEnd', 'a function', onUnexpectedEnd);
  const source = typeof model === 'string' ? model : (options.source ?? 'the model');
  // A copy of exactly these bytes (the clone of a view would carry its whole buffer), handed to the thread.
  const bytes = model instanceof Uint8Array ? Uint8Array.prototype.slice.call(model) : model;
  const workerData: WorkerData = {
    model: bytes,
    options: {
      providers,
      fallback,
      intraOpThreads,
      runBytes,
      cudaDeviceId,
      spinning,
      optionWording,
      source: options.source,
      ...(log ? { log: true } : {}),
    },
  };
  const worker = new Worker(script, { workerData, transferList: bytes instanceof Uint8Array ? [bytes.buffer] : [] });

  let facts: SessionFacts | undefined;
  let opened: { resolve: (session: ModelSession) => void; reject: (error: unknown) => void };
  const opening = new Promise<ModelSession>((resolve, reject) => {
    opened = { resolve, reject };
  });
  /** An error `options.log` threw while the session opened: the opening fails with it, as createSession's would. */
  let logFailure: { error: unknown } | undefined;
  const pending = new Map<number, { resolve: (value: never) => void; reject: (error: unknown) => void }>();
  let nextId = 0;
  /** Why the thread ended when nobody asked it to, or before it answered every call. */
  let ended: ModelContractError | undefined;
  /** The thread said it ends next: released, or unable to open the model. */
  let farewell = false;
  let exited = false;
  let releasing: Promise<void> | undefined;
  let released: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  let releaseError: { error: unknown } | undefined;

  // The thread keeps the process alive only while something waits on it: opening, a call, or the release.
  const hold = () => {
    if (exited) return;
    if (!facts || pending.size > 0 || releasing) worker.ref();
    else worker.unref();
  };

  /** Fails the opening or the calls waiting, and every later call, with why the thread ended (or is given up). */
  const die = (reason: string, cause?: unknown) => {
    if (ended) return;
    ended = threadEndedError(source, !facts ? 'opening' : releasing ? 'releasing' : 'running', reason, cause);
    if (!facts) opened.reject(ended);
    for (const call of pending.values()) call.reject(ended);
    pending.clear();
    if (facts && !releasing) onUnexpectedEnd?.(ended);
  };

  worker.on('message', (message: FromWorker) => {
    switch (message.type) {
      case 'log':
        try {
          log?.(message.message);
        } catch (error) {
          logFailure ??= { error };
        }
        return;
      case 'ready':
        facts = message.facts;
        if (logFailure) {
          opened.reject(logFailure.error);
          void release();
        } else opened.resolve({ ...facts, predict, placement, release });
        hold();
        return;
      case 'open-failed':
        farewell = true;
        opened.reject(logFailure ? logFailure.error : reviveError(message.error));
        return;
      case 'answer':
      case 'failed': {
        const call = pending.get(message.id);
        pending.delete(message.id);
        if (message.type === 'answer') call?.resolve(message.value as never);
        else call?.reject(reviveError(message.error));
        hold();
        return;
      }
      case 'released':
        farewell = true;
        if (message.error) releaseError = { error: reviveError(message.error) };
        return;
    }
  });
  worker.on('error', (error) => die(`it failed: ${errorMessage(error)}`, error));
  worker.on('messageerror', (error) => {
    // An answer that cannot be read cannot be matched to its call: the session is given up, the thread ended.
    die(`a message from it could not be read: ${errorMessage(error)}`, error);
    worker.postMessage({ type: 'release' } satisfies ToWorker);
  });
  worker.on('exit', (code) => {
    exited = true;
    // A thread ends by itself only after it said so: released, or unable to open the model. Whatever still waits
    // then (nothing should: its session's release waits for every call) is never answered either.
    if (!farewell) die(`it exited with code ${code}`);
    else if (pending.size > 0) die(`it exited with code ${code} once released`);
    if (released) settleRelease();
  });

  const settleRelease = () => {
    if (releaseError) released!.reject(releaseError.error);
    else released!.resolve();
  };

  /** Sends the message `ask` makes with a new call's id; answered when the thread answers that id. */
  const call = <T>(ask: (id: number) => ToWorker, transfer: readonly ArrayBuffer[] = []): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (value: never) => void, reject });
      hold();
      worker.postMessage(ask(id), transfer);
    });

  const predict = async (features: FeatureInput, options: PredictOptions = {}): Promise<Prediction> => {
    if (releasing) throw releasedSessionError(source);
    if (ended) throw ended;
    const { matrix } = checkPredictCall(features, options, facts!);
    // The caller's own array is copied (exactly its view); one the check made from rows of arrays is handed over.
    const ownArray = matrix.data === (features as unknown) || matrix.data === (features as Partial<FeatureMatrix>).data;
    const data = ownArray ? matrix.data.slice() : matrix.data;
    const { topK, scores, maxRows, source: name, firstRow } = options;
    return call<Prediction>(
      (id) => ({
        type: 'predict',
        id,
        features: { rows: matrix.rows, cols: matrix.cols, data },
        options: { topK, scores, maxRows, source: name, firstRow },
      }),
      [data.buffer as ArrayBuffer],
    );
  };

  const placement = async (): Promise<NodePlacement[]> => {
    if (releasing) throw releasedSessionError(source);
    if (ended) throw ended;
    return call<NodePlacement[]>((id) => ({ type: 'placement', id }));
  };

  const release = (): Promise<void> => {
    releasing ??= new Promise<void>((resolve, reject) => {
      released = { resolve, reject };
      // Sent after every call made before it: the thread's session answers them first, then frees itself.
      if (!exited) worker.postMessage({ type: 'release' } satisfies ToWorker);
      else settleRelease();
    });
    hold();
    return releasing;
  };

  return opening;
}

/**
 * Why a worker session's thread ended unexpectedly, worded for what it was doing: opening the model (nothing was
 * opened), answering calls (they are lost; the session is of no more use), or releasing the session.
 */
function threadEndedError(source: string, doing: 'opening' | 'running' | 'releasing', reason: string, cause: unknown): ModelContractError {
  const outOfMemory = (cause as { code?: unknown } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
  const memory = outOfMemory
    ? " Its JavaScript heap has the process's limit: raise it with node's --max-old-space-size=MB (or in NODE_OPTIONS)."
    : '';
  const [message, hint] =
    doing === 'opening'
      ? [
          `the worker thread opening ${source} ended unexpectedly (${reason}) before the model was open`,
          `Nothing was opened.${memory || ' Open it again; should the thread end the same way, report it with this message.'}`,
        ]
      : doing === 'running'
        ? [
            `the worker thread running ${source} ended unexpectedly (${reason}); the calls it was answering are lost`,
            `Create a new session to predict again.${memory}`,
          ]
        : [`the worker thread running ${source} ended (${reason}) before it answered every call made before the release`, memory.trim()];
  return new ModelContractError(ContractErrorCode.Internal, message, {
    ...(cause === undefined ? {} : { cause }),
    ...(hint ? { hint } : {}),
  });
}
