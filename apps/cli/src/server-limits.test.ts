import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createRng } from '@hyperproto/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_OPTIONS, SMALL_BODY_BYTES } from './prediction-server.js';
import { predictionServers, rawExchange as raw } from './test-support/prediction-servers.js';
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

const jsonOf = (received: string) => JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4));

const { start } = predictionServers(modelBytes, 'test.onnx');
let port: number;
beforeAll(async () => {
  port = await start();
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
    // HTTP/1.1 requires Host, even with an absolute-form target: Node's own answer was a bare 400 with no body.
    for (const request of [
      'GET /v1/metadata HTTP/1.1\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nConnection: keep-alive\r\n\r\n',
      `POST /v1/predict HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 999999\r\n\r\n{"rows": [`,
      `GET http://127.0.0.1:${port}/v1/metadata HTTP/1.1\r\n\r\n`,
    ]) {
      const answer = await raw(port, request);
      expect(answer.received, request).toMatch(/^HTTP\/1\.1 403 /);
      expect(answer.received.toLowerCase()).toContain('connection: close');
      expect(jsonOf(answer.received).error).toEqual({
        code: 'host-not-allowed',
        message:
          'the request has no Host header; send one naming a host this server answers for: 127.0.0.1, localhost, [::1] (add one with --allowed-host)',
      });
    }
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
    expect(answer.body.error.message).toMatch(/more than 1024 rows; at most 1024/);
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

  it('answers a request whose body does not arrive in time with 408 and closes it', async () => {
    const stalled = 'POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"rows"';
    // The request timeout first; then the idle timeout first, which used to drop the connection without a word; then
    // both equal, as by default (30 s each).
    for (const timeouts of [
      { requestTimeoutMs: 600, idleTimeoutMs: 10_000 },
      { requestTimeoutMs: 1_500, idleTimeoutMs: 500 },
      { requestTimeoutMs: 600, idleTimeoutMs: 600 },
    ]) {
      const own = await start({ headersTimeoutMs: 300, ...timeouts });
      const { closedAfterMs, received } = await raw(own, stalled, 4_000);
      const what = JSON.stringify(timeouts);
      expect(received, what).toMatch(/^HTTP\/1\.1 408 /);
      expect(received.toLowerCase(), what).toContain('connection: close');
      expect(jsonOf(received).error, what).toEqual({ code: 'request-timeout', message: 'the request was not received in time' });
      expect(closedAfterMs, what).toBeLessThan(Math.min(timeouts.requestTimeoutMs, timeouts.idleTimeoutMs) + 1_500);
    }
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

/**
 * Sends `head`, then 64 KiB of body every 10 ms until the server closes the connection (or `ms` pass): a client
 * that keeps sending after its answer.
 */
function endlessBody(port: number, head: string, ms = 10_000): Promise<{ received: string; closedAfterMs: number; sentBytes: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const chunked = /transfer-encoding: chunked/i.test(head);
    const data = Buffer.alloc(64 * 1024, 0x20);
    const chunk = chunked ? Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]) : data;
    let received = '';
    let sentBytes = 0;
    let pump: NodeJS.Timeout | undefined;
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(head);
      pump = setInterval(() => {
        if (socket.writable && socket.writableLength < chunk.length * 4) {
          socket.write(chunk);
          sentBytes += chunk.length;
        }
      }, 10);
    });
    socket.on('data', (d) => (received += d.toString()));
    socket.on('error', () => {});
    const timer = setTimeout(() => {
      clearInterval(pump);
      socket.destroy();
      reject(new Error(`the server kept reading the body for ${ms} ms (${sentBytes} bytes); received ${JSON.stringify(received)}`));
    }, ms);
    socket.on('close', () => {
      clearInterval(pump);
      clearTimeout(timer);
      resolve({ received, closedAfterMs: performance.now() - started, sentBytes });
    });
  });
}

