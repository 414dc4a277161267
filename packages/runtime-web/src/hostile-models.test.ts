import { DATA_TYPES, GraphBuilder, type ProtobufWriter } from '@hyperproto/onnx-graph';
import { describe, expect, it } from 'vitest';
import { createWebClassifier, readModelInfo } from './index.js';

// Model files made to harm whoever loads them, as runtime-web meets them: the model contract's reader refuses
// what they could read or run, and its check holds every answer to the model's interface.

/** A graph that can also hold initializers whose values are in another file (the exporter never writes one). */
class ExternalDataGraph extends GraphBuilder {
  private readonly external: ((w: ProtobufWriter) => void)[] = [];

  /** TensorProto: 1 dims, 2 data_type, 8 name, 13 external_data {location, offset, length}, 14 data_location EXTERNAL. */
  externalInitializer(name: string, dims: readonly number[], location: string): string {
    this.external.push((w) =>
      w.message(5, (t) => {
        t.packedInts(1, dims);
        t.int(2, DATA_TYPES.float32);
        t.string(8, name);
        for (const [key, value] of [
          ['location', location],
          ['offset', '0'],
          ['length', String(4 * dims.reduce((a, b) => a * b, 1))],
        ])
          t.message(13, (entry) => {
            entry.string(1, key!);
            entry.string(2, value!);
          });
        t.int(14, 1);
      }),
    );
    return name;
  }

  override encode(w: ProtobufWriter): void {
    super.encode(w);
    for (const write of this.external) write(w);
  }
}

/**
 * scores = features x W [4, 3], label = their argmax, with `lie` between: `first` [N, 1] is feature 0, at most
 * about 1.5 on the self-check's rows, so a lie that waits for a larger one passes the check at load.
 */
function classifier(lie?: (g: GraphBuilder, scores: string, first: string) => { scores?: string; label?: string }): Uint8Array {
  const g = new GraphBuilder('lie');
  const x = g.input('features', 'float32', ['N', 4]);
  const honest = g.node('Gemm', [x, g.initializer('W', Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0.5), [4, 3])]);
  const first = g.node('Gather', [x, g.ints([0])], { axis: 1 });
  const lied = lie?.(g, honest, first) ?? {};
  g.node('Identity', [lied.scores ?? honest], {}, { outputs: ['scores'] });
  g.node('Identity', [lied.label ?? g.node('ArgMax', ['scores'], { axis: 1, keepdims: 0 })], {}, { outputs: ['label'] });
  g.output('scores', 'float32', ['N', 3]);
  g.output('label', 'int64', ['N']);
  return g.toModel({ opset: 17 });
}

