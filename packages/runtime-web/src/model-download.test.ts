import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchModelBytes, type ModelSizeRule } from './classifier.js';
import { createWebClassifier } from './index.js';
import { exportedClassifier } from './test-support/models.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

/** Serves every request on 127.0.0.1 with `answer`; its URL, and a promise kept once a response is closed. */
async function serve(answer: (response: ServerResponse) => void): Promise<{ url: string; closed: Promise<void> }> {
  let closed!: () => void;
  const whenClosed = new Promise<void>((resolve) => {
    closed = resolve;
  });
  const server = createServer((_, response) => {
    response.on('close', closed);
    answer(response);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.onnx`, closed: whenClosed };
}

/** `promise`, or a failure naming `what` after `ms`: a download that waits for the whole body never settles here. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Refuses more than `limit` bytes, as modelSizeProblem refuses more than 2 GiB. */
const atMost =
  (limit: number): ModelSizeRule =>
  (size, sizeIs) =>
    size > limit ? { why: `it has ${sizeIs === 'at least' ? 'at least ' : ''}${size} bytes, over ${limit}`, hint: 'smaller' } : undefined;

const softmax = exportedClassifier('softmax');

describe('loading a model from a URL refuses a body over the size limit before holding it', () => {
  it('refuses a Content-Length over 2 GiB before reading the body, and closes the connection', async () => {
    // Headers only: the body never comes, so only a refusal made from the header settles.
    const { url, closed } = await serve((response) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(3 * 2 ** 30) });
      response.flushHeaders();
    });
    await expect(within(10_000, 'createWebClassifier', createWebClassifier(url, { providers: ['wasm'] }))).rejects.toMatchObject({
      name: 'HyperprotoError',
      code: 'E_INVALID_INPUT',
      message: `${url} is not a usable ONNX model: it has 3,221,225,472 bytes (3.0 GiB), more than the 2,147,483,647 bytes (2 GiB) a model file can have`,
      hint: 'An exported model is far smaller: check that you gave the model file, or export it again with exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`.',
    });
    await within(10_000, 'the server response to close', closed);
  });

  it('counts a body without Content-Length as it arrives, and cancels it once it passes the limit', async () => {
    const chunk = new Uint8Array(64 * 1024);
    let sent = 0;
    // Sends for as long as the client reads: an endless body, had the client no limit.
    const { url, closed } = await serve((response) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      const send = () => {
        while (!response.destroyed) {
          sent += chunk.length;
          if (!response.write(chunk)) return void response.once('drain', send);
        }
      };
      send();
    });
    const refusal = fetchModelBytes(url, fetch, atMost(1_000_000));
    await expect(within(10_000, 'fetchModelBytes', refusal)).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(
        /^http:\/\/127\.0\.0\.1:\d+\/model\.onnx is not a usable ONNX model: it has at least \d+ bytes, over 1000000$/,
      ),
      hint: 'smaller',
    });
    await within(10_000, 'the server response to close', closed);
    // What loopback buffers held when the client stopped, far short of an endless body.
    expect(sent).toBeLessThan(64 * 2 ** 20);
  });

  it('still loads a model within the limit, with a Content-Length or sent in parts without one', async () => {
    const whole = await serve((response) => {
      response.writeHead(200, { 'content-length': String(softmax.bytes.length) });
      response.end(softmax.bytes);
    });
    const classifier = await createWebClassifier(whole.url, { providers: ['wasm'] });
    expect(classifier.classes).toBe(5);
    await classifier.release();

    const parts = await serve((response) => {
      response.writeHead(200);
      // One part per write, with a pause between them, so that the client reads several.
      let at = 0;
      const next = () => {
        if (at >= softmax.bytes.length) return void response.end();
        response.write(softmax.bytes.subarray(at, at + 1_000));
        at += 1_000;
        setTimeout(next, 1);
      };
      next();
    });
    expect(await fetchModelBytes(parts.url, fetch, atMost(softmax.bytes.length))).toEqual(softmax.bytes);
    await expect(fetchModelBytes(parts.url, fetch, atMost(softmax.bytes.length - 1))).rejects.toMatchObject({
      message: `${parts.url} is not a usable ONNX model: it has at least ${softmax.bytes.length} bytes, over ${softmax.bytes.length - 1}`,
    });
  });
});
