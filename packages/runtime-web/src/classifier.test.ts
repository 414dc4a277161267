import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWebClassifier, type WebClassifier } from './index.js';
import { failingModel, notAClassifier, tinyClassifier, uniform } from './test-support/models.js';

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

describe('createWebClassifier: provider choice', () => {
  it('falls back from webgpu to wasm where there is no navigator.gpu, keeping the reason', async () => {
    vi.stubGlobal('navigator', undefined);
    const model = tinyClassifier('softmax');
    const classifier = await open(model.bytes);
    expect(classifier.provider).toBe('wasm');
    expect(classifier.attempts).toEqual([
      { provider: 'webgpu', error: expect.stringMatching(/WebGPU is not available here \(no navigator\.gpu/) },
      { provider: 'wasm' },
    ]);
    expect(classifier.fallbackReason).toMatch(/^webgpu: WebGPU is not available/);
  });

  it('falls back when WebGPU has no adapter, and when onnxruntime cannot start its WebGPU provider', async () => {
    const model = tinyClassifier('softmax');
    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => null } });
    expect((await open(model.bytes)).fallbackReason).toMatch(/webgpu: WebGPU found no GPU adapter/);
    // An adapter is there, but onnxruntime-web's Node build has no WebGPU backend: its own error is kept.
    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => ({}) } });
    const classifier = await open(model.bytes);
    expect(classifier.provider).toBe('wasm');
    expect(classifier.fallbackReason).toMatch(/webgpu: .*backend not found/);
  });

  it('uses wasm straight away when asked for wasm only', async () => {
    const classifier = await open(tinyClassifier('hpn').bytes, { providers: ['wasm'] });
    expect(classifier.provider).toBe('wasm');
    expect(classifier.attempts).toEqual([{ provider: 'wasm' }]);
    expect(classifier.fallbackReason).toBeUndefined();
  });

  it('fails clearly when webgpu alone is asked for and cannot run', async () => {
    vi.stubGlobal('navigator', undefined);
    await expect(createWebClassifier(tinyClassifier('softmax').bytes, { providers: ['webgpu'] })).rejects.toMatchObject({
      code: 'E_NO_ENGINE',
      message: expect.stringMatching(/no execution provider could run the model \(webgpu: WebGPU is not available/),
      hint: expect.stringMatching(/add "wasm"/),
    });
  });

  it('treats a provider that loads the model but cannot run it as failed', async () => {
    await expect(createWebClassifier(failingModel(), { providers: ['wasm'] })).rejects.toMatchObject({
      code: 'E_NO_ENGINE',
      message: expect.stringMatching(/wasm: loaded, but a first run failed/),
    });
  });

  it('rejects unknown providers and an empty list', async () => {
    const { bytes } = tinyClassifier('softmax');
    await expect(createWebClassifier(bytes, { providers: ['cuda' as 'wasm'] })).rejects.toThrow('unknown execution provider "cuda": use webgpu or wasm');
    await expect(createWebClassifier(bytes, { providers: [] })).rejects.toThrow('no execution providers to try');
  });
});

