import { Worker } from 'node:worker_threads';
import { ContractErrorCode, errorMessage, type FeatureMatrix, ModelContractError, releasedSessionError } from '@hyperproto/model-contract';
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
 * `release()` frees the session once the predictions already started have answered, then ends the thread; every
 * call to it resolves once the thread has ended. A thread that ends any other way (an error it did not catch, out of
 * memory) fails the calls waiting on it, and every later one, with E_INTERNAL. While no call waits, the thread does
 * not keep the process alive: a session never released does not stop it from exiting.
 *
 * Each call costs a message each way and a copy of its rows: about 0.1 ms for one row; for 1,024 rows of a
 * 1,000-class model about 1 ms, 2-4 ms when all the scores come back (fresh memory for them each time). The thread
 * costs its own instances of the modules it loads (about 15 MB of memory, besides the model).
 */
export function createWorkerSession(model: string | Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
  return startWorkerSession(model, options, new URL('./session-worker.js', import.meta.url));
}

/** `createWorkerSession` running the thread from `script`: the built one, for tests that run the sources. */
export async function startWorkerSession(model: string | Uint8Array, options: SessionOptions, script: URL): Promise<ModelSession> {
  // Refused here, before a thread starts; the thread checks them again, as createSession does.
  checkSessionOptions(options);
  const source = typeof model === 'string' ? model : (options.source ?? 'the model');
  const { providers, fallback, intraOpThreads, cudaDeviceId, spinning, optionWording, log } = options;
  // A copy of exactly these bytes (the clone of a view would carry its whole buffer), handed to the thread.
  const bytes = model instanceof Uint8Array ? Uint8Array.prototype.slice.call(model) : model;
  const workerData: WorkerData = {
    model: bytes,
    options: {
      providers,
      fallback,
      intraOpThreads,
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
  /** Why the thread ended when nobody asked it to. */
  let ended: ModelContractError | undefined;
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

  const die = (reason: string, cause?: unknown) => {
    if (ended) return;
    ended = new ModelContractError(
      ContractErrorCode.Internal,
      `the worker thread running ${source} ended unexpectedly (${reason}); the predictions it was running are lost`,
      { ...(cause === undefined ? {} : { cause }), hint: 'Create a new session to predict again.' },
    );
    if (!facts) opened.reject(ended);
    for (const call of pending.values()) call.reject(ended);
    pending.clear();
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
    // A thread asked to release ends once it has (and one that could not open the model, once it said why).
    if (!releasing) die(`it exited with code ${code}`);
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
