import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createMatrix, createRng, ErrorCode, isHyperprotoError, type Matrix } from '@hyperproto/core';
import { ContractErrorCode, InvalidFeaturesError as ContractInvalidFeaturesError } from '@hyperproto/model-contract';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, cudaProviderInstalled, InvalidFeaturesError, readOnnxModelInfo, type ModelSession } from './index.js';

// Written by packages/onnx/scripts/write-runtime-fixtures.mjs.
const fixture = (name: string) => fileURLToPath(new URL(`./test-fixtures/${name}`, import.meta.url));
const SOFTMAX = fixture('softmax-8x5-top3.onnx');
const HPN = fixture('hpn-8x6.onnx');
/** A learned classifier [5, 4] and bias [5] (head parameters), stored as initializers. */
const BOTTLENECK = fixture('bottleneck-8x5.onnx');

/** The model with one more metadata_props entry (ModelProto field 14) appended: protobuf reads fields in any order. */
function withMetadata(bytes: Uint8Array, entries: Record<string, string>): Uint8Array {
  const varint = (n: number): number[] => (n < 128 ? [n] : [(n & 127) | 128, ...varint(n >>> 7)]);
  const field = (number: number, body: readonly number[]) => [(number << 3) | 2, ...varint(body.length), ...body];
  const utf8 = (text: string) => [...new TextEncoder().encode(text)];
  const added = Object.entries(entries).flatMap(([key, value]) => field(14, [...field(1, utf8(key)), ...field(2, utf8(value))]));
  return new Uint8Array([...bytes, ...added]);
}

const randomRows = (rows: number, width: number, seed: number): Matrix =>
  createMatrix(rows, width, createRng(seed).fillNormal(new Float32Array(rows * width), 0, 2));

/** The model run directly through onnxruntime: what the session must reproduce. */
async function direct(path: string, features: Matrix): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(path);
  try {
    return (await session.run({ features: new ort.Tensor('float32', features.data, [features.rows, features.cols]) })) as Record<
      string,
      ort.Tensor
    >;
  } finally {
    await session.release();
  }
}

let softmax: ModelSession;
let hpn: ModelSession;
let bottleneck: ModelSession;
beforeAll(async () => {
  softmax = await createSession(SOFTMAX);
  hpn = await createSession(readFileSync(HPN), { source: 'hpn-8x6.onnx' });
  bottleneck = await createSession(BOTTLENECK);
});
afterAll(async () => {
  await softmax.release();
  await hpn.release();
  await bottleneck.release();
});

