import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createRng } from '@hyperproto/core';
import { createSession, type ModelSession } from '@hyperproto/runtime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPredictionServer,
  DEFAULT_SERVER_OPTIONS,
  type PredictionServer,
  type PredictionServerOptions,
} from './prediction-server.js';
import { seededSoftmaxModel } from './test-support/softmax-model.js';

// Host allow-list, connection limits and timeouts, and the request refusals a probe found: real servers on
// 127.0.0.1, raw sockets where a client must misbehave.

const WIDTH = 20;
const CLASSES = 7;

const modelBytes = () => seededSoftmaxModel({ width: WIDTH, classes: CLASSES });

const row = (seed: number) => {
  const rng = createRng(seed);
  return Array.from({ length: WIDTH }, () => rng.normal());
};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

function send(
  port: number,
  path: string,
  options: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: false, headers: options.headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error(`${path}: no answer within 5 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes `text` on a raw connection and collects what comes back until the server closes it (or `ms` pass). */
function raw(port: number, text: string, ms = 5_000): Promise<{ received: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', () => {});
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${ms} ms; received ${JSON.stringify(received)}`));
    }, ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received, closedAfterMs: performance.now() - started });
    });
  });
}

const jsonOf = (received: string) => JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4));

let session: ModelSession;
const servers: PredictionServer[] = [];
async function start(options: Partial<PredictionServerOptions> = {}): Promise<number> {
  const server = createPredictionServer(session, { ...DEFAULT_SERVER_OPTIONS, ...options });
  servers.push(server);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  return (server.app.server.address() as { port: number }).port;
}

let port: number;
beforeAll(async () => {
  session = await createSession(modelBytes(), { source: 'test.onnx' });
  port = await start();
});
afterAll(async () => {
  for (const server of servers) await server.shutdown(1_000);
  await session.release();
});

describe('Host allow-list', () => {
  it('answers loopback names with any port, and refuses every other name on every route with 403 JSON', async () => {
    for (const host of ['127.0.0.1', `127.0.0.1:${port}`, 'localhost', `LOCALHOST:${port}`, '[::1]', `[::1]:${port}`]) {
      expect((await send(port, '/v1/metadata', { headers: { host } })).status, host).toBe(200);
    }
    const predict = JSON.stringify({ rows: [row(1)] });
    for (const host of ['attacker.example', `attacker.example:${port}`, '127.0.0.1.nip.io', 'localhost.', '[::2]', 'a b']) {
      for (const [method, path, body] of [
        ['GET', '/v1/metadata', undefined],
        ['GET', '/healthz', undefined],
        ['POST', '/v1/predict', predict],
        ['GET', '/nowhere', undefined],
      ] as const) {
        const answer = await send(port, path, {
          method,
          headers: { host, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body } : {}),
        });
        expect(answer.status, `${host} ${path}`).toBe(403);
        expect(answer.body.error.code).toBe('host-not-allowed');
        expect(answer.body.error.message).toMatch(/allowed: 127\.0\.0\.1, localhost, \[::1\]/);
      }
    }
  });

  it('refuses a request without a Host header, and answers the names added to the list', async () => {
    const { received } = await raw(port, 'GET /v1/metadata HTTP/1.0\r\n\r\n');
    expect(received).toMatch(/^HTTP\/1\.1 403/);
    expect(jsonOf(received).error.code).toBe('host-not-allowed');
    const own = await start({ allowedHosts: ['127.0.0.1', 'model.internal', '::1'] });
    expect((await send(own, '/v1/metadata', { headers: { host: 'Model.Internal:9000' } })).status).toBe(200);
    expect((await send(own, '/v1/metadata', { headers: { host: '[::1]' } })).status).toBe(200);
    expect((await send(own, '/v1/metadata', { headers: { host: 'localhost' } })).status).toBe(403);
  });
});

describe('refusals the probe found', () => {
  it('reports a value beyond the float32 range as not-a-number, a documented code, with its row and column', async () => {
    const values = row(2);
    values[3] = 3.5e38;
    const answer = await send(port, '/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: [row(1), values] }),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'not-a-number', row: 1, column: 3 });
    expect(answer.body.error.message).toMatch(/beyond the float32 range/);
  });

  it('answers more rows than the limit (1,024 by default) with 413 too-many-rows', async () => {
    const answer = await send(port, '/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: Array.from({ length: 1025 }, () => row(3)) }),
    });
    expect(answer.status).toBe(413);
    expect(answer.body.error.code).toBe('too-many-rows');
    expect(answer.body.error.message).toMatch(/1025 rows; at most 1024/);
    const limit = await send(port, '/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: Array.from({ length: 1024 }, () => row(3)) }),
    });
    expect(limit.status).toBe(200);
    expect(limit.body.predictions).toHaveLength(1024);
  });

  it('refuses a Content-Encoding it does not decode with 415, whether the body is encoded or not', async () => {
    const body = JSON.stringify({ rows: [row(4)] });
    for (const [encoding, payload] of [
      ['gzip', body],
      ['gzip', gzipSync(body)],
      ['deflate', body],
      ['br', body],
      ['gzip, identity', body],
    ] as const) {
      const answer = await send(port, '/v1/predict', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body: payload,
      });
      expect(answer.status, encoding).toBe(415);
      expect(answer.body.error.code).toBe('unsupported-content-encoding');
    }
    const identity = await send(port, '/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'identity' },
      body,
    });
    expect(identity.status).toBe(200);
  });
});

describe('connection limits', () => {
  it('answers a request whose headers do not arrive in time with 408 and closes it', async () => {
    const own = await start({ headersTimeoutMs: 300, requestTimeoutMs: 600, idleTimeoutMs: 10_000 });
    const { received, closedAfterMs } = await raw(own, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow:', 4_000);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
    expect(jsonOf(received).error.code).toBe('request-timeout');
    expect(closedAfterMs).toBeLessThan(2_500);
  });

  it('closes a request whose body does not arrive in time', async () => {
    const own = await start({ headersTimeoutMs: 300, requestTimeoutMs: 600, idleTimeoutMs: 10_000 });
    const { closedAfterMs, received } = await raw(
      own,
      'POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"rows"',
      4_000,
    );
    expect(closedAfterMs).toBeLessThan(2_500);
    if (received) expect(received).toMatch(/^HTTP\/1\.1 (408|400)/);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout, and a silent one after the idle timeout', async () => {
    const own = await start({ keepAliveTimeoutMs: 300, idleTimeoutMs: 500 });
    const kept = await raw(own, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 3_000);
    expect(kept.received).toMatch(/^HTTP\/1\.1 200/);
    expect(kept.closedAfterMs).toBeLessThan(1_500);
    const silent = await raw(own, '', 3_000);
    expect(silent.closedAfterMs).toBeLessThan(2_000);
  });

  it('closes connections beyond --max-connections as they arrive', async () => {
    const own = await start({ maxConnections: 5 });
    const open: Socket[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        open.push(
          await new Promise<Socket>((resolve) => {
            const socket = connect(own, '127.0.0.1', () => resolve(socket));
          }),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      const extra = await raw(own, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 3_000);
      expect(extra.received).toBe('');
    } finally {
      for (const socket of open) socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await send(own, '/healthz')).status).toBe(200);
  });

  it('answers malformed HTTP with the JSON error shape', async () => {
    const { received } = await raw(port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(received).toMatch(/^HTTP\/1\.1 400/);
    expect(jsonOf(received).error.code).toBe('malformed-request');
  });
});
