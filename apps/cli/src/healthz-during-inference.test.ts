import { createRng } from '@hyperproto/core';
import { createWorkerSession, type ModelSession } from '@hyperproto/runtime-node';
import { describe, expect, it } from 'vitest';
import { createPredictionServer } from './prediction-server.js';
import { seededSoftmaxModel } from './test-support/softmax-model.js';

// `serve` runs its inferences on a worker session: onnxruntime-node's run holds the thread it is called on, and on
// the server's thread no request would be read until it was done. The client here shares that thread, so with the
// inference on it not even the health check could be sent before the prediction was answered.

const WIDTH = 8;
/** One wide hidden layer, so that the inference is slow enough to be caught running. */
const HIDDEN = 1024;
const CLASSES = 1000;
/** One request of this many rows: 8 G multiply-adds, a few hundred milliseconds on one thread. */
const ROWS = 8192;

describe('prediction server on a worker session', () => {
  it('answers GET /healthz while a slow inference is in flight, before the prediction', async () => {
    const session = await createWorkerSession(seededSoftmaxModel({ width: WIDTH, classes: CLASSES, hidden: HIDDEN, seed: 7 }), {
      source: 'wide.onnx',
      intraOpThreads: 1,
    });
    let started!: () => void;
    const inferenceStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    // The server's own session, telling when the batcher hands it the rows.
    const observed: ModelSession = {
      ...session,
      predict: (features, options) => {
        started();
        return session.predict(features, options);
      },
    };
    const server = createPredictionServer(observed, {
      bodyLimit: 4 * 1024 * 1024,
      maxRequestRows: ROWS,
      maxBatchRows: ROWS,
      maxDelayMs: 0,
    });
    const base = await server.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const rng = createRng(3);
      const rows = Array.from({ length: ROWS }, () => Array.from({ length: WIDTH }, () => rng.normal()));
      const answered: string[] = [];
      const predicted = fetch(`${base}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rows }),
      }).then(async (response) => {
        answered.push('predict');
        return { status: response.status, body: (await response.json()) as { predictions: { label: number }[] } };
      });
      await inferenceStarted;
      const health = await fetch(`${base}/healthz`);
      answered.push('healthz');
      expect(await health.json()).toEqual({ status: 'ok', provider: 'cpu' });

      const prediction = await predicted;
      expect(answered).toEqual(['healthz', 'predict']);
      expect(prediction.status).toBe(200);
      const expected = await session.predict(rows.slice(0, 16));
      expect(prediction.body.predictions.slice(0, 16).map((p) => p.label)).toEqual([...expected.labels]);
      expect(prediction.body.predictions).toHaveLength(ROWS);
      expect(server.stats()).toMatchObject({ batches: 1, rows: ROWS });
    } finally {
      await server.shutdown(1_000);
      await session.release();
    }
  });
});