describe('createSession', () => {
  it('reads the model interface and metadata', () => {
    expect(softmax.provider).toBe('cpu');
    expect(softmax.skipped).toEqual([]);
    expect(softmax).toMatchObject({ inputName: 'features', inputWidth: 8, classes: 5, scoresName: 'probabilities', modelTopK: 3 });
    expect(softmax.classNames).toEqual(['ant', 'bee', 'cat', 'dog', 'eel']);
    expect(softmax.metadata).toMatchObject({
      head: 'softmax',
      classes: '5',
      dims: '5',
      inputWidth: '8',
      producerVersion: '0.0.0-fixture',
      format: 'hyperproto-classifier',
    });
    expect(softmax.info).toMatchObject({ irVersion: 8, opset: 17, producerName: 'hyperproto' });
    expect(hpn).toMatchObject({ source: 'hpn-8x6.onnx', classes: 6, scoresName: 'scores', modelTopK: 0 });
    expect(hpn.classNames).toBeUndefined();
    expect(hpn.metadata).toMatchObject({ head: 'hpn', strategy: 'random', dims: '3' });
    // A head with learned matrix parameters: they are constants of the file, the only input is the features.
    expect(bottleneck).toMatchObject({ inputName: 'features', classes: 5, scoresName: 'probabilities' });
    expect(bottleneck.metadata).toMatchObject({ head: 'bottleneck-softmax', dims: '4' });
  });

  it('refuses an empty, non-ONNX or truncated file and a missing one, naming the problem', async () => {
    const bytes = readFileSync(SOFTMAX);
    const refuse = async (model: Uint8Array | string, pattern: RegExp, code: string = ErrorCode.InvalidInput) => {
      const error = await createSession(model, { source: 'm.onnx' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code });
      expect((error as Error).message).toMatch(pattern);
    };
    await refuse(new Uint8Array(), /m\.onnx is not a usable ONNX model: the file is empty/);
    await refuse(
      new TextEncoder().encode('{"format": "hyperproto-mlp", "weights": []}\n'),
      /not an ONNX \(protobuf\) file|not an ONNX model/,
    );
    await refuse(bytes.subarray(0, bytes.length - 100), /m\.onnx is not a usable ONNX model: the file is truncated/);
    await refuse(bytes.subarray(0, 40), /truncated/);
    await refuse('/nonexistent/model.onnx', /cannot read the model \/nonexistent\/model\.onnx: no such file/, ErrorCode.Io);
    // A library caller may not have the command line: the hint names the exporter function first.
    await expect(createSession('/nonexistent/model.onnx')).rejects.toMatchObject({
      hint: 'Make one with exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`.',
    });
    expect(() => readOnnxModelInfo(new Uint8Array([0x08, 0x08]))).toThrow(/no graph/);
  });

  it('reports where each node ran', async () => {
    const placement = await hpn.placement();
    expect(placement.length).toBeGreaterThan(5);
    expect(new Set(placement.map((p) => p.provider))).toEqual(new Set(['CPUExecutionProvider']));
    expect(placement.map((p) => p.op)).toEqual(expect.arrayContaining(['Gemm', 'ArgMax']));
  });

  it('refuses unknown or repeated providers', async () => {
    await expect(createSession(SOFTMAX, { providers: ['tpu' as 'cpu'] })).rejects.toThrow(
      /unknown execution provider "tpu"; choose from cpu, cuda/,
    );
    await expect(createSession(SOFTMAX, { providers: [] })).rejects.toThrow(/at least one execution provider/);
    await expect(createSession(SOFTMAX, { providers: ['cpu', 'cpu'] })).rejects.toThrow(/listed twice/);
  });
});

describe.skipIf(cudaProviderInstalled())('CUDA where its provider is not installed', () => {
  it('is an error with the install instruction when no fallback is allowed', async () => {
    for (const providers of [['cuda'], ['cuda', 'cpu']] as const) {
      const error = (await createSession(SOFTMAX, { providers }).catch((e: unknown) => e)) as {
        code: string;
        message: string;
        hint: string;
      };
      expect(error.code).toBe(ErrorCode.NoEngine);
      expect(error.message).toMatch(/\[cuda\] the CUDA execution provider is not installed/);
      expect(error.hint).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
      expect(error.hint).toContain("allow the fallback with fallback: true (with 'cpu' after 'cuda' in providers)");
    }
  });

  it('falls back to the CPU when allowed, and says so', async () => {
    const messages: string[] = [];
    const session = await createSession(SOFTMAX, { providers: ['cuda', 'cpu'], fallback: true, log: (m) => messages.push(m) });
    try {
      expect(session.provider).toBe('cpu');
      expect(session.skipped).toHaveLength(1);
      expect(session.skipped[0]).toMatchObject({ provider: 'cuda', reason: expect.stringMatching(/not installed/) });
      expect(messages.join('\n')).toMatch(/cuda execution provider unavailable.*falling back to cpu/);
      const rows = randomRows(4, 8, 1);
      expect((await session.predict(rows)).labels).toEqual((await softmax.predict(rows)).labels);
    } finally {
      await session.release();
    }
  });

  it('fails when the fallback is allowed but no provider after CUDA is listed', async () => {
    await expect(createSession(SOFTMAX, { providers: ['cuda'], fallback: true })).rejects.toMatchObject({ code: ErrorCode.NoEngine });
  });
});

