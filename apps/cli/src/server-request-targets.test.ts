import { beforeAll, describe, expect, it } from 'vitest';
import { predictionServers, rawExchange } from './test-support/prediction-servers.js';
import { seededSoftmaxModel } from './test-support/softmax-model.js';

// Request targets other than a path (RFC 9112 3.2): an absolute-form target (`GET http://name/path`, as sent to a
// proxy) is answered only when it names an allowed host, and a CONNECT gets a JSON refusal rather than a silent
// close. Real servers on 127.0.0.1, raw sockets, since an HTTP client never sends these to an origin server.

const WIDTH = 4;
const CLASSES = 3;

interface RawAnswer {
  statusLine: string;
  headers: Record<string, string>;
  body: any;
}

/** Writes `text` on a raw connection and parses the one answer the server sends before it closes. */
async function raw(port: number, text: string | Buffer): Promise<RawAnswer> {
  const { received } = await rawExchange(port, text);
  const end = received.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no answer before the connection closed: ${JSON.stringify(received)}`);
  const [statusLine = '', ...lines] = received.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = received.slice(end + 4);
  return { statusLine, headers, body: body ? JSON.parse(body) : undefined };
}

/** A request with `Connection: close`, so that the server closes after its answer. */
const request = (line: string, headers: Record<string, string>, body?: string) =>
  `${line}\r\n${Object.entries({
    ...headers,
    ...(body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }),
    Connection: 'close',
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n${body ?? ''}`;

const { start } = predictionServers(() => seededSoftmaxModel({ width: WIDTH, classes: CLASSES }), 'targets.onnx');
let port: number;
beforeAll(async () => {
  port = await start();
});

describe('absolute-form request targets', () => {
  it('refuses a target naming another host with 421 JSON, even when the Host header is allowed', async () => {
    for (const [method, target, body] of [
      ['GET', 'http://evil.example/v1/metadata', undefined],
      ['GET', 'http://evil.example:8080/healthz', undefined],
      ['GET', 'https://EVIL.example/healthz', undefined],
      ['GET', 'http://evil.example/no-such-route', undefined],
      ['POST', 'http://evil.example/v1/predict', JSON.stringify({ rows: [[0, 0, 0, 0]] })],
    ] as const) {
      const answer = await raw(
        port,
        request(`${method} ${target} HTTP/1.1`, { Host: `127.0.0.1:${port}`, 'Content-Type': 'application/json' }, body),
      );
      expect(answer.statusLine, target).toBe('HTTP/1.1 421 Misdirected Request');
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(answer.headers.connection).toBe('close');
      const authority = target.split('/')[2]!;
      expect(answer.body).toEqual({
        error: {
          code: 'misdirected-request',
          message: `the request target "${target}" names the host "${authority}", which this server does not answer for (it is not a proxy); allowed: 127.0.0.1, localhost, [::1]; send the request to that host itself, or send this server a path such as /v1/predict`,
        },
      });
    }
  });

  it('refuses a target whose authority is not a plain host[:port]: a user@ part, an empty or malformed one', async () => {
    for (const target of [
      'http://user@127.0.0.1/healthz',
      `http://127.0.0.1:${port}@evil.example/healthz`,
      'http:///healthz',
      'http://127.0.0.1:80:80/healthz',
      'http://[::1/healthz',
    ]) {
      const answer = await raw(port, request(`GET ${target} HTTP/1.1`, { Host: '127.0.0.1' }));
      expect(answer.statusLine, target).toBe('HTTP/1.1 421 Misdirected Request');
      expect(answer.body.error.code, target).toBe('misdirected-request');
      expect(answer.body.error.message, target).toContain(`the request target ${JSON.stringify(target)}`);
    }
  });

  it('answers a target naming an allowed host, in any case and with any port, as it answers the path', async () => {
    for (const target of [`http://127.0.0.1:${port}/healthz`, 'HTTP://LOCALHOST/healthz', 'http://[::1]:1/healthz?probe=1']) {
      const answer = await raw(port, request(`GET ${target} HTTP/1.1`, { Host: `127.0.0.1:${port}` }));
      expect(answer.statusLine, target).toBe('HTTP/1.1 200 OK');
      expect(answer.body).toEqual({ status: 'ok', provider: 'cpu' });
    }
    const metadata = await raw(port, request(`GET http://localhost:${port}/v1/metadata HTTP/1.1`, { Host: 'localhost' }));
    expect(metadata.statusLine).toBe('HTTP/1.1 200 OK');
    expect(metadata.body.source).toBe('targets.onnx');
    expect(metadata.body.classes).toBe(CLASSES);
    const predict = await raw(
      port,
      request(
        `POST http://127.0.0.1:${port}/v1/predict HTTP/1.1`,
        { Host: `127.0.0.1:${port}`, 'Content-Type': 'application/json' },
        JSON.stringify({ rows: [[0.5, -1, 2, 0]], scores: true }),
      ),
    );
    expect(predict.statusLine).toBe('HTTP/1.1 200 OK');
    expect(predict.body.predictions).toHaveLength(1);
    const [item] = predict.body.predictions;
    expect(item.scores).toHaveLength(CLASSES);
    expect(item.label).toBe(item.scores.indexOf(Math.max(...item.scores)));
  });

  it("takes the host from the target and ignores the Host header's (RFC 9112 3.2.2)", async () => {
    const allowedTarget = await raw(port, request(`GET http://127.0.0.1:${port}/healthz HTTP/1.1`, { Host: 'evil.example' }));
    expect(allowedTarget.statusLine).toBe('HTTP/1.1 200 OK');
    const otherTarget = await raw(port, request('GET http://evil.example/healthz HTTP/1.1', { Host: 'localhost' }));
    expect(otherTarget.statusLine).toBe('HTTP/1.1 421 Misdirected Request');
    // A path target is still checked against its Host header.
    const origin = await raw(port, request('GET /healthz HTTP/1.1', { Host: 'evil.example' }));
    expect(origin.statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(origin.body.error.code).toBe('host-not-allowed');
  });

  it('checks the target before answering an Expect it does not meet or a path that is not valid percent-encoding', async () => {
    const expectation = await raw(
      port,
      request('POST http://evil.example/v1/predict HTTP/1.1', { Host: '127.0.0.1', Expect: 'bogus', 'Content-Length': '10' }),
    );
    expect(expectation.statusLine).toBe('HTTP/1.1 421 Misdirected Request');
    expect(expectation.body.error.code).toBe('misdirected-request');
    const allowedExpectation = await raw(
      port,
      request('POST http://127.0.0.1/v1/predict HTTP/1.1', { Host: '127.0.0.1', Expect: 'bogus', 'Content-Length': '10' }),
    );
    expect(allowedExpectation.statusLine).toBe('HTTP/1.1 417 Expectation Failed');
    expect(allowedExpectation.body.error.code).toBe('expectation-failed');
    const badPath = await raw(port, request('GET http://evil.example/%zz HTTP/1.1', { Host: '127.0.0.1' }));
    expect(badPath.statusLine).toBe('HTTP/1.1 421 Misdirected Request');
    const allowedBadPath = await raw(port, request('GET http://127.0.0.1/%zz HTTP/1.1', { Host: '127.0.0.1' }));
    expect(allowedBadPath.statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(allowedBadPath.body.error.code).toBe('bad-url');
  });

  it('answers for the names given in allowedHosts, and only those', async () => {
    const named = await start({ allowedHosts: ['Model.Internal'] });
    const ok = await raw(named, request('GET http://model.internal:9000/healthz HTTP/1.1', { Host: 'model.internal' }));
    expect(ok.statusLine).toBe('HTTP/1.1 200 OK');
    const loopback = await raw(named, request(`GET http://127.0.0.1:${named}/healthz HTTP/1.1`, { Host: 'model.internal' }));
    expect(loopback.statusLine).toBe('HTTP/1.1 421 Misdirected Request');
    expect(loopback.body.error.message).toContain('allowed: model.internal;');
  });
});

