import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebServer, type WebServer } from './server.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw request: `fetch` would normalise `..` out of the path before the server could refuse it. */
function get(server: WebServer, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, path, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

let dir: string;
let server: WebServer;
let bare: WebServer;
const modelBytes = Buffer.from([8, 8, 18, 4, 116, 101, 115, 116]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hyperproto-serve-'));
  await writeFile(join(dir, 'm.onnx'), modelBytes);
  server = await startWebServer({ model: join(dir, 'm.onnx'), port: 0 });
  bare = await startWebServer({ port: 0 });
});

afterAll(async () => {
  await server?.close();
  await bare?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the static server', () => {
  it('listens on 127.0.0.1 and serves the page with cross-origin isolation headers', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    const page = await get(server, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(page.headers['cross-origin-embedder-policy']).toBe('require-corp');
    expect(page.body.toString()).toContain('"onnxruntime-web": "/ort/ort.webgpu.min.mjs"');
  });

  it('serves onnxruntime-web, runtime-web and the model with the right types', async () => {
    const wasm = await get(server, '/ort/ort-wasm-simd-threaded.asyncify.wasm', { method: 'HEAD' });
    expect(wasm.status).toBe(200);
    expect(wasm.headers['content-type']).toBe('application/wasm');
    expect((await get(server, '/ort/ort.webgpu.min.mjs', { method: 'HEAD' })).headers['content-type']).toBe(
      'text/javascript; charset=utf-8',
    );
    expect((await get(server, '/runtime-web/index.js', { method: 'HEAD' })).status).toBe(200);
    expect((await get(server, '/static/style.css', { method: 'HEAD' })).headers['content-type']).toBe('text/css; charset=utf-8');
    const model = await get(server, '/model.onnx');
    expect(model.headers['content-type']).toBe('application/octet-stream');
    expect(model.body).toEqual(modelBytes);
  });

  it('answers an unchanged file with 304', async () => {
    const first = await get(server, '/model.onnx');
    const again = await get(server, '/model.onnx', { headers: { 'If-None-Match': String(first.headers.etag) } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('refuses paths outside its folders, other methods, and says when no model is served', async () => {
    // `..` segments are resolved against the URL first, so they never leave the served prefixes...
    expect((await get(server, '/ort/../../../../../../etc/passwd')).status).toBe(404);
    // ...and an encoded slash that would, after decoding, is refused.
    expect((await get(server, '/static/..%2f..%2f..%2fpackage.json')).status).toBe(403);
    expect((await get(server, '/ort/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd')).status).toBe(403);
    expect((await get(server, '/elsewhere.txt')).status).toBe(404);
    expect((await get(server, '/model.onnx', { method: 'POST' })).status).toBe(405);
    const none = await get(bare, '/model.onnx');
    expect(none.status).toBe(404);
    expect(none.body.toString()).toMatch(/no model is being served: start the server with --model/);
  });

  it('fails to start on a model file that does not exist', async () => {
    await expect(startWebServer({ model: join(dir, 'missing.onnx'), port: 0 })).rejects.toThrow(/model file not found: .*missing\.onnx/);
  });
});

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
      reject(new Error(`the server kept the connection open for ${ms} ms`));
    }, ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received, closedAfterMs: performance.now() - started });
    });
  });
}

describe('the static server, hardened', () => {
  it('answers loopback Host names and refuses others (DNS rebinding) with 403 JSON, the model included, and targets naming other hosts with 421', async () => {
    for (const host of ['127.0.0.1', `127.0.0.1:${server.port}`, `localhost:${server.port}`, '[::1]'])
      expect((await get(server, '/model.onnx', { headers: { Host: host } })).status, host).toBe(200);
    for (const host of ['attacker.example', `attacker.example:${server.port}`, '127.0.0.1.nip.io', 'a b']) {
      for (const path of ['/model.onnx', '/', '/ort/ort.webgpu.min.mjs', '/missing']) {
        const answer = await get(server, path, { headers: { Host: host } });
        expect(answer.status, `${host} ${path}`).toBe(403);
        expect(JSON.parse(answer.body.toString()).error.code).toBe('host-not-allowed');
      }
    }
    expect((await raw(server.port, 'GET /model.onnx HTTP/1.0\r\n\r\n')).received).toMatch(/^HTTP\/1\.1 403/);
    // An absolute-form target names the host in place of the Host header: another host's is misdirected (421).
    const other = await raw(server.port, 'GET http://attacker.example/model.onnx HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(other.received).toMatch(/^HTTP\/1\.1 421/);
    expect(other.received).toContain('"code":"misdirected-request"');
    const own = await raw(
      server.port,
      `GET http://localhost:${server.port}/model.onnx HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n`,
    );
    expect(own.received).toMatch(/^HTTP\/1\.1 200/);
    const named = await startWebServer({ port: 0, allowedHosts: ['box.internal'] });
    try {
      expect((await get(named, '/', { headers: { Host: 'box.internal:5173' } })).status).toBe(200);
    } finally {
      await named.close();
    }
  });

  it('closes a request whose headers stall, and an idle keep-alive connection', async () => {
    const timed = await startWebServer({ port: 0, headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300 });
    try {
      const stalled = await raw(timed.port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow:', 4_000);
      expect(stalled.received).toMatch(/^HTTP\/1\.1 408/);
      expect(stalled.closedAfterMs).toBeLessThan(2_500);
      const kept = await raw(timed.port, 'HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 3_000);
      expect(kept.received).toMatch(/^HTTP\/1\.1 200/);
      expect(kept.closedAfterMs).toBeLessThan(1_500);
    } finally {
      await timed.close();
    }
  });

  it('on close finishes a response under way, drops idle and stalled connections, and returns within the grace period', async () => {
    const own = await startWebServer({ model: join(dir, 'm.onnx'), port: 0, headersTimeoutMs: 60_000, requestTimeoutMs: 120_000 });
    const sockets: Socket[] = [];
    for (let i = 0; i < 40; i++) {
      const socket = await new Promise<Socket>((resolve) => {
        const s = connect(own.port, '127.0.0.1', () => resolve(s));
      });
      socket.on('error', () => {});
      if (i % 2) socket.write('GET /model.onnx HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half');
      sockets.push(socket);
    }
    const closes = sockets.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    // A response under way: the client reads slowly, so the 27 MB wasm file is still being sent during close.
    const download = new Promise<{ status: number; bytes: number }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: own.port, path: '/ort/ort-wasm-simd-threaded.asyncify.wasm' }, (res) => {
        let bytes = 0;
        res.pause();
        setTimeout(() => res.resume(), 300);
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    const drained = await own.close(4_000);
    expect(drained).toBe(true);
    expect(performance.now() - started).toBeLessThan(4_000);
    const { status, bytes } = await download;
    expect(status).toBe(200);
    expect(bytes).toBeGreaterThan(1_000_000);
    await Promise.all(closes);
  });
});
