import { GraphBuilder } from '@hyperproto/onnx-graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebClassifier, InvalidFeaturesError, type FeatureRows, type WebClassifier } from './index.js';
import { exportedClassifier, uniform } from './test-support/models.js';

// The model contract's checks, as runtime-web answers them: what is not rows, a released classifier, and a model
// whose label output is not its best-scoring class.

const softmax = exportedClassifier('softmax');
let classifier: WebClassifier;
beforeAll(async () => {
  classifier = await createWebClassifier(softmax.bytes, { providers: ['wasm'] });
});
afterAll(async () => {
  await classifier.release();
});

/** scores = features x W with W's column c all c (class 2 wins when the features sum above 0); label always 0. */
function liarLabelModel(): Uint8Array {
  const g = new GraphBuilder('liar');
  const x = g.input('features', 'float32', ['N', 4]);
  const w = g.initializer('w', Float32Array.of(0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2), [4, 3]);
  const scores = g.node('Gemm', [x, w], {}, { outputs: ['scores'] });
  const zero = g.node('Mul', [g.node('ReduceSum', [scores, g.ints([1])], { keepdims: 0 }), g.scalar(0)]);
  g.node('Cast', [zero], { to: 7 }, { outputs: ['label'] });
  g.output('scores', 'float32', ['N', 3]);
  g.output('label', 'int64', ['N']);
  return g.toModel({ opset: 18 });
}

describe('predict refuses what is not a feature batch, naming what was given', () => {
  it.each([
    [undefined, 'the batch is undefined'],
    [null, 'the batch is null'],
    ['abc', 'the batch is "abc"'],
    [5, 'the batch is 5'],
    [{}, 'the batch is an object without rows, cols and data'],
    [new Float64Array(24), 'the batch is a Float64Array of 24 values'],
    [{ rows: '1', cols: 12, data: new Float32Array(12) }, 'the batch is a matrix whose rows is "1"'],
    [{ rows: 1, cols: 12, data: new Float64Array(12) }, 'the batch is a matrix whose data is a Float64Array of 12 values'],
  ])('%o', async (input, said) => {
    const error = await classifier.predict(input as unknown as FeatureRows).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidFeaturesError);
    expect(error).toMatchObject({ code: 'E_INVALID_INPUT', detail: { problem: 'not-a-batch' } });
    expect((error as Error).message.startsWith(said)).toBe(true);
  });

  it('quotes a top-k given as a string', async () => {
    await expect(classifier.predict([new Array(12).fill(0)], { topK: '3' as unknown as number })).rejects.toMatchObject({
      message: `top-k must be an integer from 1 to the model's 5 classes, got "3"`,
    });
  });
});

describe('a released classifier', () => {
  it('refuses predict saying it was released; a second release does nothing', async () => {
    const released = await createWebClassifier(softmax.bytes, { providers: ['wasm'], source: 'softmax.onnx' });
    await released.release();
    await expect(released.predict([new Array(12).fill(0)])).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: 'the session of softmax.onnx was released and cannot be used any more',
    });
    await expect(released.release()).resolves.toBeUndefined();
  });

  it('lets the predictions already queued finish with the right answers, then frees the session', async () => {
    const releasing = await createWebClassifier(softmax.bytes, { providers: ['wasm'], source: 'softmax.onnx' });
    const rows = 20_000;
    const next = uniform(21);
    const features = Float32Array.from({ length: rows * softmax.width }, () => next() * 3 - 1.5);
    const settled: string[] = [];
    const first = releasing.predict(features, { topK: 2 });
    const second = releasing.predict(features.subarray(0, softmax.width * 3));
    first.then(() => settled.push('first predict'));
    second.then(() => settled.push('second predict'));
    const release = releasing.release();
    const again = releasing.release();
    release.then(() => settled.push('release'));
    again.then(() => settled.push('second release'));
    await expect(releasing.predict(features)).rejects.toThrow('the session of softmax.onnx was released and cannot be used any more');

    const got = await first;
    expect(got.rows).toBe(rows);
    // Checked against the network computed in JavaScript, in a loop: an expect per value would take seconds.
    let worst = 0;
    let wrongLabels = 0;
    for (let r = 0; r < rows; r++) {
      const expected = softmax.reference(features.subarray(r * softmax.width, (r + 1) * softmax.width));
      for (let c = 0; c < 5; c++) worst = Math.max(worst, Math.abs(got.scores[r * 5 + c]! - expected[c]!));
      if (got.labels[r] !== got.topK![r]![0]!.index) wrongLabels++;
    }
    expect(worst).toBeLessThan(1e-4);
    expect(wrongLabels).toBe(0);
    expect(Array.from((await second).scores)).toEqual(Array.from(got.scores.subarray(0, 15)));
    await expect(Promise.all([release, again])).resolves.toEqual([undefined, undefined]);
    expect(settled).toEqual(['first predict', 'second predict', 'release', 'second release']);
    await expect(releasing.release()).resolves.toBeUndefined();
  });
});