describe('predict', () => {
  it('gives what onnxruntime gives for the same model, for every head and any batch size', async () => {
    for (const [session, path] of [
      [softmax, SOFTMAX],
      [hpn, HPN],
      [bottleneck, BOTTLENECK],
    ] as const) {
      for (const rows of [1, 3, 257]) {
        const features = randomRows(rows, 8, rows);
        const expected = await direct(path, features);
        const got = await session.predict(features);
        expect(got.rows).toBe(rows);
        expect(got.scores).toEqual(expected[session.scoresName]!.data);
        expect([...got.labels]).toEqual([...(expected.label!.data as BigInt64Array)].map(Number));
        for (let r = 0; r < rows; r++) expect(got.labelScores[r]).toBe(got.scores![r * session.classes + got.labels[r]!]);
      }
    }
  });

  it('runs a batch whose rows could make more than runBytes in parts, answering as one run does', async () => {
    const { valuesPerRow } = readOnnxModelInfo(readFileSync(SOFTMAX));
    // Room for 3 rows per run by the file's bound.
    const inParts = await createSession(SOFTMAX, { runBytes: 8 * valuesPerRow * 3 + 7 });
    try {
      expect(softmax.rowsPerRun).toBeGreaterThan(1000);
      expect(inParts.rowsPerRun).toBe(3);
      const features = randomRows(11, 8, 4);
      const whole = await softmax.predict(features, { topK: 4 });
      const parts = await inParts.predict(features, { topK: 4 });
      expect(parts.scores).toEqual(whole.scores);
      expect(parts.labels).toEqual(whole.labels);
      expect(parts.labelScores).toEqual(whole.labelScores);
      expect(parts.topK).toEqual(whole.topK);
      expect(await inParts.predict(features, { topK: 2, scores: false })).toEqual(
        await softmax.predict(features, { topK: 2, scores: false }),
      );
    } finally {
      await inParts.release();
    }
    await expect(createSession(SOFTMAX, { runBytes: 0 })).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringMatching(/runBytes/),
    });
  });

  it('takes arrays of rows as well as matrices', async () => {
    const features = randomRows(5, 8, 2);
    const asArrays = Array.from({ length: 5 }, (_, r) => [...features.data.subarray(r * 8, r * 8 + 8)]);
    expect((await hpn.predict(asArrays)).scores).toEqual((await hpn.predict(features)).scores);
  });

  it("returns top-k from the model's own outputs or, beyond them, from the scores, best first", async () => {
    const features = randomRows(20, 8, 3);
    const all = await softmax.predict(features);
    for (const [session, k] of [
      [softmax, 2],
      [softmax, 3],
      [softmax, 5],
      [hpn, 4],
    ] as const) {
      const { topK, scores, classes } = await session.predict(features, { topK: k });
      const reference = session === softmax ? all.scores! : scores!;
      expect(topK!.k).toBe(k);
      for (let r = 0; r < 20; r++) {
        const ranked = [...reference.subarray(r * classes, (r + 1) * classes)]
          .map((s, c) => [s, c] as const)
          .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
        expect([...topK!.labels.subarray(r * k, (r + 1) * k)]).toEqual(ranked.slice(0, k).map(([, c]) => c));
        expect([...topK!.scores.subarray(r * k, (r + 1) * k)]).toEqual(ranked.slice(0, k).map(([s]) => s));
      }
    }
    const labelsOnly = await softmax.predict(features, { topK: 1, scores: false });
    expect(labelsOnly.scores).toBeUndefined();
    expect(labelsOnly.labels).toEqual(all.labels);
    expect(labelsOnly.labelScores).toEqual(all.labelScores);
    await expect(softmax.predict(features, { topK: 6 })).rejects.toThrow(/top-k must be an integer from 1 to the model's 5 classes, got 6/);
  });

  it('answers a batch with a row of features at the edge of float32 (±3e38), the other rows as they are answered alone', async () => {
    // ±3e38 is finite float32, so the row is taken; the model overflows on it, and its scores for it are NaN.
    const extreme = Array.from({ length: 8 }, (_, c) => (c % 2 ? -3e38 : 3e38));
    const rows = randomRows(2, 8, 9);
    const batch = createMatrix(3, 8, Float32Array.from([...rows.data.subarray(0, 8), ...extreme, ...rows.data.subarray(8)]));
    for (const session of [softmax, hpn, bottleneck]) {
      const C = session.classes;
      const alone = await session.predict(rows, { topK: 2 });
      const got = await session.predict(batch, { topK: 2 });
      const others = (values: ArrayLike<number>, width: number) => [
        ...Array.from(values).slice(0, width),
        ...Array.from(values).slice(2 * width),
      ];
      expect(others(got.labels, 1)).toEqual([...alone.labels]);
      others(got.scores!, C).forEach((score, i) => expect(score).toBeCloseTo(alone.scores![i]!, 6));
      expect(others(got.topK!.labels, 2)).toEqual([...alone.topK!.labels]);
      // The extreme row is answered as the model gave it: NaN scores, a label that is one of the classes.
      expect([...got.scores!.subarray(C, 2 * C)].every(Number.isNaN)).toBe(true);
      expect(got.labels[1]).toBeGreaterThanOrEqual(0);
      expect(got.labels[1]).toBeLessThan(C);
    }
    // Without the scores: the labels checked against the model's own top-k, NaN on that row too.
    const labelsOnly = await softmax.predict(batch, { topK: 1, scores: false });
    expect([labelsOnly.labels[0], labelsOnly.labels[2]]).toEqual([...(await softmax.predict(rows)).labels]);
    expect(labelsOnly.labelScores[1]).toBeNaN();
  });

  it('refuses bad rows with InvalidInput naming the row and column', async () => {
    const row = () => Array.from({ length: 8 }, () => 0.5);
    const cases: [unknown, RegExp][] = [
      [[], /the batch is empty/],
      [[row(), row().slice(1)], /ragged rows: row 0 has 8 values but row 1 has 7/],
      [[row().slice(2), row().slice(2)], /rows of 6 features; the model expects 8/],
      [[row(), [...row().slice(1), NaN]], /row 1, column 7 is NaN/],
      [[[Infinity, ...row().slice(1)]], /row 0, column 0 is Infinity/],
      [[[1e39, ...row().slice(1)]], /row 0, column 0 is 1e\+39, beyond the float32 range/],
      [[row(), 'x'], /row 1 is not an array of numbers/],
      [[[...row().slice(1), '3']], /row 0, column 7 is "3", not a number/],
      [
        createMatrix(
          2,
          8,
          Float32Array.from({ length: 16 }, (_, i) => (i === 9 ? -Infinity : 0)),
        ),
        /row 1, column 1 is -Infinity/,
      ],
      [createMatrix(1, 3), /rows of 3 features; the model expects 8/],
    ];
    for (const [rows, pattern] of cases) {
      const error = await softmax.predict(rows as number[][]).catch((e: unknown) => e);
      expect(error, String(pattern)).toMatchObject({ code: ErrorCode.InvalidInput });
      expect((error as Error).message).toMatch(pattern);
    }
    await expect(softmax.predict(randomRows(11, 8, 1), { maxRows: 10 })).rejects.toThrow(/11 rows; at most 10/);
    // A chunk of a larger input names its rows by their place in it.
    await expect(softmax.predict([row(), [...row().slice(1), NaN]], { firstRow: 1000 })).rejects.toThrow(
      'the batch: row 1001, column 7 is NaN; features must be finite numbers',
    );
  });
});