describe('createWebClassifier: models', () => {
  it('reports the model: input, width, classes, score output, metadata and class names', async () => {
    const names = ['ant', 'bee', 'cat', 'dog', 'eel'];
    const classifier = await open(tinyClassifier('hpn', { metadata: { strategy: 'random', classNames: JSON.stringify(names) } }).bytes, { providers: ['wasm'] });
    expect(classifier).toMatchObject({ inputName: 'features', inputWidth: 12, classes: 5, scoreName: 'scores', labelName: 'label' });
    expect(classifier.metadata).toMatchObject({ head: 'hpn', strategy: 'random', dims: '4' });
    expect(classifier.classNames).toEqual(names);
    expect(classifier.info.opsets['']).toBe(17);
  });

  it('rejects a truncated or non-ONNX file before trying any provider', async () => {
    const { bytes } = tinyClassifier('softmax');
    await expect(createWebClassifier(bytes.subarray(0, 100))).rejects.toMatchObject({ code: 'E_INVALID_INPUT', message: expect.stringMatching(/not a readable ONNX model/) });
    await expect(createWebClassifier(new TextEncoder().encode('<html>404</html>'))).rejects.toMatchObject({ code: 'E_INVALID_INPUT' });
  });

  it('rejects an ONNX model that is not a classifier', async () => {
    await expect(createWebClassifier(notAClassifier(), { providers: ['wasm'] })).rejects.toThrow(/no \[N, classes\] score output/);
  });

  it('loads from a URL with the given fetch, and names the URL and status when that fails', async () => {
    const { bytes } = tinyClassifier('softmax');
    const fetchModel = vi.fn(async () => new Response(new Blob([bytes.slice()])));
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
  for (const head of ['softmax', 'hpn'] as const) {
    it(`${head}: labels and scores match the network computed in JavaScript`, async () => {
      const model = tinyClassifier(head);
      const classifier = await open(model.bytes, { providers: ['wasm'] });
      const rows = randomRows(64, model.width, 5);
      const prediction = await classifier.predict(rows, { topK: 3 });
      expect(prediction).toMatchObject({ rows: 64, classes: 5, provider: 'wasm', scoreName: head === 'softmax' ? 'probabilities' : 'scores' });
      rows.forEach((row, r) => {
        const expected = model.reference(row);
        const got = Array.from(prediction.scores.subarray(r * 5, (r + 1) * 5));
        got.forEach((value, c) => expect(value).toBeCloseTo(expected[c]!, 5));
        expect(prediction.labels[r]).toBe(got.indexOf(Math.max(...got)));
        expect(prediction.topK![r]![0]!.index).toBe(prediction.labels[r]);
        expect(prediction.topK![r]).toHaveLength(3);
      });
    });
  }

  it('takes a flat Float32Array, clamps top-k to the class count, and queues concurrent calls', async () => {
    const model = tinyClassifier('softmax');
    const classifier = await open(model.bytes, { providers: ['wasm'] });
    const rows = randomRows(10, model.width, 9);
    const flat = Float32Array.from(rows.flat());
    const [a, b, c] = await Promise.all([classifier.predict(rows), classifier.predict(flat, { topK: 50 }), classifier.predict(rows.slice(0, 1))]);
    expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    expect(b.topK![0]).toHaveLength(5);
    expect(a.topK).toBeUndefined();
    expect(c.rows).toBe(1);
  });

  it('names the problem with bad rows: width, NaN, infinities, ragged rows, empty batches, top-k', async () => {
    const classifier = await open(tinyClassifier('softmax').bytes, { providers: ['wasm'] });
    const row = Array.from({ length: 12 }, () => 0.5);
    const withValue = (value: unknown) => [row, Object.assign([...row], { 3: value })];
    await expect(classifier.predict([row.slice(1)])).rejects.toThrow('the model expects 12 features per row; row 1 has 11');
    await expect(classifier.predict(withValue(Number.NaN) as number[][])).rejects.toThrow('row 2, feature 4 is NaN: features must be finite numbers');
    await expect(classifier.predict(withValue(-Infinity) as number[][])).rejects.toThrow('row 2, feature 4 is -Infinity');
    await expect(classifier.predict(withValue('7') as number[][])).rejects.toThrow('row 2, feature 4 is "7"');
    await expect(classifier.predict([row, row.slice(2)])).rejects.toThrow('ragged rows: row 2 has 10 values, row 1 has 12');
    await expect(classifier.predict([])).rejects.toMatchObject({ code: 'E_INVALID_INPUT', message: 'empty batch: give at least one row' });
    await expect(classifier.predict(new Float32Array(0))).rejects.toThrow('empty batch');
    await expect(classifier.predict(new Float32Array(13))).rejects.toThrow('a flat batch of 13 values is not a whole number of rows of 12 features');
    await expect(classifier.predict(new Float32Array([...row, Number.NaN, ...row.slice(1)]))).rejects.toThrow('row 2, feature 1 is NaN');
    await expect(classifier.predict([row], { topK: 0 })).rejects.toThrow('topK must be a whole number >= 1, not 0');
    await expect(classifier.predict([row, , row] as number[][])).rejects.toThrow('row 2 is not an array of numbers');
    await expect(classifier.predict([row, [...row.slice(0, 11), undefined]] as number[][])).rejects.toThrow('row 2, feature 12 is undefined');
    // The classifier keeps working after every refusal.
    expect((await classifier.predict([row])).rows).toBe(1);
  });
});
