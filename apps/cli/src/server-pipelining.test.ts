import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createRng } from '@hyperproto/core';
import { createSession, type ModelSession } from '@hyperproto/runtime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPredictionServer, type PredictionServer, SMALL_BODY_BYTES } from './prediction-server.js';
import { seededSoftmaxModel } from './test-support/softmax-model.js';
import { postPrediction } from './test-support/prediction-servers.js';

// What a request holds (its body's bytes against --max-buffered-bytes, its place among the requests in flight) is
// given back when it is answered or its connection closes, whichever comes first. Answers queued behind another on a
// pipelined connection never emit their own 'close' when the connection dies (Node 20): a probe that pipelined
// requests and hung up left the idle server counting 66 MB of bodies as held, refusing every large request for good.

const WIDTH = 20;
const CLASSES = 7;
const KiB = 1024;

const rowsOf = (count: number, seed: number) => {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => Array.from({ length: WIDTH }, () => rng.normal()));
};

let session: ModelSession;
const servers: PredictionServer[] = [];
beforeAll(async () => {
  session = await createSession(seededSoftmaxModel({ width: WIDTH, classes: CLASSES }), { source: 'test.onnx' });
});
afterAll(async () => {
  for (const server of servers) await server.shutdown(1_000);
  await session.release();
});

/** Batches wait this long to fill: the requests of a test are still waiting for their answers when it hangs up. */
const BATCH_DELAY_MS = 1_500;

async function start(maxBufferedBytes: number): Promise<{ server: PredictionServer; port: number }> {
  const server = createPredictionServer(session, {
    bodyLimit: 1024 * KiB,
    maxRequestRows: 1024,
    maxBatchRows: 1024,
    maxDelayMs: BATCH_DELAY_MS,
    maxBufferedBytes,
  });
  servers.push(server);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  return { server, port: (server.app.server.address() as { port: number }).port };
}

const predictHead = (length: number) =>
  `POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

/** Rows of about 79 KB of JSON: a large body, counted against --max-buffered-bytes. */
const PIPELINED_BODY = JSON.stringify({ rows: rowsOf(200, 1), scores: true });

/**
 * Pipelines `count` large requests on one connection and hangs up while they wait for their batch: the first one's
 * answer has the connection, the others' answers are queued behind it, as on a connection whose client does not read.
 */
async function pipelineAndHangUp(port: number, count: number): Promise<void> {
  expect(Buffer.byteLength(PIPELINED_BODY)).toBeGreaterThan(SMALL_BODY_BYTES);
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write((predictHead(Buffer.byteLength(PIPELINED_BODY)) + PIPELINED_BODY).repeat(count));
  await new Promise((resolve) => setTimeout(resolve, BATCH_DELAY_MS / 3));
  socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Opens a request whose body (of `length` bytes) never comes; resolves once the server has read its headers. */
async function stall(port: number, length: number): Promise<{ socket: Socket; received: () => string }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let received = '';
  socket.on('data', (chunk) => (received += chunk));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(`${predictHead(length)}{"rows": [`);
  // A round trip on another connection: the server has read these headers by its answer.
  await new Promise<void>((resolve, reject) =>
    httpRequest({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => res.resume().on('end', resolve))
      .on('error', reject)
      .end(),
  );
  return { socket, received: () => received };
}

/**
 * The bytes the server counts as held, read from the 503 it gives a request that would pass the bound: stalls one
 * body of `probe` bytes, then offers another, larger than what is left. Both connections are closed after.
 */
async function heldBytes(port: number, maxBufferedBytes: number, probe: number): Promise<number> {
  const first = await stall(port, probe);
  const second = await stall(port, maxBufferedBytes - probe + 1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  first.socket.destroy();
  second.socket.destroy();
  const held = /holds (\d+) bytes of large request bodies/.exec(second.received())?.[1];
  expect(held, second.received()).toBeDefined();
  await new Promise((resolve) => setTimeout(resolve, 100));
  return Number(held);
}

describe('what pipelined requests hold', () => {
  it('is given back when their connection closes with answers still queued: the idle server then takes a large request', async () => {
    const maxBufferedBytes = 1024 * KiB;
    const { port } = await start(maxBufferedBytes);
    // 12 bodies of 79 KB: all within the bound while they are read.
    await pipelineAndHangUp(port, 12);

    // One request of 1,024 rows (about 400 KB), as any client sends: nothing is held any more.
    const rows = JSON.stringify({ rows: rowsOf(1024, 2) });
    expect(Buffer.byteLength(rows)).toBeGreaterThan(SMALL_BODY_BYTES);
    const large = await postPrediction(port, rows);
    // Before the fix: 503 "the server holds 868879 bytes of large request bodies...", for good.
    expect(large.body.error?.message ?? '').not.toMatch(/holds/);
    expect(large.status).toBe(200);
    expect(large.body.predictions).toHaveLength(1024);

    // Exactly nothing: a stalled body of 100,000 bytes is all the server says it holds.
    expect(await heldBytes(port, maxBufferedBytes, 100_000)).toBe(100_000);
  });

  it('leaves no request counted in flight: shutdown reports only the one still unanswered', async () => {
    const { server, port } = await start(64 * 1024 * KiB);
    await pipelineAndHangUp(port, 12);
    // A request still sending its body, a byte every 50 ms: in flight until the grace period ends.
    const { socket } = await stall(port, 100_000);
    const trickle = setInterval(() => socket.write(' '), 50);
    try {
      // Before the fix the pipelined requests whose connection had gone were counted as abandoned too.
      expect(await server.shutdown(300)).toEqual({ drained: false, abandoned: 1 });
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });
});
