import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@hyperproto/core';
import { GraphBuilder } from '@hyperproto/onnx-graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, runCli } from './test-support/run-cli.js';
import { seededSoftmaxModel } from './test-support/softmax-model.js';

// The real `hyperproto serve` process: signals, exit codes and start-up checks as users meet them.

const WIDTH = 20;
const CLASSES = 7;

const modelBytes = () => seededSoftmaxModel({ width: WIDTH, classes: CLASSES });

/** probabilities = softmax(features) [N, 4]; label = argmax + 999: a model that names classes it does not have. */
function badLabelModel(): Uint8Array {
  const graph = new GraphBuilder('bad');
  graph.input('features', 'float32', ['N', 4]);
  graph.node('Softmax', ['features'], { axis: 1 }, { outputs: ['probabilities'] });
  graph.node('ArgMax', ['probabilities'], { axis: 1, keepdims: 0 }, { outputs: ['best'] });
  const offset = graph.initializer('offset', BigInt64Array.of(999n), []);
  graph.node('Add', ['best', offset], {}, { outputs: ['label'] });
  graph.output('probabilities', 'float32', ['N', 4]);
  graph.output('label', 'int64', ['N']);
  return graph.toModel({ producerName: 'test' });
}

/** Resolves after `ms`, or rejects with `what` when `promise` has not settled by then: no wait is unbounded. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]);
}

interface Served {
  child: ChildProcess;
  port: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
  stdout: () => string;
}

async function serve(model: string, args: string[], nodeArgs: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [...nodeArgs, CLI_BIN, 'serve', model, '--port', '0', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CI: 'true' },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let out = '';
  const ready = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!).port as number);
    });
    void exited.then(({ code }) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const port = await within(ready, 20_000, 'serve start-up');
  return { child, port, exited, stderr: () => stderr, stdout: () => out };
}

/** What --json promises a script: exactly one JSON object on stdout, the start-up one, however the server stopped. */
function expectOnlyReadyObject(served: Served): void {
  const lines = served.stdout().trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!)).toMatchObject({ port: served.port, routes: ['POST /v1/predict', 'GET /v1/metadata', 'GET /healthz'] });
}

interface Answer {
  status: number;
  body: string;
}

