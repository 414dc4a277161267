import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWebClassifier, InvalidFeaturesError, type WebClassifier } from './index.js';
import { exportedClassifier, failingModel, notAClassifier, uniform } from './test-support/models.js';

// Node has onnxruntime-web's wasm provider but not its WebGPU one: the default list must fall back.
const opened: WebClassifier[] = [];
async function open(...args: Parameters<typeof createWebClassifier>): Promise<WebClassifier> {
  const classifier = await createWebClassifier(...args);
  opened.push(classifier);
  return classifier;
}
afterEach(async () => {
  vi.unstubAllGlobals();
  await Promise.all(opened.splice(0).map((c) => c.release()));
});

function randomRows(rows: number, width: number, seed: number): number[][] {
  const next = uniform(seed);
  return Array.from({ length: rows }, () => Array.from({ length: width }, () => next() * 3));
}

const softmax = exportedClassifier('softmax');
const hpn = exportedClassifier('hpn', { classNames: ['ant', 'bee', 'cat', 'dog', 'eel'], topK: 2 });
const bottleneck = exportedClassifier('bottleneck-softmax');

describe('createWebClassifier: provider choice', () => {
  it('falls back from webgpu to wasm by default where there is no navigator.gpu, reporting why', async () => {
    vi.stubGlobal('navigator', undefined);
    const classifier = await open(softmax.bytes);
    expect(classifier.provider).toBe('wasm');
    expect(classifier.skipped).toEqual([
      {
        provider: 'webgpu',
        reason: expect.stringMatching(/^WebGPU is not available here \(no navigator\.gpu/),
        hint: expect.stringMatching(/secure origin/),
      },
    ]);
    expect(classifier.attempts).toEqual([
      { provider: 'webgpu', error: expect.stringMatching(/WebGPU is not available here \(no navigator\.gpu/) },
      { provider: 'wasm' },
    ]);
    expect(classifier.fallbackReason).toMatch(/^webgpu: WebGPU is not available/);
  });

  it('falls back when WebGPU has no adapter, and when onnxruntime cannot start its WebGPU provider', async () => {
    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => null } });
    expect((await open(softmax.bytes)).fallbackReason).toMatch(/^webgpu: WebGPU found no GPU adapter/);
    // An adapter is there, but onnxruntime-web's Node build has no WebGPU backend: its own error is kept.
    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => ({}) } });
    const classifier = await open(softmax.bytes);
    expect(classifier.provider).toBe('wasm');
    expect(classifier.fallbackReason).toMatch(/^webgpu: .*backend not found/);
  });

  it('does not fall back with fallback: false, and says how to allow it', async () => {
    vi.stubGlobal('navigator', undefined);
    await expect(createWebClassifier(softmax.bytes, { fallback: false, source: 'softmax.onnx' })).rejects.toMatchObject({
      name: 'HyperprotoError',
      code: 'E_NO_ENGINE',
      message: expect.stringMatching(/^no execution provider could start for softmax\.onnx: \[webgpu\] WebGPU is not available here/),
      hint: expect.stringMatching(/list "wasm" after "webgpu" and allow the fallback/),
    });
  });

  it('uses wasm straight away when asked for wasm only', async () => {
    const classifier = await open(hpn.bytes, { providers: ['wasm'] });
    expect(classifier.provider).toBe('wasm');
    expect(classifier.skipped).toEqual([]);
    expect(classifier.attempts).toEqual([{ provider: 'wasm' }]);
    expect(classifier.fallbackReason).toBeUndefined();
  });

  it('fails clearly when webgpu alone is asked for and cannot run', async () => {
    vi.stubGlobal('navigator', undefined);
    await expect(createWebClassifier(softmax.bytes, { providers: ['webgpu'] })).rejects.toMatchObject({
      code: 'E_NO_ENGINE',
      message: expect.stringMatching(/^no execution provider could start for the model: \[webgpu\] WebGPU is not available/),
      hint: expect.stringMatching(/list "wasm" after "webgpu"/),
    });
  });

  it('treats a provider that loads the model but cannot run it as failed', async () => {
    await expect(createWebClassifier(failingModel(), { providers: ['wasm'] })).rejects.toMatchObject({
      code: 'E_NO_ENGINE',
      message: expect.stringMatching(/^no execution provider could start for the model: \[wasm\] loaded, but a first run failed/),
    });
  });

  it('rejects unknown providers, repeated ones and an empty list', async () => {
    const { bytes } = softmax;
    await expect(createWebClassifier(bytes, { providers: ['cuda' as 'wasm'] })).rejects.toMatchObject({
      code: 'E_INVALID_OPTIONS',
      message: 'unknown execution provider "cuda"; choose from webgpu, wasm',
    });
    await expect(createWebClassifier(bytes, { providers: [] })).rejects.toThrow('name at least one execution provider (webgpu, wasm)');
    await expect(createWebClassifier(bytes, { providers: ['wasm', 'wasm'] })).rejects.toThrow(
      'execution provider listed twice: wasm, wasm',
    );
  });
});