describe('answers given before the body is read', () => {
  it('close the connection instead of reading the rest of the body, which may never end', async () => {
    const huge = 'Content-Length: 999999999999\r\n';
    const chunked = 'Transfer-Encoding: chunked\r\n';
    for (const [head, status] of [
      [`POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n${huge}\r\n`, 415],
      [`POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n${chunked}\r\n`, 415],
      [`POST /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n${huge}\r\n`, 404],
      [`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${huge}\r\n`, 200],
      [`GET /v1/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${chunked}\r\n`, 200],
      [`POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: bogus\r\n${huge}\r\n`, 417],
    ] as const) {
      const what = head.split('\r\n').join(' | ');
      const { received, closedAfterMs, sentBytes } = await endlessBody(port, head);
      expect(received, what).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(received.toLowerCase(), what).toContain('connection: close');
      // Before the fix the body was read and thrown away for 30 s (the idle timeout), gigabytes of it.
      expect(closedAfterMs, what).toBeLessThan(3_000);
      expect(sentBytes, what).toBeLessThan(DEFAULT_SERVER_OPTIONS.bodyLimit);
    }
    expect((await send(port, '/healthz')).status).toBe(200);
  });
});

describe('total bounds under load', () => {
  it('answers 503 overloaded with Retry-After when large bodies held at once pass --max-buffered-bytes, and still serves small ones', async () => {
    const own = await start({ bodyLimit: 1024 * 1024, maxBufferedBytes: 2 * 1024 * 1024 });
    const large = 900 * 1024;
    // Two large bodies, stalled part way: 1.8 MiB held.
    const stalled: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const socket = connect(own, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(
        `POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${large}\r\n\r\n{"rows": [`,
      );
      stalled.push(socket);
    }
    try {
      // A round trip on another connection: the server has read the stalled requests' headers by its answer.
      expect((await send(own, '/healthz')).status).toBe(200);
      const third = await raw(
        own,
        `POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${large}\r\n\r\n{"rows": [`,
      );
      expect(third.received).toMatch(/^HTTP\/1\.1 503 /);
      expect(third.received).toMatch(/\r\nretry-after: 1\r\n/i);
      expect(third.received.toLowerCase()).toContain('connection: close');
      const refusal = jsonOf(third.received).error;
      expect(refusal.code).toBe('overloaded');
      expect(refusal.message).toMatch(
        /holds 1843200 bytes of large request bodies; this one's 921600 bytes would pass its limit of 2097152/,
      );
      // A small request is not counted: it is answered while the large bodies are held.
      const small = await send(own, '/v1/predict', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rows: [row(5)] }),
      });
      expect(small.status).toBe(200);
    } finally {
      for (const socket of stalled) socket.destroy();
    }
    // Once the stalled clients are gone, their bytes are released: a large request is answered again.
    const rows = Array.from({ length: 1000 }, (_, i) => row(100 + i));
    const body = JSON.stringify({ rows });
    expect(Buffer.byteLength(body)).toBeGreaterThan(SMALL_BODY_BYTES);
    let answer: Answer | undefined;
    for (let attempt = 0; attempt < 20 && answer?.status !== 200; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      answer = await send(own, '/v1/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    }
    expect(answer?.status).toBe(200);
    expect(answer?.body.predictions).toHaveLength(1000);
  });

  it('answers 503 overloaded with Retry-After when the rows waiting for an inference would pass --max-queued-rows', async () => {
    // Batches wait 300 ms to fill: the first request is still queued when the second arrives.
    const own = await start({ maxBatchRows: 8, maxQueuedRows: 8, maxDelayMs: 300 });
    const predict = (rows: number, seed: number) =>
      send(own, '/v1/predict', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rows: Array.from({ length: rows }, (_, i) => row(seed + i)) }),
      });
    const first = predict(5, 10);
    // By this answer the first request has been read and queued (its bytes arrived before this connection).
    expect((await send(own, '/healthz')).status).toBe(200);
    const second = await predict(5, 20);
    expect(second.status).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.body.error.code).toBe('overloaded');
    expect(second.body.error.message).toMatch(/5 rows are waiting for an inference, and 5 more would pass the limit of 8/);
    expect((await first).status).toBe(200);
    // The queue has emptied: the same request is answered.
    expect((await predict(5, 20)).status).toBe(200);
    const metadata = await send(own, '/v1/metadata');
    expect(metadata.body.limits).toMatchObject({ maxQueuedRows: 8, maxBufferedBytes: 8 * DEFAULT_SERVER_OPTIONS.bodyLimit });
  });
});

