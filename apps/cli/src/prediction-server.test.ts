import { request as httpRequest } from 'node:http';
import { createRng } from '@hyperproto/core';
import { createSession, type ModelSession } from '@hyperproto/runtime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPredictionServer, type PredictionServer } from './prediction-server.js';
import { startPredictRequest } from './test-support/in-flight-request.js';
import { seededSoftmaxModel } from './test-support/softmax-model.js';

const WIDTH = 20;
const CLASSES = 7;
const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

const modelBytes = () => seededSoftmaxModel({ width: WIDTH, classes: CLASSES, classNames: NAMES, topK: 2 });

const randomRows = (rows: number, seed: number) => {
  const rng = createRng(seed);
  return Array.from({ length: rows }, () => Array.from({ length: WIDTH }, () => rng.normal()));
};

let session: ModelSession;
let server: PredictionServer;
let base: string;
beforeAll(async () => {
  session = await createSession(modelBytes(), { source: 'test.onnx' });
  server = createPredictionServer(session, { bodyLimit: 64 * 1024, maxRequestRows: 100, maxBatchRows: 256, maxDelayMs: 0 });
  base = await server.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await server.app.close();
  await session.release();
});

interface Reply {
  status: number;
  body: any;
}

async function post(body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Reply> {
  const response = await fetch(`${base}/v1/predict`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe('prediction server', () => {
  it('answers health and metadata', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok', provider: 'cpu' });
    const metadata = (await (await fetch(`${base}/v1/metadata`)).json()) as any;
    expect(metadata).toMatchObject({
      provider: 'cpu',
      classes: CLASSES,
      input: { name: 'features', width: WIDTH },
      scoresName: 'probabilities',
      classNames: NAMES,
      featureNames: null, // trained without named columns
      modelTopK: 2,
    });
    expect(metadata.metadata).toMatchObject({ head: 'softmax', classes: '7', inputWidth: '20' });
    // Rows per onnxruntime run, by the file's bound: thousands for an exported model.
    expect(metadata.limits.rowsPerRun).toBe(session.rowsPerRun);
    expect(metadata.limits.rowsPerRun).toBeGreaterThan(1000);
  });

  it('names the model file in its metadata, not where it lies on the server', async () => {
    const placed = await createSession(modelBytes(), { source: '/srv/models/private/model.onnx' });
    const own = createPredictionServer(placed, { bodyLimit: 1024, maxRequestRows: 1, maxBatchRows: 1, maxDelayMs: 0 });
    try {
      const url = await own.app.listen({ port: 0, host: '127.0.0.1' });
      const text = await (await fetch(`${url}/v1/metadata`)).text();
      expect(JSON.parse(text).source).toBe('model.onnx');
      expect(text).not.toContain('/srv/models');
    } finally {
      await own.app.close();
      await placed.release();
    }
  });

  it('predicts like the session itself, with top-k, class names and optional scores', async () => {
    const rows = randomRows(3, 1);
    const expected = await session.predict(rows, { topK: 3 });
    const { status, body } = await post({ rows, topK: 3, scores: true });
    expect(status).toBe(200);
    expect(body.predictions).toHaveLength(3);
    body.predictions.forEach((p: any, r: number) => {
      expect(p.label).toBe(expected.labels[r]);
      expect(p.className).toBe(NAMES[expected.labels[r]!]);
      expect(p.score).toBeCloseTo(expected.labelScores[r]!, 6);
      expect(p.topK.map((t: any) => t.label)).toEqual([...expected.topK!.labels.subarray(r * 3, r * 3 + 3)]);
      expect(p.scores).toHaveLength(CLASSES);
    });
    const plain = await post({ rows: rows.slice(0, 1) });
    expect(Object.keys(plain.body.predictions[0]).sort()).toEqual(['className', 'label', 'score']);
  });

  it('batches concurrent requests into shared inferences and gives each its own answer', async () => {
    const before = server.stats();
    const requests = Array.from({ length: 64 }, (_, i) => ({
      rows: randomRows(1 + (i % 4), 100 + i),
      ...(i % 3 ? { topK: 1 + (i % 2) } : {}),
    }));
    const replies = await Promise.all(requests.map((body) => post(body)));
    for (const [i, reply] of replies.entries()) {
      expect(reply.status).toBe(200);
      const expected = await session.predict(requests[i]!.rows, { ...(requests[i]!.topK ? { topK: requests[i]!.topK } : {}) });
      expect(reply.body.predictions.map((p: any) => p.label)).toEqual([...expected.labels]);
      if (requests[i]!.topK) expect(reply.body.predictions[0].topK).toHaveLength(requests[i]!.topK!);
      else expect(reply.body.predictions[0].topK).toBeUndefined();
    }
    const after = server.stats();
    expect(after.requests - before.requests).toBe(64);
    expect(after.batches - before.batches).toBeLessThan(64);
  });

  it('refuses every kind of bad request with a 4xx JSON error naming the problem, and keeps serving', async () => {
    const good = randomRows(1, 2)[0]!;
    const cases: [string, () => Promise<Reply>, number, string, RegExp][] = [
      ['wrong width', () => post({ rows: [good.slice(1)] }), 400, 'wrong-width', /rows of 19 features; the model expects 20/],
      ['ragged rows', () => post({ rows: [good, good.slice(2)] }), 400, 'ragged-rows', /row 0 has 20 values but row 1 has 18/],
      ['empty batch', () => post({ rows: [] }), 400, 'empty-batch', /empty/],
      [
        'infinite value',
        () => post(`{"rows": [[${good.slice(1).join(',')}, 1e999]]}`),
        400,
        'not-a-number',
        /row 0, column 19 is not a finite number/,
      ],
      ['string value', () => post({ rows: [[...good.slice(1), 'x']] }), 400, 'not-a-number', /row 0, column 19/],
      ['null value', () => post({ rows: [[...good.slice(1), null]] }), 400, 'not-a-number', /row 0, column 19/],
      [
        'rows missing',
        () => post({ features: [good] }),
        400,
        'invalid-request',
        /must have required property 'rows'|additional properties/,
      ],
      ['unknown field', () => post({ rows: [good], extra: 1 }), 400, 'invalid-request', /additional properties/],
      ['top-k too large', () => post({ rows: [good], topK: 8 }), 400, 'invalid-request', /topK must be <= 7/],
      ['top-k not an integer', () => post({ rows: [good], topK: '2' }), 400, 'invalid-request', /topK must be integer/],
      [
        'too many rows',
        () => post({ rows: Array.from({ length: 101 }, () => good) }),
        413,
        'too-many-rows',
        /more than 100 rows; at most 100 are accepted/,
      ],
      [
        'body over the limit',
        () => post({ rows: Array.from({ length: 100 }, () => good.map((v) => v * 1.000001)), pad: 'x'.repeat(70_000) }),
        413,
        'body-too-large',
        /larger than the limit of 65536 bytes/,
      ],
      ['not JSON', () => post('{"rows": [[1, 2'), 400, 'invalid-json', /not valid JSON/],
      ['empty body', () => post(''), 400, 'invalid-json', /not valid JSON/],
      ['wrong content type', () => post('rows=1', { 'content-type': 'text/plain' }), 415, 'unsupported-media-type', /application\/json/],
      [
        'form content type',
        () => post('rows=1', { 'content-type': 'application/x-www-form-urlencoded' }),
        415,
        'unsupported-media-type',
        /application\/json/,
      ],
      ['body not an object', () => post([1, 2]), 400, 'invalid-request', /body must be object/],
    ];
    for (const [what, send, status, code, message] of cases) {
      const reply = await send();
      expect(reply.status, what).toBe(status);
      expect(reply.body.error.code, what).toBe(code);
      expect(reply.body.error.message, what).toMatch(message);
    }
    const unknownRoute = await fetch(`${base}/v1/predictions`, { method: 'POST' });
    expect(unknownRoute.status).toBe(404);

    // Several hundred malformed requests, some of them concurrent, then a valid one still gets the right answer.
    for (let round = 0; round < 30; round++) await Promise.all(cases.map(([, send]) => send()));
    const expected = await session.predict([good]);
    const reply = await post({ rows: [good] });
    expect(reply.status).toBe(200);
    expect(reply.body.predictions[0].label).toBe(expected.labels[0]);
  });

  it('refuses a body whose Content-Length overstates the limit before reading it', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        `${base}/v1/predict`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) } },
        (response) => {
          resolve(response.statusCode ?? 0);
          response.resume();
        },
      );
      request.on('error', reject);
      request.write('{"rows": [');
    });
    expect(status).toBe(413);
  });
});

describe('graceful shutdown', () => {
  it('finishes a request in flight when closed, and refuses new connections', async () => {
    const own = createPredictionServer(session, { bodyLimit: 64 * 1024, maxRequestRows: 100, maxBatchRows: 256, maxDelayMs: 0 });
    const url = new URL(await own.app.listen({ port: 0, host: '127.0.0.1' }));
    const rows = randomRows(2, 9);
    const body = JSON.stringify({ rows });
    const expected = await session.predict(rows);
    // Headers and half the body now, the rest after close() has begun: the request is in flight during the close.
    const request = await startPredictRequest(url, body, 50);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closed = own.app.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    request.finish();
    await closed;
    const received = await request.response;
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    const json = JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, ''));
    expect(json.predictions.map((p: any) => p.label)).toEqual([...expected.labels]);
    await expect(fetch(`${url.origin}/healthz`)).rejects.toThrow();
  });
});