describe('createWebClassifier: models', () => {
  it('reports an exported model: input, width, classes, score output, metadata and class names', async () => {
    const classifier = await open(hpn.bytes, { providers: ['wasm'] });
    expect(classifier).toMatchObject({ inputName: 'features', inputWidth: 12, classes: 5, scoreName: 'scores', labelName: 'label' });
    expect(classifier.metadata).toMatchObject({
      format: 'hyperproto-classifier',
      head: 'hpn',
      strategy: 'random',
      classes: '5',
      dims: '4',
      inputWidth: '12',
      topK: '2',
    });
    expect(classifier.modelMetadata).toMatchObject({
      head: 'hpn',
      strategy: 'random',
      classes: 5,
      dims: 4,
      inputWidth: 12,
      scoresName: 'scores',
      topK: 2,
      hiddenLayers: 2,
    });
    expect(classifier.classNames).toEqual(['ant', 'bee', 'cat', 'dog', 'eel']);
    expect(classifier.info).toMatchObject({
      irVersion: 8,
      opset: 17,
      opsets: { '': 17 },
      producerName: 'hyperproto',
      producerVersion: '0.0.0-test',
    });
    const plain = await open(softmax.bytes, { providers: ['wasm'] });
    expect(plain).toMatchObject({ scoreName: 'probabilities', classes: 5 });
    expect(plain.classNames).toBeUndefined();
  });

  it('rejects a truncated or non-ONNX file before trying any provider', async () => {
    const { bytes } = softmax;
    await expect(createWebClassifier(bytes.subarray(0, 100), { source: 'cut.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(/^cut\.onnx is not a usable ONNX model: the file is truncated/),
    });
    await expect(createWebClassifier(new TextEncoder().encode('<html>404</html>'))).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(/^the model is not a usable ONNX model/),
    });
  });

  it('rejects an ONNX model that is not a classifier, without trying another provider', async () => {
    await expect(createWebClassifier(notAClassifier(), { providers: ['wasm'] })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: 'the model is not a classifier this runtime can serve: its input "features" is not a float32 matrix [N, width]',
    });
  });

  it('loads from a URL with the given fetch, and names the URL and status when that fails', async () => {
    const fetchModel = vi.fn(async () => new Response(new Blob([softmax.bytes.slice()])));
    const classifier = await open('http://127.0.0.1:1/model.onnx', { providers: ['wasm'], fetch: fetchModel });
    expect(fetchModel).toHaveBeenCalledWith('http://127.0.0.1:1/model.onnx');
    expect(classifier.classes).toBe(5);
    const missing = async () => new Response('no model is being served\n', { status: 404, statusText: 'Not Found' });
    await expect(createWebClassifier(new URL('http://127.0.0.1:1/missing.onnx'), { fetch: missing })).rejects.toMatchObject({
      code: 'E_IO',
      message: 'could not fetch the model from http://127.0.0.1:1/missing.onnx: HTTP 404 Not Found (no model is being served)',
    });
    const refused = async () => Promise.reject(new TypeError('fetch failed'));
    await expect(createWebClassifier('http://127.0.0.1:1/model.onnx', { fetch: refused })).rejects.toMatchObject({
      code: 'E_IO',
      message: 'could not fetch the model from http://127.0.0.1:1/model.onnx: fetch failed',
    });
  });
});

