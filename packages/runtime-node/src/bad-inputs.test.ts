import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, InvalidFeaturesError, type FeatureInput, type ModelSession } from './index.js';

// What a server passes through from a request body it did not check, and options a caller got wrong: every one is
// refused with a code and a message naming what was given, never a TypeError or onnxruntime's own words.

const fixture = (name: string) => fileURLToPath(new URL(`./test-fixtures/${name}`, import.meta.url));
const SOFTMAX = fixture('softmax-8x5-top3.onnx');
/**
 * Scores = features x W, W's column c all c (so class 2 scores best whenever the features sum above 0), and a
 * label output that is always 0: a file whose label is not the best-scoring class. Written with
 * @hyperproto/onnx-graph's GraphBuilder (MatMul; ReduceMin * 0 cast to int64), metadata of an hpn export. MatMul
 * and ReduceMin are no exporter's operators: the file is refused before it runs (hostile-models.test.ts has a
 * liar of the contract's operators, which the self-check refuses).
 */
const LIAR_LABEL = fixture('liar-label.onnx');

let session: ModelSession;
beforeAll(async () => {
  session = await createSession(SOFTMAX);
});
afterAll(async () => {
  await session.release();
});

const EXPECTED = 'expected rows as number[][], one flat row-major Float32Array, or a { rows, cols, data: Float32Array } matrix';

async function refusal(input: unknown, options = {}): Promise<InvalidFeaturesError> {
  const error = await session.predict(input as FeatureInput, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidFeaturesError);
  return error as InvalidFeaturesError;
}

describe('predict refuses what is not a feature batch', () => {
  it.each([
    [undefined, 'the batch is undefined'],
    [null, 'the batch is null'],
    ['abc', 'the batch is "abc"'],
    [5, 'the batch is 5'],
    [{}, 'the batch is an object without rows, cols and data'],
  ])('%s', async (input, said) => {
    const error = await refusal(input);
    expect(error).toMatchObject({ name: 'HyperprotoError', code: 'E_INVALID_INPUT', detail: { problem: 'not-a-batch' } });
    expect(error.message).toBe(`${said}; ${EXPECTED}`);
  });

  it('a Float64Array, saying how to convert it', async () => {
    const error = await refusal(new Float64Array(16));
    expect(error.message).toBe(`the batch is a Float64Array of 16 values; ${EXPECTED}`);
    expect(error.hint).toMatch(/Float32Array\.from\(values\)/);
  });

  it('a matrix whose rows, cols or data has the wrong type, naming the field, before onnxruntime sees it', async () => {
    const cases: [unknown, string][] = [
      [{ rows: 1, cols: 8, data: new Float64Array(8) }, 'data is a Float64Array of 8 values; data must be a Float32Array'],
      [{ rows: 1, cols: 8, data: Array(8).fill(0) }, 'data is an array of 8 items; data must be a Float32Array'],
      [{ rows: '1', cols: 8, data: new Float32Array(8) }, 'rows is "1"; rows must be a whole number of rows'],
      [{ rows: -1, cols: 8, data: new Float32Array(0) }, 'rows is -1; rows must be a whole number of rows'],
      [{ rows: 1, cols: 8.5, data: new Float32Array(8) }, "cols is 8.5; cols must be a whole number of columns (the model's 8 features)"],
      [{ rows: 1, data: new Float32Array(8) }, 'cols is undefined; cols must be'],
    ];
    for (const [input, said] of cases) {
      const error = await refusal(input);
      expect(error.code).toBe('E_INVALID_INPUT');
      expect(error.detail).toEqual({ problem: 'not-a-batch' });
      expect(error.message).toContain(`the batch is a matrix whose ${said}`);
    }
  });

  it('names the input by its source', async () => {
    expect((await refusal(undefined, { source: 'the request' })).message).toMatch(/^the request is undefined; expected rows/);
  });

  it('still takes every documented form', async () => {
    const row = Array.from({ length: 8 }, (_, i) => i / 8);
    const expected = (await session.predict([row])).labels[0];
    expect((await session.predict({ rows: 1, cols: 8, data: Float32Array.from(row) })).labels[0]).toBe(expected);
    expect((await session.predict(Float32Array.from(row) as unknown as FeatureInput)).labels[0]).toBe(expected);
    expect((await session.predict([Float32Array.from(row) as unknown as number[]])).labels[0]).toBe(expected);
  });
});

describe('predict options', () => {
  it('quotes a top-k given as a string, so that it is not read as the number', async () => {
    const row = new Array(8).fill(0);
    await expect(session.predict([row], { topK: '3' as unknown as number })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: `top-k must be an integer from 1 to the model's 5 classes, got "3"`,
    });
    await expect(session.predict([row], { topK: Number.NaN })).rejects.toMatchObject({
      message: `top-k must be an integer from 1 to the model's 5 classes, got NaN`,
    });
  });
});

