import { request as httpRequest } from 'node:http';
import { createSession, type ModelSession } from '@hyperproto/runtime-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPredictionServer, type PredictionServer } from './prediction-server.js';
import { seededSoftmaxModel } from './test-support/softmax-model.js';

// Generated requests, bodies and headers: every answer is a documented status with the documented body, never a
// 5xx and never a hang. HYPERPROTO_FUZZ_RUNS raises the number of cases (300 by default).

const RUNS = Number(process.env.HYPERPROTO_FUZZ_RUNS ?? 300);
const WIDTH = 4;
const CLASSES = 3;

const modelBytes = () => seededSoftmaxModel({ width: WIDTH, classes: CLASSES, seed: 11, classNames: ['x', 'y', 'z'], topK: 2 });

/** The statuses README documents for the API (403: Host, 413: sizes, 415: type or encoding). */
const DOCUMENTED = new Set([200, 400, 403, 404, 413, 415]);

interface Answer {
  status: number;
  type: string | undefined;
  text: string;
}

function send(
  port: number,
  request: { method: string; path: string; headers: Record<string, string>; body: string | undefined },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: request.path,
        method: request.method,
        agent: false,
        // Framed explicitly: Node sends a DELETE or OPTIONS body unframed, which is then not HTTP.
        headers: {
          ...request.headers,
          ...(request.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(request.body)) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], text }));
        res.on('error', reject);
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error(`${request.method} ${request.path}: no answer within 5 s (a hang)`)));
    req.on('error', reject);
    req.end(request.body);
  });
}

let session: ModelSession;
let server: PredictionServer;
let port: number;
beforeAll(async () => {
  session = await createSession(modelBytes(), { source: 'fuzz.onnx' });
  server = createPredictionServer(session, { bodyLimit: 16 * 1024, maxRequestRows: 8, maxBatchRows: 64, maxDelayMs: 0 });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  port = (server.app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await server.shutdown(1_000);
  await session.release();
});

const number = fc.oneof(fc.double({ noNaN: false }), fc.integer(), fc.constantFrom(0, -0, 1e39, -3.5e38, 3.4e38, 1e-320, Number.MAX_VALUE));
const value = fc.oneof({ weight: 8, arbitrary: number }, fc.constant(null), fc.string({ maxLength: 3 }), fc.boolean(), fc.constant([]));
const rowsOf = (width: fc.Arbitrary<number>) =>
  fc.array(
    width.chain((w) => fc.array(value, { minLength: w, maxLength: w })),
    { maxLength: 10 },
  );
/** Bodies near the schema (most) and far from it: JSON of any shape, broken JSON, arbitrary text. */
const body = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record(
        {
          rows: rowsOf(fc.oneof(fc.constant(WIDTH), fc.integer({ min: 0, max: 6 }))),
          topK: fc.anything(),
          scores: fc.anything(),
          extra: fc.anything(),
        },
        { requiredKeys: [] },
      )
      .map((b) => JSON.stringify(b)),
  },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', '{', '{"rows": [[1,2,3,4]', '{"rows": 1e999}', '{"__proto__": {"rows": 1}}', 'x'.repeat(20_000)),
  },
);
const token = fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/);
const printable = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
const headers = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data',
        'application/jsonx',
        '',
      ),
      printable,
    ),
    'content-encoding': fc.oneof(fc.constantFrom('gzip', 'identity', 'br', 'deflate, gzip', ''), printable),
    host: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('127.0.0.1', 'localhost:8080', '[::1]') }, { weight: 1, arbitrary: printable }),
    accept: printable,
    'x-generated': printable,
  },
  { requiredKeys: ['host'] },
);
const requests = fc.record({
  method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH'),
  path: fc.oneof(
    { weight: 6, arbitrary: fc.constant('/v1/predict') },
    {
      weight: 2,
      arbitrary: fc.constantFrom('/v1/metadata', '/healthz', '/', '/v1/predict/', '/v1/predict?x=1', '/%2e%2e/etc', '/v1//predict'),
    },
    { weight: 1, arbitrary: token.map((t) => `/${t}`) },
  ),
  headers: fc
    .tuple(
      headers,
      fc.dictionary(
        token.map((t) => `x-${t}`),
        printable,
        { maxKeys: 3 },
      ),
    )
    .map(([a, b]) => ({ ...b, ...a })),
  body,
});

describe('generated requests', () => {
  it(`answers ${RUNS} generated requests with documented statuses and the JSON error shape`, async () => {
    await fc.assert(
      fc.asyncProperty(requests, async (request) => {
        const withBody = request.method !== 'GET' && request.method !== 'HEAD';
        const answer = await send(port, { ...request, body: withBody ? request.body : undefined });
        const what = `${answer.status} ${answer.text.slice(0, 300)}`;
        expect(DOCUMENTED.has(answer.status), what).toBe(true);
        if (request.method === 'HEAD') return;
        expect(answer.type, what).toMatch(/^application\/json/);
        const json = JSON.parse(answer.text);
        if (answer.status === 200) {
          if (request.path.startsWith('/v1/predict')) expect(Array.isArray(json.predictions), what).toBe(true);
          return;
        }
        expect(typeof json.error?.code, what).toBe('string');
        expect(typeof json.error?.message, what).toBe('string');
      }),
      { numRuns: RUNS, seed: process.env.HYPERPROTO_FUZZ_SEED ? Number(process.env.HYPERPROTO_FUZZ_SEED) : undefined },
    );
    // Still serving after all of them.
    const after = await send(port, {
      method: 'POST',
      path: '/v1/predict',
      headers: { host: '127.0.0.1', 'content-type': 'application/json' },
      body: JSON.stringify({ rows: [[0.1, 0.2, 0.3, 0.4]] }),
    });
    expect(after.status).toBe(200);
  }, 60_000);
});