describe('WebClassifier.predict on the wasm provider', () => {
  for (const [name, model] of [
    ['softmax', softmax],
    ['hpn', hpn],
    ['bottleneck-softmax (learned classifier and bias)', bottleneck],
  ] as const) {
    it(`${name}: labels and scores match the exported network computed in JavaScript`, async () => {
      const classifier = await open(model.bytes, { providers: ['wasm'] });
      const rows = randomRows(64, model.width, 5);
      const prediction = await classifier.predict(rows, { topK: 3 });
      expect(prediction).toMatchObject({ rows: 64, classes: 5, provider: 'wasm', scoreName: model.head.scoresName });
      const labels = new Set<number>();
      rows.forEach((row, r) => {
        const expected = model.reference(row);
        const got = Array.from(prediction.scores.subarray(r * 5, (r + 1) * 5));
        got.forEach((value, c) => expect(value).toBeCloseTo(expected[c]!, 4));
        expect(prediction.labels[r]).toBe(got.indexOf(Math.max(...got)));
        const ranked = got.map((score, index) => ({ index, score })).sort((a, b) => b.score - a.score || a.index - b.index);
        expect(prediction.topK![r]).toEqual(ranked.slice(0, 3));
        labels.add(prediction.labels[r]!);
      });
      // A model that answers one class everywhere would hide a wrong argmax.
      expect(labels.size).toBeGreaterThan(1);
    });
  }

  it('runs a batch whose rows could make more than runBytes in parts, answering as one run does', async () => {
    const whole = await open(softmax.bytes, { providers: ['wasm'] });
    // Room for 3 rows per run by the file's bound.
    const inParts = await open(softmax.bytes, { providers: ['wasm'], runBytes: 8 * whole.info.valuesPerRow * 3 + 7 });
    expect(whole.rowsPerRun).toBeGreaterThan(1000);
    expect(inParts.rowsPerRun).toBe(3);
    const rows = randomRows(11, softmax.width, 4);
    const expected = await whole.predict(rows, { topK: 4 });
    const got = await inParts.predict(rows, { topK: 4 });
    expect(got.rows).toBe(11);
    expect(got.scores).toEqual(expected.scores);
    expect(got.labels).toEqual(expected.labels);
    expect(got.topK).toEqual(expected.topK);
    expect(new Set(got.labels).size).toBeGreaterThan(1);
    await expect(createWebClassifier(softmax.bytes, { providers: ['wasm'], runBytes: 0 })).rejects.toMatchObject({
      code: 'E_INVALID_OPTIONS',
      message: expect.stringMatching(/^runBytes must be/),
    });
  });

  it('takes a flat Float32Array and typed-array rows, and queues concurrent calls', async () => {
    const classifier = await open(softmax.bytes, { providers: ['wasm'] });
    const rows = randomRows(10, softmax.width, 9);
    const flat = Float32Array.from(rows.flat());
    const typed = rows.map((row) => Float64Array.from(row));
    const [a, b, c, d] = await Promise.all([
      classifier.predict(rows),
      classifier.predict(flat, { topK: 5 }),
      classifier.predict(rows.slice(0, 1)),
      classifier.predict(typed),
    ]);
    expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    expect(Array.from(d.scores)).toEqual(Array.from(a.scores));
    expect(b.topK![0]).toHaveLength(5);
    expect(a.topK).toBeUndefined();
    expect(c.rows).toBe(1);
  });

  it('refuses bad rows by the model contract: the problem and its 0-based row and column', async () => {
    const classifier = await open(softmax.bytes, { providers: ['wasm'] });
    const row = Array.from({ length: 12 }, () => 0.5);
    const withValue = (value: unknown) => [row, Object.assign([...row], { 3: value })];
    const refusal = async (rows: unknown, options = {}) => {
      const error = await classifier.predict(rows as number[][], options).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'HyperprotoError', code: 'E_INVALID_INPUT' });
      return { message: (error as Error).message, ...(error instanceof InvalidFeaturesError ? { detail: error.detail } : {}) };
    };
    expect(await refusal([row.slice(1)])).toEqual({
      message: 'the batch has rows of 11 features; the model expects 12',
      detail: { problem: 'wrong-width' },
    });
    expect(await refusal(withValue(Number.NaN))).toEqual({
      message: 'the batch: row 1, column 3 is NaN; features must be finite numbers',
      detail: { problem: 'not-finite', row: 1, column: 3 },
    });
    expect((await refusal(withValue(-Infinity))).message).toBe('the batch: row 1, column 3 is -Infinity; features must be finite numbers');
    expect(await refusal(withValue('7'))).toEqual({
      message: 'the batch: row 1, column 3 is "7", not a number',
      detail: { problem: 'not-a-number', row: 1, column: 3 },
    });
    expect(await refusal([row, row.slice(2)])).toEqual({
      message: "the batch has ragged rows: row 0 has 12 values but row 1 has 10; every row needs the model's 12 features",
      detail: { problem: 'ragged-rows', row: 1 },
    });
    expect(await refusal([])).toEqual({
      message: 'the batch is empty: send at least one row of 12 features',
      detail: { problem: 'empty-batch' },
    });
    expect((await refusal(new Float32Array(0))).message).toBe('the batch is empty: send at least one row of 12 features');
    expect((await refusal(new Float32Array(13))).message).toBe(
      "the batch has 13 values, not a whole number of rows of the model's 12 features",
    );
    expect((await refusal(new Float32Array([...row, Number.NaN, ...row.slice(1)]))).message).toBe(
      'the batch: row 1, column 0 is NaN; features must be finite numbers',
    );
    expect(await refusal([row], { topK: 0 })).toEqual({ message: "top-k must be an integer from 1 to the model's 5 classes, got 0" });
    expect(await refusal([row], { topK: 6 })).toEqual({ message: "top-k must be an integer from 1 to the model's 5 classes, got 6" });
    expect(await refusal([row, undefined, row])).toEqual({
      message: 'the batch: row 1 is not an array of numbers',
      detail: { problem: 'not-a-number', row: 1 },
    });
    expect((await refusal([row, [...row.slice(0, 11), undefined]])).message).toBe('the batch: row 1, column 11 is undefined, not a number');
    // The classifier keeps working after every refusal.
    expect((await classifier.predict([row])).rows).toBe(1);
  });
});
