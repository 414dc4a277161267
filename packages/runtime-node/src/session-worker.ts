// Entry point of a worker session's thread: opens the model with createSession and answers what it is sent, so
// that an inference holds this thread rather than the caller's.
import { parentPort, workerData } from 'node:worker_threads';
import { createSession, type ModelSession, type Prediction } from './model-session.js';
import { type FromWorker, serializeError, type ToWorker, type WorkerData } from './worker-messages.js';

const port = parentPort!;
const { model, options } = workerData as WorkerData;
const { log, ...sessionOptions } = options;
const post = (message: FromWorker, transfer: readonly ArrayBuffer[] = []) => port.postMessage(message, transfer);

/** The answer's arrays are handed over, not copied: nothing of it is used here again. */
function postPrediction(id: number, value: Prediction): void {
  const arrays = [value.labels, value.labelScores, value.scores, value.topK?.labels, value.topK?.scores];
  const buffers = new Set(arrays.flatMap((array) => (array && array.buffer instanceof ArrayBuffer ? [array.buffer] : [])));
  try {
    post({ type: 'answer', id, value }, [...buffers]);
  } catch {
    // A buffer that cannot be handed over (one onnxruntime keeps): the answer is copied instead.
    post({ type: 'answer', id, value });
  }
}

async function answer(session: ModelSession, message: ToWorker): Promise<void> {
  if (message.type === 'release') {
    let error: unknown;
    try {
      await session.release();
    } catch (caught) {
      error = caught;
    }
    post({ type: 'released', ...(error === undefined ? {} : { error: serializeError(error) }) });
    // The session is freed and no native call is in flight: the thread ends here (what was posted is delivered).
    process.exit(0);
  }
  try {
    if (message.type === 'predict') postPrediction(message.id, await session.predict(message.features, message.options));
    else post({ type: 'answer', id: message.id, value: await session.placement() });
  } catch (error) {
    post({ type: 'failed', id: message.id, error: serializeError(error) });
  }
}

try {
  const session = await createSession(model, {
    ...sessionOptions,
    ...(log ? { log: (message: string) => post({ type: 'log', message }) } : {}),
  });
  const { predict: _predict, placement: _placement, release: _release, ...facts } = session;
  port.on('message', (message: ToWorker) => void answer(session, message));
  post({ type: 'ready', facts });
} catch (error) {
  post({ type: 'open-failed', error: serializeError(error) });
  process.exit(0);
}
