import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DATA_TYPES, GraphBuilder } from '@hyperproto/onnx-graph';
import { createSession, type ModelSession } from '@hyperproto/runtime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPredictionServer, DEFAULT_SERVER_OPTIONS, type PredictionServer } from './prediction-server.js';
import { runCli } from './test-support/run-cli.js';
import { seededSoftmaxModel } from './test-support/softmax-model.js';

// Rows that make a model fail: one client's must not fail another's request in `serve`, where requests share
// inferences, and `predict` blames the model file for a lie, naming the row in the input file.

/**
 * scores = features x W [4, 3] (features 0-2 score their own class, feature 3 all three alike); label = their
 * argmax plus 100,000 for each unit of feature 0 above 10. The self-check's rows (about ±1.5) never show the lie,
 * so the file loads; a row whose feature 0 is 20 gets the label 1,000,000.
 */
function liarModel(): Uint8Array {
  const g = new GraphBuilder('liar');
  const x = g.input('features', 'float32', ['N', 4]);
  const weights = g.initializer('W', Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0.5), [4, 3]);
  g.node('Gemm', [x, weights], {}, { outputs: ['scores'] });
  const best = g.node('ArgMax', ['scores'], { axis: 1, keepdims: 1 });
  const above = g.node('Relu', [g.node('Sub', [g.node('Gather', [x, g.ints([0])], { axis: 1 }), g.scalar(10)])]);
  const shift = g.node('Cast', [g.node('Mul', [above, g.scalar(100_000)])], { to: DATA_TYPES.int64 });
  g.node('Squeeze', [g.node('Add', [best, shift]), g.ints([1])], {}, { outputs: ['label'] });
  g.output('scores', 'float32', ['N', 3]);
  g.output('label', 'int64', ['N']);
  return g.toModel({ producerName: 'test' });
}

/** Rows the liar answers honestly: labels 0, 1, 2. */
const HONEST_ROWS = [
  [1, 0, 0.25, 0],
  [0, 2, 0, 0],
  [0, 0, 3, 1],
];
const TRIGGER_ROW = [20, 0, 0, 0];

interface Served {
  session: ModelSession;
  server: PredictionServer;
  base: string;
  /** The rows of each inference the server ran, in order. */
  runs: number[];
  /** What the server logged of its failures (5xx). */
  logged: string[];
}

/** A server of `model` that waits `maxDelayMs` for requests to share an inference, recording each one it runs. */
async function serve(model: Uint8Array, source: string, maxDelayMs: number): Promise<Served> {
  const session = await createSession(model, { source });
  const runs: number[] = [];
  const recording: ModelSession = {
    ...session,
    predict: (features, options) => {
      runs.push(Array.isArray(features) ? features.length : (features as { rows: number }).rows);
      return session.predict(features, options);
    },
  };
  const logged: string[] = [];
  const server = createPredictionServer(recording, { ...DEFAULT_SERVER_OPTIONS, maxDelayMs, logError: (message) => logged.push(message) });
  const base = await server.app.listen({ port: 0, host: '127.0.0.1' });
  return { session, server, base, runs, logged };
}

async function post(base: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}/v1/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Two requests sent so that the first is queued before the second, within one inference's wait. */
async function sentTogether(base: string, first: unknown, second: unknown) {
  const answers = [post(base, first)];
  await sleep(300);
  answers.push(post(base, second));
  return Promise.all(answers);
}

