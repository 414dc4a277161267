import {
  createMatrix,
  createRng,
  bindHeadParams,
  h,
  resolveOptions,
  type HeadDefinition,
  type HeadPlugin,
  type Matrix,
  type TrainedModel,
  type TrainerSettings,
} from '@hyperproto/core';
import gaussianDataset, { GaussianOptionsSchema } from '@hyperproto/data-gaussian';
import { createTrainedMlp, tfjsEngine } from '@hyperproto/engine-tfjs';
import cosineSoftmaxHead from '@hyperproto/head-cosine-softmax';
import bottleneckSoftmaxHead from '@hyperproto/head-bottleneck-softmax';
import hpnHead from '@hyperproto/head-hpn';
import marginHead from '@hyperproto/head-margin';
import { initialMlpWeights, mlpLayers, mlpShape, mlpWeightsByRole } from '@hyperproto/mlp';
import softmaxHead from '@hyperproto/head-softmax';
import randomPrototypes from '@hyperproto/prototypes-random';
import { initTfjs } from '@hyperproto/tfjs-backend';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportOnnx, ONNX_INPUT } from './index.js';

const CLASSES = 6;
const WIDTH = 300;
const trainer: TrainerSettings = {
  hiddenUnits: 24,
  hiddenLayers: 2,
  dropout: 0.3,
  batchSize: 32,
  learningRate: 0.01,
  patience: 2,
  maxEpochs: 3,
};

/** The built-in heads whose exports must match their models; the prototype heads get random prototypes. */
const HEADS = {
  softmax: softmaxHead,
  hpn: hpnHead,
  'cosine-softmax': cosineSoftmaxHead,
  margin: marginHead,
  'bottleneck-softmax': bottleneckSoftmaxHead,
} as const;

async function trainTiny(headName: keyof typeof HEADS, seed: number, options: Record<string, unknown> = {}): Promise<TrainedModel> {
  const ctx = (label: string) => ({ seed, rng: createRng(seed).fork(label) });
  const dataset = await gaussianDataset.generate(
    ctx('dataset'),
    GaussianOptionsSchema.parse({
      classes: CLASSES,
      sigma: 1,
      inputWidth: WIDTH,
      trainPerClass: 30,
      validationPerClass: 10,
      testPerClass: 10,
    }),
  );
  const plugin: HeadPlugin = HEADS[headName];
  const prototypes = plugin.usesPrototypes
    ? await randomPrototypes.generate(ctx('prototypes'), { classes: CLASSES, dims: 4 }, resolveOptions(randomPrototypes, {}))
    : undefined;
  const head = plugin.build(prototypes ? { classes: CLASSES, prototypes } : { classes: CLASSES }, resolveOptions(plugin, options));
  const { model } = await tfjsEngine.train(ctx('training'), { dataset, head, trainer }, {});
  return model;
}

/** Inputs around and beyond the training data's range, so that the whole of each layer's behaviour is exercised. */
function randomInputs(rows: number, width: number, seed: number): Matrix {
  return createMatrix(rows, width, createRng(seed).fillNormal(new Float32Array(rows * width), 0, 2));
}

async function runOnnx(bytes: Uint8Array, features: Matrix): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return (await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', features.data, [features.rows, features.cols]) })) as Record<
      string,
      ort.Tensor
    >;
  } finally {
    await session.release();
  }
}

/** Labels identical, scores within 1e-4 absolute: the contract every exported model keeps. */
async function expectParity(model: TrainedModel, bytes: Uint8Array, features: Matrix): Promise<void> {
  const expected = await model.predict(features);
  const out = await runOnnx(bytes, features);
  const scores = out[model.head.scoresName]!;
  expect(scores.dims).toEqual([features.rows, model.classes]);
  let worst = 0;
  for (let i = 0; i < expected.scores.data.length; i++)
    worst = Math.max(worst, Math.abs((scores.data as Float32Array)[i]! - expected.scores.data[i]!));
  expect(worst).toBeLessThan(1e-4);
  if (process.env.HYPERPROTO_SHOW_PARITY) console.log(`${model.head.scoresName}: largest score difference ${worst.toExponential(2)}`);
  // A model that predicts one class everywhere would hide a wrong argmax.
  if (features.rows > 100) expect(new Set(expected.labels).size).toBeGreaterThan(1);
  expect(Int32Array.from(out.label!.data as BigInt64Array, Number)).toEqual(expected.labels);
}