describe('answers that kept to the JSON shape and the Host check', () => {
  it('answers a path that is not valid percent-encoding with the JSON shape, after the Host check', async () => {
    const bad = await raw(port, 'GET /%zz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(bad.received).toMatch(/^HTTP\/1\.1 400 /);
    expect(jsonOf(bad.received).error).toEqual({
      code: 'bad-url',
      message: "the request path is not valid: '/%zz' is not a valid url component; percent-encode it (%25 for a % sign)",
    });
    const foreign = await raw(port, 'GET /v1/predict%zz HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n');
    expect(foreign.received).toMatch(/^HTTP\/1\.1 403 /);
    expect(jsonOf(foreign.received).error.code).toBe('host-not-allowed');
  });

  it('answers an Expect it does not meet with 417 JSON, after the Host check', async () => {
    const bogus = await raw(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: bogus\r\n\r\n');
    expect(bogus.received).toMatch(/^HTTP\/1\.1 417 /);
    expect(jsonOf(bogus.received).error).toMatchObject({ code: 'expectation-failed', message: /Expect: "bogus"/ });
    const foreign = await raw(port, 'GET /healthz HTTP/1.1\r\nHost: attacker.example\r\nExpect: bogus\r\n\r\n');
    expect(foreign.received).toMatch(/^HTTP\/1\.1 403 /);
    expect(jsonOf(foreign.received).error.code).toBe('host-not-allowed');
    // 100-continue is met: the body follows and is answered.
    const body = JSON.stringify({ rows: [row(6)] });
    const continued = await send(port, '/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json', expect: '100-continue' },
      body,
    });
    expect(continued.status).toBe(200);
  });

  it('refuses a request with two Host headers with 400, whichever comes first', async () => {
    for (const hosts of ['Host: 127.0.0.1\r\nHost: attacker.example', 'Host: localhost\r\nHost: 127.0.0.1']) {
      const { received } = await raw(port, `GET /v1/metadata HTTP/1.1\r\n${hosts}\r\n\r\n`);
      expect(received, hosts).toMatch(/^HTTP\/1\.1 400 /);
      expect(jsonOf(received).error).toEqual({ code: 'malformed-request', message: 'the request has 2 Host headers; send exactly one' });
    }
  });

  it('names a key that could reach a prototype instead of calling valid JSON invalid', async () => {
    const good = JSON.stringify(row(7));
    for (const [body, key] of [
      [`{"rows": [${good}], "__proto__": {"polluted": true}}`, '__proto__'],
      [`{"rows": [${good}], "\\u005f_proto__": {}}`, '__proto__'],
    ] as const) {
      const answer = await send(port, '/v1/predict', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(answer.status, body).toBe(400);
      expect(answer.body.error.code, body).toBe('invalid-request');
      expect(answer.body.error.message, body).toBe(
        `the request body holds the key "${key}", which is not allowed; send only "rows", "topK" and "scores"`,
      );
    }
    // Below the top level any object is refused before parsing, a prototype key with it.
    const nested = await send(port, '/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"rows": [${good}], "x": [{"constructor": {"prototype": {"polluted": true}}}]}`,
    });
    expect(nested.status).toBe(400);
    expect(nested.body.error.message).toMatch(/^the request body nests arrays or objects where a request has none/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const broken = await send(port, '/v1/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"rows": [[1, 2',
    });
    expect(broken.body.error.code).toBe('invalid-json');
    expect(broken.body.error.message).toMatch(/^the request body is not valid JSON \(.+\)$/);
  });
});
