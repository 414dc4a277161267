import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { createSession, type ModelSession } from '@hyperproto/runtime-node';
import { afterAll, beforeAll } from 'vitest';
import {
  createPredictionServer,
  DEFAULT_SERVER_OPTIONS,
  type PredictionServer,
  type PredictionServerOptions,
} from '../prediction-server.js';

/**
 * Prediction servers of one model for a test file, on 127.0.0.1: the model's session opens before the file's tests,
 * and every server started shuts down after them. `start` answers the port.
 */
export function predictionServers(modelBytes: () => Uint8Array, source: string) {
  let session: ModelSession | undefined;
  const servers: PredictionServer[] = [];
  beforeAll(async () => {
    session = await createSession(modelBytes(), { source });
  });
  afterAll(async () => {
    for (const server of servers) await server.shutdown(1_000);
    await session?.release();
  });
  return {
    async start(options: Partial<PredictionServerOptions> = {}): Promise<number> {
      const server = createPredictionServer(session!, { ...DEFAULT_SERVER_OPTIONS, ...options });
      servers.push(server);
      await server.app.listen({ port: 0, host: '127.0.0.1' });
      return (server.app.server.address() as { port: number }).port;
    },
  };
}

/** Writes `text` on a raw connection and collects what comes back until the server closes it (or `ms` pass). */
export function rawExchange(port: number, text: string | Buffer, ms = 5_000): Promise<{ received: string; closedAfterMs: number }> {
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

/** POSTs `body` as JSON to /v1/predict on its own connection: the status and the parsed answer. */
export function postPrediction(port: number, body: string, timeoutMs = 5_000): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/v1/predict', method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}