describe('CONNECT', () => {
  const refusal = {
    error: {
      code: 'method-not-allowed',
      message:
        'this server does not open tunnels (CONNECT): it is not a proxy; send POST /v1/predict, GET /v1/metadata or GET /healthz to it directly',
    },
  };

  it('answers 405 JSON with Allow and closes the connection, for any host', async () => {
    for (const target of ['evil.example:443', `127.0.0.1:${port}`]) {
      const answer = await raw(port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      expect(answer.statusLine, target).toBe('HTTP/1.1 405 Method Not Allowed');
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(answer.headers.allow).toBe('GET, HEAD, POST');
      expect(answer.headers.connection).toBe('close');
      expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(JSON.stringify(refusal)));
      expect(answer.body).toEqual(refusal);
    }
  });

  it('answers the same when the client starts the tunnel at once, and keeps serving others', async () => {
    // A TLS ClientHello's first bytes, sent right behind the CONNECT as eager clients do.
    const tls = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    const answer = await raw(
      port,
      Buffer.concat([Buffer.from('CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n'), tls]),
    );
    expect(answer.statusLine).toBe('HTTP/1.1 405 Method Not Allowed');
    expect(answer.body).toEqual(refusal);
    const after = await raw(port, request('GET /healthz HTTP/1.1', { Host: '127.0.0.1' }));
    expect(after.statusLine).toBe('HTTP/1.1 200 OK');
  });
});