describe('release while predictions run', () => {
  // onnxruntime-node runs a batch on a later turn of the event loop and frees a session at once: without the wait,
  // a release right after predict frees the session under the run ("Session already disposed").
  const ROWS = 200_000;

  it('lets the predictions already started finish with the right answers, then frees the session', async () => {
    const session = await createSession(SOFTMAX);
    const features = randomRows(ROWS, 8, 11);
    const settled: string[] = [];
    const running = session.predict(features, { topK: 2 });
    const failing = session.predict(randomRows(2, 3, 1));
    running.then(() => settled.push('predict'));
    const release = session.release();
    release.then(() => settled.push('release'));
    await expect(session.predict(randomRows(1, 8, 1))).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: `the session of ${SOFTMAX} was released and cannot be used any more`,
    });

    const got = await running;
    const expected = await direct(SOFTMAX, features);
    expect(got.rows).toBe(ROWS);
    // Compared in loops: a deep equality of this many values would take seconds.
    const expectedLabels = expected.label!.data as BigInt64Array;
    const modelTop = expected.topk_labels!.data as BigInt64Array;
    const firstDifference = (length: number, same: (i: number) => boolean) => {
      for (let i = 0; i < length; i++) if (!same(i)) return i;
      return -1;
    };
    expect(firstDifference(ROWS * 5, (i) => got.scores![i] === expected.probabilities!.data[i])).toBe(-1);
    expect(firstDifference(ROWS, (i) => got.labels[i] === Number(expectedLabels[i]))).toBe(-1);
    // The model's own top 3 of each row, narrowed to the 2 asked for.
    expect(firstDifference(ROWS * 2, (i) => got.topK!.labels[i] === Number(modelTop[Math.floor(i / 2) * 3 + (i % 2)]))).toBe(-1);
    // A prediction that fails while the release waits does not hold it up.
    await expect(failing).rejects.toThrow(/rows of 3 features; the model expects 8/);
    await expect(release).resolves.toBeUndefined();
    expect(settled).toEqual(['predict', 'release']);
    await expect(session.predict(features)).rejects.toThrow(/was released and cannot be used any more/);
  });

  it('resolves a second release made while the first waits only once the session is freed, and a later one at once', async () => {
    const session = await createSession(HPN);
    const features = randomRows(ROWS, 8, 12);
    const settled: string[] = [];
    const running = session.predict(features);
    running.then(() => settled.push('predict'));
    const first = session.release();
    const second = session.release();
    first.then(() => settled.push('first release'));
    second.then(() => settled.push('second release'));
    await expect(Promise.all([running, first, second])).resolves.toMatchObject([{ rows: ROWS }, undefined, undefined]);
    expect(settled).toEqual(['predict', 'first release', 'second release']);
    await expect(session.release()).resolves.toBeUndefined();
    await expect(session.placement()).rejects.toThrow(/was released and cannot be used any more/);
  });

  it('waits for a placement already started, which answers as usual', async () => {
    const session = await createSession(HPN);
    const settled: string[] = [];
    const placement = session.placement();
    void placement.then(() => settled.push('placement'));
    const release = session.release();
    void release.then(() => settled.push('release'));
    expect(await placement).toEqual(await hpn.placement());
    await release;
    expect(settled).toEqual(['placement', 'release']);
  });
});

