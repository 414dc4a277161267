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

const wideModel = () => seededSoftmaxModel({ width: WIDTH, classes: CLASSES, hidden: HIDDEN, seed: 7 });

const randomRows = (seed: number) => {
  const rng = createRng(seed);
  return Array.from({ length: ROWS }, () => Array.from({ length: WIDTH }, () => rng.normal()));
};

describe('prediction server on a worker session', () => {
  it('answers GET /healthz while a slow inference is in flight, before the prediction', async () => {
    const session = await createWorkerSession(wideModel(), { source: 'wide.onnx', intraOpThreads: 1 });
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
      const rows = randomRows(3);
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

  it('after the grace period, runs no batch still queued: only the inference running is waited for', async () => {
    const session = await createWorkerSession(wideModel(), { source: 'wide.onnx', intraOpThreads: 1 });
    // The inferences the batcher starts, and the requests it is handed.
    const inferences: Promise<unknown>[] = [];
    let submitted = 0;
    const observed: ModelSession = {
      ...session,
      predict: (features, options) => {
        const running = session.predict(features, options);
        inferences.push(running.catch(() => undefined));
        return running;
      },
    };
    const server = createPredictionServer(observed, {
      bodyLimit: 4 * 1024 * 1024,
      maxRequestRows: ROWS,
      maxBatchRows: ROWS,
      maxDelayMs: 0,
    });
    const submit = server.batcher.submit.bind(server.batcher);
    server.batcher.submit = (request) => {
      submitted++;
      return submit(request);
    };
    const base = await server.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      // Three requests of a batch each: one runs, two wait for it.
      const requests = [1, 2, 3].map((seed) =>
        fetch(`${base}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ rows: randomRows(seed) }),
        }).then(
          (response) => response.status,
          () => 'closed',
        ),
      );
      const waitFor = async (what: string, done: () => boolean) => {
        for (let waited = 0; !done(); waited += 10) {
          if (waited > 20_000) throw new Error(`${what}: not within 20 s`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      };
      await waitFor('three requests handed to the batcher', () => submitted === 3);
      expect(inferences).toHaveLength(1);

      const result = await server.shutdown(100);
      expect(result).toEqual({ drained: false, abandoned: 3 });
      expect(await Promise.all(requests)).toEqual(['closed', 'closed', 'closed']);
      await inferences[0];
      // The batcher would start the next batch on the turn after the first one ends.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(inferences).toHaveLength(1);
    } finally {
      await server.shutdown(100);
      await session.release();
    }
  });
});