describe('predict refuses options out of range before reading the rows, naming the option', () => {
  const MAX_ROWS = 'maxRows must be an integer from 1 (the most rows one call takes), or absent for no limit, got';
  it.each([
    [{ maxRows: 0 }, `${MAX_ROWS} 0`],
    [{ maxRows: -1 }, `${MAX_ROWS} -1`],
    [{ maxRows: 1.5 }, `${MAX_ROWS} 1.5`],
    [{ maxRows: Number.NaN }, `${MAX_ROWS} NaN`],
    [{ maxRows: Number.POSITIVE_INFINITY }, `${MAX_ROWS} Infinity`],
    [{ maxRows: '10' }, `${MAX_ROWS} "10"`],
    [{ scores: 'false' }, 'scores must be true or false, got "false"'],
    [{ scores: 0 }, 'scores must be true or false, got 0'],
    [{ source: 5 }, 'source must be a string, got 5'],
    [{ firstRow: -1 }, 'firstRow must be an integer from 0 (the number messages give the first row), or absent for 0, got -1'],
    [{ firstRow: '1' }, 'firstRow must be an integer from 0 (the number messages give the first row), or absent for 0, got "1"'],
    [null, 'the predict options must be an object such as { topK: 3 }, or absent, got null'],
  ])('%o', async (options, message) => {
    // Rows that are refused too: the options are the caller's to fix first.
    const error = await session.predict([], options as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'HyperprotoError', code: 'E_INVALID_OPTIONS', message, hint: undefined });
  });

  it('takes every allowed value', async () => {
    const rows = [new Array(8).fill(0.25), new Array(8).fill(-0.25)];
    const full = await session.predict(rows);
    const limited = await session.predict(rows, { maxRows: 2, scores: false, source: 'the request', firstRow: 7 });
    expect([...limited.labels]).toEqual([...full.labels]);
    expect(limited.scores).toBeUndefined();
    await expect(session.predict(rows, { maxRows: 1, source: 'the request' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: 'the request has 2 rows; at most 1 are accepted at once',
      detail: { problem: 'too-many-rows' },
    });
  });
});

describe('a released session', () => {
  it('refuses predict and placement saying it was released; a second release does nothing', async () => {
    const released = await createSession(SOFTMAX);
    await released.release();
    const said = { code: 'E_INVALID_INPUT', message: `the session of ${SOFTMAX} was released and cannot be used any more` };
    await expect(released.predict([new Array(8).fill(0)])).rejects.toMatchObject(said);
    await expect(released.placement()).rejects.toMatchObject(said);
    await expect(released.release()).resolves.toBeUndefined();
  });
});

describe('createSession refuses session options out of range before loading, naming the option', () => {
  it.each([
    [
      { intraOpThreads: -1 },
      "intraOpThreads must be an integer of at least 1 (threads per inference), or absent for onnxruntime's default, got -1",
    ],
    [
      { intraOpThreads: 0 },
      "intraOpThreads must be an integer of at least 1 (threads per inference), or absent for onnxruntime's default, got 0",
    ],
    [
      { intraOpThreads: '2' },
      'intraOpThreads must be an integer of at least 1 (threads per inference), or absent for onnxruntime\'s default, got "2"',
    ],
    [{ cudaDeviceId: 1.5 }, 'cudaDeviceId must be an integer of at least 0 (the CUDA device index), got 1.5'],
    [{ spinning: 'yes' }, 'spinning must be true or false, got "yes"'],
    [{ fallback: 1 }, 'fallback must be true or false, got 1'],
  ])('%o', async (options, message) => {
    const error = await createSession(SOFTMAX, options as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The re-export hint belongs to model files that cannot be loaded, not to options.
    expect(error).toMatchObject({ name: 'HyperprotoError', code: 'E_INVALID_OPTIONS', message, hint: undefined });
  });

  it('still opens with valid ones', async () => {
    const opened = await createSession(SOFTMAX, { intraOpThreads: 1, spinning: false, fallback: false });
    expect(opened.provider).toBe('cpu');
    await opened.release();
  });
});

describe('createSession reads the file before onnxruntime does', () => {
  it('refuses a node whose operator no exported model uses, naming the node and the operator', async () => {
    await expect(createSession(LIAR_LABEL)).rejects.toMatchObject({
      name: 'HyperprotoError',
      code: 'E_INVALID_INPUT',
      message: `${LIAR_LABEL} is not a usable ONNX model: the node "MatMul_node" runs the operator "MatMul", which no hyperproto model uses`,
      hint: expect.stringMatching(/^A hyperproto model keeps its weights inside the file and uses only these operators/),
    });
  });

  it('names bytes by their source', async () => {
    await expect(createSession(readFileSync(LIAR_LABEL), { source: 'liar.onnx' })).rejects.toMatchObject({
      message: expect.stringMatching(/^liar\.onnx is not a usable ONNX model: the node "MatMul_node" runs the operator "MatMul"/),
    });
  });
});