describe('the model contract', () => {
  it("gives errors that core and the CLI treat as their own, with core's code values", async () => {
    for (const [name, code] of Object.entries(ContractErrorCode)) expect(ErrorCode[name as keyof typeof ErrorCode], name).toBe(code);
    expect(InvalidFeaturesError).toBe(ContractInvalidFeaturesError);
    const error = await softmax.predict([]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFeaturesError);
    expect(isHyperprotoError(error)).toBe(true);
    expect(isHyperprotoError(await createSession('/nonexistent/model.onnx').catch((e: unknown) => e))).toBe(true);
  });

  it('gives the feature names and label column the model was trained with, one name per input feature', async () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const bytes = readFileSync(SOFTMAX);
    const named = await createSession(withMetadata(bytes, { featureNames: JSON.stringify(names), labelColumn: 'kind' }));
    try {
      expect(named.featureNames).toEqual(names);
      expect(named.labelColumn).toBe('kind');
      expect(named.metadata).toMatchObject({ featureNames: JSON.stringify(names), labelColumn: 'kind', head: 'softmax' });
    } finally {
      await named.release();
    }
    expect(softmax.featureNames).toBeUndefined();
    expect(softmax.labelColumn).toBeUndefined();
    const error = await createSession(withMetadata(bytes, { featureNames: '["a","b"]' }), { source: 'short.onnx' }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: ErrorCode.InvalidInput,
      message: 'short.onnx has unusable metadata: "featureNames" has 2 names for 8 input features; it needs one per input feature',
    });
  });

  it('refuses a model whose class names are not a JSON array of one string per class, saying so', async () => {
    const bytes = new Uint8Array(readFileSync(SOFTMAX));
    // Same length, so the protobuf framing stays valid: only the JSON breaks.
    const at = Buffer.from(bytes).indexOf('"eel"]');
    bytes.set(new TextEncoder().encode('"eel",'), at);
    const error = (await createSession(bytes, { source: 'broken.onnx' }).catch((e: unknown) => e)) as {
      code: string;
      message: string;
      hint: string;
    };
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toMatch(
      /^broken\.onnx has unusable metadata: "classNames" is not valid JSON \(.+\): .*; it should be a JSON array of class names$/,
    );
    expect(error.hint).toMatch(/--class-names FILE/);
  });
});