describe('serve, when one request in a shared inference makes it fail', () => {
  let liar: Served;
  beforeAll(async () => {
    liar = await serve(liarModel(), 'liar.onnx', 2_000);
  });
  afterAll(async () => {
    await liar.server.app.close();
    await liar.session.release();
  });

  it("answers the other requests, and fails that one alone with its own row numbers (500: the model's fault)", async () => {
    const [honest, lied] = await sentTogether(liar.base, { rows: HONEST_ROWS, scores: true }, { rows: [HONEST_ROWS[1], TRIGGER_ROW] });
    expect(honest!.status).toBe(200);
    expect(honest!.body.predictions).toEqual([
      { label: 0, score: 1, scores: [1, 0, 0.25] },
      { label: 1, score: 2, scores: [0, 2, 0] },
      { label: 2, score: 3.5, scores: [0.5, 0.5, 3.5] },
    ]);
    // The model's failure is the server's: the client is told only that (a 500's message names no file of the
    // server's), and the log has what failed, with row 1 of its own request (row 4 of the shared inference).
    expect(lied).toEqual({
      status: 500,
      body: { error: { code: 'internal', message: 'the server failed to answer; it logged the error' } },
    });
    expect(liar.logged).toHaveLength(1);
    expect(liar.logged[0]).toContain(
      'POST /v1/predict failed: HyperprotoError: liar.onnx gave answers that break its own interface for this batch: its label output is not a class index: row 1 has label 1000000, but the model has 3 classes (0 to 2)',
    );
    // The two shared an inference of 5 rows, which failed; then each ran alone.
    expect(liar.runs).toEqual([5, 3, 2]);
  });
});

describe('serve, when one request has features far beyond the training data', () => {
  const WIDTH = 20;
  let honest: Served;
  beforeAll(async () => {
    honest = await serve(seededSoftmaxModel({ width: WIDTH, classes: 7, topK: 2 }), 'softmax.onnx', 2_000);
  });
  afterAll(async () => {
    await honest.server.app.close();
    await honest.session.release();
  });

  it('answers both requests: the extreme row with null scores (NaN from the model), the others as alone', async () => {
    // ±3e38 is finite float32, so the row is taken; the model overflows on it, and its scores are NaN.
    const extreme = Array.from({ length: WIDTH }, (_, c) => (c % 2 ? -3e38 : 3e38));
    const moderate = Array.from({ length: WIDTH }, (_, c) => Math.sin(c));
    const [other, own] = await sentTogether(
      honest.base,
      { rows: [moderate], scores: true },
      { rows: [moderate, extreme], scores: true, topK: 2 },
    );
    const expected = await honest.session.predict([moderate]);
    for (const reply of [other!, own!]) {
      expect(reply.status).toBe(200);
      expect(reply.body.predictions[0].label).toBe(expected.labels[0]);
      expected.scores!.forEach((score, c) => expect(reply.body.predictions[0].scores[c]).toBeCloseTo(score, 6));
    }
    const answered = own!.body.predictions[1];
    expect(answered).toMatchObject({ score: null, scores: Array(7).fill(null), topK: [{ score: null }, { score: null }] });
    expect([0, 1, 2, 3, 4, 5, 6]).toContain(answered.label);
    // One inference for both: nothing failed.
    expect(honest.runs).toEqual([3]);
  });
});

describe('predict, when a model lies for a row of the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hyperproto-liar-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('blames the model file (E_INVALID_INPUT, exit 2), naming the row as counted in the file, whatever the batch size', async () => {
    writeFileSync(join(dir, 'liar.onnx'), liarModel());
    // The trigger is the 4th row: in the second batch of 2, and in the one batch of 1,024.
    writeFileSync(join(dir, 'rows.csv'), [...HONEST_ROWS, TRIGGER_ROW, HONEST_ROWS[0]].map((row) => row!.join(',')).join('\n'));
    for (const batchSize of ['2', '1024']) {
      const run = await runCli(['predict', 'liar.onnx', '--input', 'rows.csv', '--batch-size', batchSize], dir);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toBe(
        'error E_INVALID_INPUT: liar.onnx gave answers that break its own interface for this batch: its label output is not a class index: row 4 has label 1000000, but the model has 3 classes (0 to 2)\n' +
          'hint: The file passed the checks at load, so only some inputs show it. The file is not a model written by exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`, or it was changed since; export it again.\n',
      );
    }
  });
});
