import { GraphBuilder } from '@hyperproto/onnx-graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebClassifier, InvalidFeaturesError, type FeatureRows, type WebClassifier } from './index.js';
import { exportedClassifier } from './test-support/models.js';

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
  const scores = g.node('MatMul', [x, w], {}, { outputs: ['scores'] });
  const zero = g.node('Mul', [g.node('ReduceMin', [scores, g.ints([1])], { keepdims: 0 }), g.scalar(0)]);
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