describe('createWebClassifier refuses options out of range before loading, naming the option', () => {
  const LEVELS = 'one of "verbose", "info", "warning", "error", "fatal" (onnxruntime-web\'s levels)';
  it.each([
    [{ logLevel: 'debug' }, `logLevel must be ${LEVELS}, got "debug"`],
    [{ logLevel: 'WARNING' }, `logLevel must be ${LEVELS}, got "WARNING"`],
    [{ logLevel: 2 }, `logLevel must be ${LEVELS}, got 2`],
    [{ fallback: 'no' }, 'fallback must be true or false, got "no"'],
    [{ probe: 0 }, 'probe must be true or false, got 0'],
    [{ fetch: 'https://example.com' }, 'fetch must be a fetch function, got "https://example.com"'],
    [{ source: 7 }, 'source must be a string, got 7'],
    [{ runBytes: 0 }, 'runBytes must be an integer of at least 1 (bytes one run may make in tensors), or absent for 256 MiB, got 0'],
    [
      { runBytes: '64MiB' },
      'runBytes must be an integer of at least 1 (bytes one run may make in tensors), or absent for 256 MiB, got "64MiB"',
    ],
  ])('%o', async (options, message) => {
    // A URL whose fetch would fail: the options are refused before anything is fetched.
    const fetched: string[] = [];
    const error = await createWebClassifier('https://models.invalid/m.onnx', {
      fetch: async (url) => {
        fetched.push(String(url));
        throw new Error('no network');
      },
      ...(options as object),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'HyperprotoError', code: 'E_INVALID_OPTIONS', message, hint: undefined });
    expect(fetched).toEqual([]);
  });

  it('takes every allowed log level', async () => {
    // The level is global (ort.env.logLevel): ending on onnxruntime-web's default leaves it as the other tests expect.
    for (const logLevel of ['verbose', 'fatal', 'warning'] as const) {
      const classifier = await createWebClassifier(softmax.bytes, { providers: ['wasm'], logLevel, probe: false, fallback: false });
      expect(classifier.provider).toBe('wasm');
      await classifier.release();
    }
  });

  it('refuses predict options that are not an object', async () => {
    await expect(classifier.predict([new Array(12).fill(0)], null as never)).rejects.toMatchObject({
      code: 'E_INVALID_OPTIONS',
      message: 'the predict options must be an object such as { topK: 3 }, or absent, got null',
    });
  });
});

describe('createWebClassifier runs the model contract self-check', () => {
  it('refuses a model whose label output is not the best-scoring class, without passing to another provider', async () => {
    await expect(createWebClassifier(liarLabelModel(), { providers: ['wasm'], source: 'liar.onnx' })).rejects.toMatchObject({
      name: 'HyperprotoError',
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(
        /^liar\.onnx is not a classifier this runtime can serve: its label output is not the best-scoring class: row \d+ has label 0 \(score -?[\d.e-]+\) but the best score is [\d.e-]+$/,
      ),
    });
  });

  it('loads it with probe: false, which skips the check', async () => {
    const unchecked = await createWebClassifier(liarLabelModel(), { providers: ['wasm'], probe: false });
    expect(unchecked.classes).toBe(3);
    await unchecked.release();
  });
});