describe('exportOnnx parity with the tfjs model', () => {
  it.each([['softmax'], ['hpn'], ['cosine-softmax'], ['margin'], ['bottleneck-softmax']] as const)(
    'a trained %s model gives the same labels and scores on 1,000 random inputs',
    async (head) => {
      const model = await trainTiny(head, 11, head === 'bottleneck-softmax' ? { dims: 5 } : {});
      const bytes = exportOnnx(model, { metadata: { head, ...(HEADS[head].usesPrototypes ? { strategy: 'random' } : {}) } });
      await expectParity(model, bytes, randomInputs(1000, WIDTH, 5));
      // The batch dimension is dynamic: one row works as well.
      await expectParity(model, bytes, randomInputs(1, WIDTH, 6));
      expect(model.head.scoresName).toBe(head === 'hpn' ? 'scores' : 'probabilities');
    },
  );

  it.each([['cosine-softmax'], ['margin']] as const)(
    'a %s model with a learned scale exports the trained scale as a constant',
    async (head) => {
      const model = await trainTiny(head, 12, { learnScale: true, scale: 4 });
      const trained = model.head.params!.logScale![0]!;
      // Training moved the scale away from its start, ln 4: the export must hold the trained value, not the start.
      expect(Math.abs(trained - Math.log(4))).toBeGreaterThan(1e-3);
      const bytes = exportOnnx(model, { metadata: { head, strategy: 'random' } });
      await expectParity(model, bytes, randomInputs(1000, WIDTH, 5));
      // The scale is a constant of the file (head/param/logScale), not an input.
      const session = await ort.InferenceSession.create(bytes);
      try {
        expect(session.inputNames).toEqual([ONNX_INPUT]);
      } finally {
        await session.release();
      }
      expect(Buffer.from(bytes).includes('head/param/logScale')).toBe(true);
      // The same model exported at the starting scale gives other probabilities: the parity above sees the value.
      const atStart = exportOnnx({ ...model, head: bindHeadParams(model.head, { logScale: Math.log(4) }) }, { metadata: { head } });
      const features = randomInputs(200, WIDTH, 7);
      const [ours, theirs] = [await runOnnx(bytes, features), await runOnnx(atStart, features)];
      const gap = Math.max(
        ...(ours.probabilities!.data as Float32Array).map((p, k) => Math.abs(p - (theirs.probabilities!.data as Float32Array)[k]!)),
      );
      expect(gap).toBeGreaterThan(1e-3);
    },
  );

  it('a bottleneck-softmax model exports its trained classifier [C, D] and bias [C] as initializers, not inputs', async () => {
    const model = await trainTiny('bottleneck-softmax', 13, { dims: 5 });
    const bytes = exportOnnx(model, { metadata: { head: 'bottleneck-softmax' } });
    const session = await ort.InferenceSession.create(bytes);
    try {
      expect(session.inputNames).toEqual([ONNX_INPUT]);
    } finally {
      await session.release();
    }
    for (const name of ['head/param/classifier', 'head/param/bias']) expect(Buffer.from(bytes).includes(name)).toBe(true);
    // The same model with the classifier's rows swapped scores otherwise: the file holds the values the model has.
    const classifier = model.head.params!.classifier!;
    const swapped = Float32Array.from(classifier);
    swapped.set(classifier.subarray(0, 5), 5);
    swapped.set(classifier.subarray(5, 10), 0);
    const other = exportOnnx(
      { ...model, head: bindHeadParams(model.head, { classifier: swapped }) },
      { metadata: { head: 'bottleneck-softmax' } },
    );
    const features = randomInputs(200, WIDTH, 8);
    const [ours, theirs] = [await runOnnx(bytes, features), await runOnnx(other, features)];
    const gap = Math.max(
      ...(ours.probabilities!.data as Float32Array).map((p, k) => Math.abs(p - (theirs.probabilities!.data as Float32Array)[k]!)),
    );
    expect(gap).toBeGreaterThan(1e-3);
    // A head whose classifier was never trained has nothing to export, and says so.
    expect(() => exportOnnx({ ...model, head: { ...model.head, params: {} } }, { metadata: { head: 'bottleneck-softmax' } })).toThrow(
      /the bottleneck-softmax head's scores cannot be built as an ONNX graph: head parameter "classifier" starts from glorotUniform/,
    );
  });

  it("exports a plugin head's own score expression and folds non-trivial batch-norm statistics", async () => {
    const rng = createRng(3);
    const centres = createMatrix(5, 7, rng.fillNormal(new Float32Array(35)));
    // Scaled cosine to unnormalised centres plus a bias: operations neither built-in head uses in its scores.
    const head: HeadDefinition = {
      outputUnits: 7,
      loss: h.mean(h.output()),
      scores: h.sub(
        h.mul(h.scalar(4), h.matmulTransposed(h.l2normalize(h.output()), h.l2normalize(h.constant('centres')))),
        h.pow(h.scalar(0.5), 3),
      ),
      scoresName: 'similarity',
      constants: { centres },
    };
    const shape = { inputWidth: 12, hiddenUnits: 9, hiddenLayers: 3, outputUnits: 7 };
    const weights = initialMlpWeights(shape, rng);
    // Batch norm statistics far from their starting values, so that folding them into the kernels matters.
    const network = mlpWeightsByRole(shape, weights, 'the test network');
    for (const layer of network.hidden) {
      for (const weight of [layer.gamma, layer.beta, layer.movingMean]) rng.fillNormal(weight.data, 0, 0.5);
      rng.fillUniform(layer.movingVariance.data, 0.05, 3);
    }
    rng.fillNormal(network.head.bias.data);
    const { tf } = await initTfjs();
    const model = createTrainedMlp(tf, {
      inputWidth: 12,
      classes: 5,
      trainer: { ...trainer, hiddenUnits: 9, hiddenLayers: 3 },
      head,
      weights,
      batchNormEpsilon: 1e-3,
    });
    const bytes = exportOnnx(model, { metadata: { head: 'scaled-cosine' }, topK: 3 });
    await expectParity(model, bytes, randomInputs(1000, 12, 9));

    const out = await runOnnx(bytes, randomInputs(50, 12, 10));
    const scores = out.similarity!.data as Float32Array;
    const topScores = out.topk_scores!.data as Float32Array;
    const topLabels = out.topk_labels!.data as BigInt64Array;
    expect(out.topk_labels!.dims).toEqual([50, 3]);
    for (let row = 0; row < 50; row++) {
      const ranked = [...scores.subarray(row * 5, row * 5 + 5)].map((s, c) => [s, c] as const).sort((a, b) => b[0] - a[0]);
      for (let k = 0; k < 3; k++) {
        expect(Number(topLabels[row * 3 + k])).toBe(ranked[k]![1]);
        expect(topScores[row * 3 + k]).toBe(ranked[k]![0]);
      }
      expect(Number((out.label!.data as BigInt64Array)[row])).toBe(ranked[0]![1]);
    }
  });

  it('stores the model facts as metadata_props and names the input and outputs', async () => {
    const model = await trainTiny('softmax', 2);
    const bytes = exportOnnx(model, {
      metadata: { head: 'softmax', seed: '2' },
      classNames: ['a', 'b', 'c', 'd', 'e', 'f'],
      topK: 2,
      opset: 21,
    });
    const text = new TextDecoder('latin1').decode(bytes);
    for (const needle of [
      'head',
      'softmax',
      'inputWidth',
      'classNames',
      '["a","b","c","d","e","f"]',
      'producerVersion',
      'seed',
      'format',
      'hyperproto-classifier',
    ]) {
      expect(text).toContain(needle);
    }
    const session = await ort.InferenceSession.create(bytes);
    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(['probabilities', 'label', 'topk_scores', 'topk_labels']);
    expect(session.inputMetadata[0]).toMatchObject({ type: 'float32', shape: ['N', WIDTH] });
    await session.release();
  });

  it('refuses what it cannot export, naming the problem', async () => {
    const model = await trainTiny('softmax', 4);
    const { hidden, head } = mlpLayers(mlpShape(model.inputWidth, model.trainer, model.head));
    const withoutHeadBias = { ...model, weights: model.weights.filter((w) => w.name !== head.bias.name) };
    expect(() => exportOnnx(withoutHeadBias, { metadata: { head: 'softmax' } })).toThrow(`no weight "${head.bias.name}"`);
    expect(() => exportOnnx(model, { metadata: { head: 'softmax' }, topK: 7 })).toThrow(/top-k must be an integer from 1 to the 6 classes/);
    expect(() => exportOnnx(model, { metadata: { head: 'softmax' }, classNames: ['x'] })).toThrow(/1 class names for 6 classes/);
    expect(() => exportOnnx(model, { metadata: { head: 'softmax' }, opset: 13 })).toThrow(/opset 13 is not supported/);
    const rowScores = { ...model, head: { ...model.head, scores: h.rowSum(h.output()) } };
    expect(() => exportOnnx(rowScores, { metadata: { head: 'softmax' } })).toThrow(/scores have shape \[N\]; a classifier needs \[N, 6\]/);
    const broken = {
      ...model,
      weights: model.weights.map((w) => (w.name === hidden[0]!.gamma.name ? { ...w, data: w.data.map((v, i) => (i === 3 ? NaN : v)) } : w)),
    };
    expect(() => exportOnnx(broken, { metadata: { head: 'softmax' } })).toThrow(
      `"${hidden[0]!.gamma.name}" has a non-finite value at index 3`,
    );
  });

  it("refuses a file the runtimes would refuse, pointing at the head's score expression", async () => {
    const model = await trainTiny('softmax', 4);
    // The Gram matrix of a constant [2000, 1]: 4,000,000 values of 2,000 weights, made by a Gemm, not a broadcast.
    const column = h.constant('column');
    const scores = h.add(model.head.scores, h.mean(h.matmulTransposed(column, column)));
    const gram = { ...model, head: { ...model.head, scores, constants: { ...model.head.constants, column: createMatrix(2000, 1) } } };
    expect(() => exportOnnx(gram, { metadata: { head: 'gram' } })).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_INPUT',
        message: expect.stringMatching(
          /^cannot export to ONNX: the runtimes would refuse the file: the gram model is not a usable ONNX model: the node ".*" \(Gemm\) makes .* of shape \[2000, 2000\] from initializers alone: 4,000,000 values/,
        ),
        hint: "The runtimes load only model files that readOnnxModelInfo (@hyperproto/model-contract) accepts, and the part of this one it refuses comes from the gram head's score expression: change the expression as the message says (for example, so that no step makes a tensor larger than the model's weights allow, per row of the batch).",
      }),
    );
  });
});