function send(port: number, path: string, options: { method?: string; body?: string; host?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        agent: false,
        headers: {
          ...(options.host ? { host: options.host } : {}),
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

const closedSocket = (socket: Socket) =>
  socket.destroyed && socket.readyState === 'closed'
    ? Promise.resolve()
    : new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
      });

let dir: string;
let model: string;
/** Preloaded with --import, on every thread: ends the model's worker thread when it is sent a batch of 13 rows. */
let threadKiller: string;
const rows = (n: number, seed: number) => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => Array.from({ length: WIDTH }, () => rng.normal()));
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hyperproto-serve-shutdown-'));
  model = join(dir, 'model.onnx');
  await writeFile(model, modelBytes());
  await writeFile(join(dir, 'bad-label.onnx'), badLabelModel());
  threadKiller = join(dir, 'end-thread-at-13-rows.mjs');
  await writeFile(
    threadKiller,
    `import { isMainThread, parentPort } from 'node:worker_threads';
if (!isMainThread)
  parentPort.on('message', (message) => {
    if (message.type === 'predict' && message.features.rows === 13) process.exit(9);
  });
`,
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A request whose body trickles in, a byte every 200 ms: never stalled long enough to be dropped as stalled, never
 * finished. Clear `trickle` when done.
 */
async function trickledRequest(port: number) {
  const socket = await openSocket(port);
  socket.on('error', () => {});
  socket.write('POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[');
  const trickle = setInterval(() => socket.writable && socket.write(' '), 200);
  return { socket, trickle };
}

describe('hyperproto serve, the process', () => {
  it('on SIGTERM answers the requests in flight, drops 200 idle and stalled connections, and exits 0 within the grace period', async () => {
    // Long connection timeouts, so that only shutdown can end the stalled connections.
    const served = await serve(model, [
      '--max-delay-ms',
      '500',
      '--shutdown-timeout',
      '5',
      '--headers-timeout',
      '120',
      '--request-timeout',
      '120',
      '--idle-timeout',
      '120',
      '--keep-alive-timeout',
      '120',
      '--allowed-host',
      'model.internal',
    ]);
    const { port } = served;
    try {
      // The allow-list, on the real process: another site's name is refused, an added one answered.
      const rebound = await send(port, '/v1/metadata', { host: 'attacker.example:8080' });
      expect(rebound.status).toBe(403);
      expect(JSON.parse(rebound.body).error.code).toBe('host-not-allowed');
      expect((await send(port, '/v1/metadata', { host: `model.internal:${port}` })).status).toBe(200);

      // 50 each: connected and silent, idle after one keep-alive request, half a header, half a body.
      const sockets: Socket[] = [];
      for (let i = 0; i < 200; i++) sockets.push(await openSocket(port));
      await Promise.all(
        sockets.map((socket, i) => {
          socket.on('error', () => {});
          const kind = i % 4;
          if (kind === 1) {
            return new Promise<void>((resolve) => {
              socket.once('data', () => resolve());
              socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
            });
          }
          if (kind === 2) socket.write('POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty');
          if (kind === 3)
            socket.write(
              'POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"rows": [[',
            );
          return Promise.resolve();
        }),
      );
      const closes = sockets.map(closedSocket);

      // Requests that wait 500 ms for their batch: in flight when the signal comes.
      const inFlight = Array.from({ length: 8 }, (_, i) =>
        send(port, '/v1/predict', { method: 'POST', body: JSON.stringify({ rows: rows(1 + (i % 3), i) }) }),
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
      const signalled = performance.now();
      served.child.kill('SIGTERM');

      const answers = await within(Promise.all(inFlight), 5_000, 'the requests in flight');
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(JSON.parse(answer.body).predictions.length).toBeGreaterThan(0);
      }
      const exit = await within(served.exited, 6_000, 'exit after SIGTERM');
      const took = performance.now() - signalled;
      expect(exit.code, served.stderr()).toBe(0);
      expect(took).toBeLessThan(5_000);
      await within(Promise.all(closes), 2_000, 'the 200 connections closing');
    } finally {
      served.child.kill('SIGKILL');
    }
  }, 30_000);

  it('on SIGTERM closes at once a client trickling its headers and one sending a body after its refusal, and exits 0', async () => {
    // A grace period longer than the test: only closing those connections at once lets the process exit in time.
    const served = await serve(model, ['--shutdown-timeout', '20', '--headers-timeout', '120', '--request-timeout', '120']);
    const trickler = await openSocket(served.port);
    const refused = await openSocket(served.port);
    const timers: NodeJS.Timeout[] = [];
    try {
      trickler.on('error', () => {});
      refused.on('error', () => {});
      // A header byte every 200 ms: never quiet long enough to time out, never a whole request.
      trickler.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      timers.push(setInterval(() => trickler.writable && trickler.write('a'), 200));
      // Refused with 415 before its body is read, and sending on.
      let answer = '';
      refused.on('data', (chunk) => (answer += chunk));
      refused.write('POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 999999999\r\n\r\n');
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      timers.push(setInterval(() => refused.writable && refused.writableLength < 4 * chunk.length && refused.write(chunk), 10));
      const closes = [closedSocket(trickler), closedSocket(refused)];
      await new Promise((resolve) => setTimeout(resolve, 500));
      const signalled = performance.now();
      served.child.kill('SIGTERM');
      const exit = await within(served.exited, 10_000, 'exit after SIGTERM');
      expect(exit.code, served.stderr()).toBe(0);
      expect(performance.now() - signalled).toBeLessThan(3_000);
      // Only the ready line: no "stopped with ... unanswered".
      expect(served.stdout().trim().split('\n')).toHaveLength(1);
      await within(Promise.all(closes), 2_000, 'both connections closing');
      expect(answer).toMatch(/^HTTP\/1\.1 415 /);
    } finally {
      for (const timer of timers) clearInterval(timer);
      served.child.kill('SIGKILL');
    }
  }, 30_000);

  it('closes a request that keeps trickling after the grace period, and exits 130 saying so', async () => {
    const served = await serve(model, ['--shutdown-timeout', '1.5', '--request-timeout', '120', '--idle-timeout', '120']);
    const { socket, trickle } = await trickledRequest(served.port);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const signalled = performance.now();
      served.child.kill('SIGTERM');
      const exit = await within(served.exited, 5_000, 'exit after SIGTERM');
      expect(performance.now() - signalled).toBeLessThan(3_500);
      expect(exit.code).toBe(130);
      // With --json stdout stays one JSON object, the start-up one; the stop is said on stderr.
      expectOnlyReadyObject(served);
      expect(served.stderr()).toMatch(
        /^error E_ABORTED: stopped with 1 request unanswered: the requests in flight did not finish within the shutdown timeout of 1\.5 s\nhint: Give them longer with --shutdown-timeout SECONDS\.$/m,
      );
      await within(closedSocket(socket), 2_000, 'the trickling connection closing');
    } finally {
      clearInterval(trickle);
      served.child.kill('SIGKILL');
    }
  }, 30_000);

  it('quits at once on a second SIGTERM during the grace period, stdout still one JSON object', async () => {
    const served = await serve(model, ['--shutdown-timeout', '20', '--request-timeout', '120', '--idle-timeout', '120']);
    const { trickle } = await trickledRequest(served.port);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      served.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(served.child.exitCode).toBeNull();
      served.child.kill('SIGTERM');
      // Ended by the signal itself (a shell shows 143), long before the 20 s grace period.
      expect(await within(served.exited, 5_000, 'exit after the second SIGTERM')).toEqual({ code: null, signal: 'SIGTERM' });
      expectOnlyReadyObject(served);
    } finally {
      clearInterval(trickle);
      served.child.kill('SIGKILL');
    }
  }, 30_000);

  it('when the thread running the model ends, fails the request with a 500 naming no file, stops, and exits 1 saying why', async () => {
    const served = await serve(model, ['--shutdown-timeout', '5'], ['--import', threadKiller]);
    const { port } = served;
    try {
      const before = await send(port, '/v1/predict', { method: 'POST', body: JSON.stringify({ rows: rows(2, 1) }) });
      expect(before.status).toBe(200);
      const fatal = await send(port, '/v1/predict', { method: 'POST', body: JSON.stringify({ rows: rows(13, 2) }) });
      // The failure is the server's: the client is told only that, and the detail (the model's path) goes to stderr.
      expect(fatal).toEqual({
        status: 500,
        body: JSON.stringify({ error: { code: 'internal', message: 'the server failed to answer; it logged the error' } }),
      });
      // No health check succeeds any more: 503 while it shuts down, then no listener.
      const health = await send(port, '/healthz').then(
        (answer) => answer.status,
        (error: NodeJS.ErrnoException) => error.code,
      );
      expect([503, 'ECONNREFUSED', 'ECONNRESET']).toContain(health);
      const exit = await within(served.exited, 10_000, 'exit after the thread ended');
      expect(exit.code, served.stderr()).toBe(1);
      const ended = `the worker thread running ${model} ended unexpectedly (it exited with code 9); the calls it was answering are lost`;
      expect(served.stderr()).toContain(`${ended}: stopping\n`);
      expect(served.stderr()).toContain(`POST /v1/predict failed: HyperprotoError: ${ended}`);
      // With --json stdout stays one JSON object, the start-up one; the error is said on stderr.
      expectOnlyReadyObject(served);
      expect(served.stderr()).toContain(
        `error E_INTERNAL: stopped: ${ended}\nhint: Start it again (a process manager restarts it on this exit code); if the thread keeps ending, report it with this output.\n`,
      );
    } finally {
      served.child.kill('SIGKILL');
    }
  }, 30_000);

  it('refuses at start-up a model whose label output is not a class index (exit 2)', async () => {
    const run = await within(runCli(['serve', join(dir, 'bad-label.onnx'), '--port', '0'], dir), 20_000, 'serve of a bad model');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/label output is not a class index: row 0 has label \d+, but the model has 4 classes/);
    expect(run.stdout).toBe('');
  }, 30_000);
});