describe('createWebClassifier refuses a model file before onnxruntime-web loads it', () => {
  it('when it reads its weights from another file', async () => {
    const g = new ExternalDataGraph('exfil');
    const x = g.input('features', 'float32', ['N', 4]);
    g.node('Gemm', [x, g.externalInitializer('W', [4, 3], '.env')], {}, { outputs: ['scores'] });
    g.output('scores', 'float32', ['N', 3]);
    await expect(createWebClassifier(g.toModel(), { providers: ['wasm'], source: 'exfil.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(
        /^exfil\.onnx is not a usable ONNX model: the initializer "W" takes its values from the external file "\.env"/,
      ),
    });
  });

  it('when it has an operator no exported model uses, such as a Loop', async () => {
    const looping = classifier((g, scores) => {
      const body = new GraphBuilder('body');
      body.input('i', 'int64', []);
      body.input('condition', 'bool', []);
      body.node('Identity', ['condition'], {}, { outputs: ['again'] });
      body.output('again', 'bool', []);
      g.node('Loop', [g.initializer('trips', BigInt64Array.of(2n ** 62n), []), ''], { body }, { name: 'forever', outputs: 0 });
      return { scores };
    });
    await expect(createWebClassifier(looping, { providers: ['wasm'], source: 'loop.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: 'loop.onnx is not a usable ONNX model: the node "forever" runs the operator "Loop", which no hyperproto model uses',
    });
  });
});

describe('the self-check at load runs in parts of runBytes, as any batch', () => {
  // Squeezing the batch axis fails for more than one row: a file that can run one row at a time, and no more.
  const oneRowAtATime = classifier((g, scores) => ({
    scores: g.node('Unsqueeze', [g.node('Squeeze', [scores, g.ints([0])]), g.ints([0])]),
  }));

  it('so that a file whose runs must hold one row loads, and answers row by row', async () => {
    await expect(createWebClassifier(oneRowAtATime, { providers: ['wasm'], source: 'one-row.onnx' })).rejects.toMatchObject({
      message: expect.stringMatching(/one-row\.onnx.*loaded, but a first run failed: .*Squeeze/s),
    });
    // runBytes of 1 leaves room for one row per run: the 8 self-check rows run one by one.
    const oneByOne = await createWebClassifier(oneRowAtATime, { providers: ['wasm'], source: 'one-row.onnx', runBytes: 1 });
    try {
      const rows = [
        [1, 0, 0.25, 0],
        [0, 0, 2, 0],
        [0, 3, 0, 0],
      ];
      expect((await oneByOne.predict(rows)).labels).toEqual(Int32Array.of(0, 2, 1));
    } finally {
      await oneByOne.release();
    }
  });
});

describe('WebClassifier.predict holds every answer to the model contract', () => {
  // Honest on the self-check's rows, lying on a row whose feature 0 is 20: E_INTERNAL, the model's fault.
  it.each<[string, Parameters<typeof classifier>[0], string]>([
    [
      'a label beyond the classes',
      (g, scores, first) => {
        const best = g.node('ArgMax', [scores], { axis: 1, keepdims: 1 });
        const shift = g.node('Cast', [g.node('Mul', [g.node('Relu', [g.node('Sub', [first, g.scalar(10)])]), g.scalar(100_000)])], {
          to: 7,
        });
        return { label: g.node('Squeeze', [g.node('Add', [best, shift]), g.ints([1])]) };
      },
      'its label output is not a class index: row 1 has label 1000000, but the model has 3 classes (0 to 2)',
    ],
  ])('%s, even with probe: false', async (_, lie, why) => {
    for (const probe of [true, false]) {
      const classifierOf = await createWebClassifier(classifier(lie), { providers: ['wasm'], source: 'lie.onnx', probe });
      try {
        expect((await classifierOf.predict([[1, 0, 0.25, 0]])).labels).toEqual(Int32Array.of(0));
        await expect(
          classifierOf.predict([
            [1, 0, 0.25, 0],
            [20, 0, 0, 0],
          ]),
        ).rejects.toMatchObject({
          name: 'HyperprotoError',
          code: 'E_INTERNAL',
          message: `lie.onnx gave answers that break its own interface for this batch: ${why}`,
        });
      } finally {
        await classifierOf.release();
      }
    }
  });

  it('names the row of the whole batch when a part of a batch run in parts lies', async () => {
    const lying = classifier((g, scores, first) => {
      const best = g.node('ArgMax', [scores], { axis: 1, keepdims: 1 });
      const shift = g.node('Cast', [g.node('Mul', [g.node('Relu', [g.node('Sub', [first, g.scalar(10)])]), g.scalar(100_000)])], { to: 7 });
      return { label: g.node('Squeeze', [g.node('Add', [best, shift]), g.ints([1])]) };
    });
    // Room for 2 rows per run by the file's bound: row 4 of the batch is row 0 of its third part.
    const runBytes = 8 * readModelInfo(lying).valuesPerRow * 2;
    const classifierOf = await createWebClassifier(lying, { providers: ['wasm'], source: 'lie.onnx', runBytes });
    try {
      expect(classifierOf.rowsPerRun).toBe(2);
      const rows = Array.from({ length: 6 }, (_, r) => [r === 4 ? 20 : 1, 0, 0.25, 0]);
      await expect(classifierOf.predict(rows)).rejects.toMatchObject({
        code: 'E_INTERNAL',
        message:
          'lie.onnx gave answers that break its own interface for this batch: its label output is not a class index: row 4 has label 1000000, but the model has 3 classes (0 to 2)',
      });
      expect([...(await classifierOf.predict(rows.slice(0, 4))).labels]).toEqual([0, 0, 0, 0]);
    } finally {
      await classifierOf.release();
    }
  });

  it('lets a row whose scores are NaN through, as features far beyond the training data make an honest model answer', async () => {
    const nan = classifier((g, scores, first) => ({
      scores: g.node('Add', [scores, g.node('Mul', [g.node('Sqrt', [g.node('Sub', [g.scalar(10), first])]), g.scalar(0)])]),
    }));
    const classifierOf = await createWebClassifier(nan, { providers: ['wasm'], source: 'overflow.onnx' });
    try {
      const { labels, scores } = await classifierOf.predict([
        [1, 0, 0.25, 0],
        [20, 0, 0, 0],
      ]);
      expect(labels[0]).toBe(0);
      expect([...scores.subarray(0, 3)]).toEqual([1, 0, 0.25]);
      expect([...scores.subarray(3)].every(Number.isNaN)).toBe(true);
      expect([0, 1, 2]).toContain(labels[1]);
    } finally {
      await classifierOf.release();
    }
  });
});
