import {
  ClassSampler,
  createMatrix,
  createRng,
  type HeadDefinition,
  headParams,
  headParamWeights,
  type NamedWeight,
  resolveOptions,
  sampledClassCount,
  startHeadParams,
} from '@hyperproto/core';
import { initialMlpWeights, type MlpShape } from '@hyperproto/mlp';
import { tfjsEngine, trainMlpSteps, type GivenBatch } from '@hyperproto/engine-tfjs';
import { bottleneckSoftmaxHead } from '@hyperproto/head-bottleneck-softmax';
import { cosineSoftmaxHead, LOG_SCALE_PARAM } from '@hyperproto/head-cosine-softmax';
import { hpnHead } from '@hyperproto/head-hpn';
import { marginHead } from '@hyperproto/head-margin';
import { softmaxHead } from '@hyperproto/head-softmax';
import { initTfjs, type TfjsRuntime } from '@hyperproto/tfjs-backend';
import { ENGINE_TEST_TRAINER, engineTestContext, engineTestDataset } from '@hyperproto/plugin-testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { fillDropoutMask } from './dropout-mask.js';
import { onnxruntimeEngine } from './onnxruntime-engine.js';
import { TrainingSession, type PackedBatches } from './training-session.js';

let runtime: TfjsRuntime;
beforeAll(async () => {
  runtime = await initTfjs();
});

const STEPS = 50;
const ROWS = 32;
const DROPOUT = 0.3;

function unitPrototypes(classes: number, dims: number, seed: number) {
  const rng = createRng(seed);
  const m = createMatrix(classes, dims);
  for (let c = 0; c < classes; c++) {
    const row = m.data.subarray(c * dims, (c + 1) * dims);
    rng.fillNormal(row);
    const norm = Math.hypot(...row);
    for (let j = 0; j < dims; j++) row[j]! /= norm;
  }
  return m;
}

/** Blob-like batches with labels and dropout masks, all from one seed. */
function givenBatches(shape: MlpShape, classes: number, seed: number): GivenBatch[] {
  const rng = createRng(seed);
  const centers = Array.from({ length: classes }, () => Array.from({ length: shape.inputWidth }, () => 2 * rng.float() - 1));
  return Array.from({ length: STEPS }, () => {
    const labels = Int32Array.from({ length: ROWS }, () => rng.int(classes));
    const features = createMatrix(ROWS, shape.inputWidth);
    labels.forEach((c, i) => {
      for (let j = 0; j < shape.inputWidth; j++) features.data[i * shape.inputWidth + j] = centers[c]![j]! + 0.8 * rng.normal();
    });
    const dropoutMasks = Array.from({ length: shape.hiddenLayers }, () => {
      const mask = new Float32Array(ROWS * shape.hiddenUnits);
      fillDropoutMask(rng, mask, 0, mask.length, DROPOUT);
      return mask;
    });
    return { features, labels, dropoutMasks };
  });
}

/** Consecutive batches stacked for one run of the training model. */
function pack(batches: readonly GivenBatch[]): PackedBatches {
  const concat = (parts: readonly Float32Array[]) => {
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  };
  const sampled = batches[0]!.sample !== undefined;
  return {
    count: batches.length,
    rows: ROWS,
    features: concat(batches.map((b) => b.features.data)),
    labels: Int32Array.from(batches.flatMap((b) => [...b.labels])),
    dropoutMasks: batches[0]!.dropoutMasks!.map((_, layer) => concat(batches.map((b) => b.dropoutMasks![layer]!))),
    ...(sampled
      ? {
          sample: {
            classes: Int32Array.from(batches.flatMap((b) => [...b.sample!.classes])),
            labels: Int32Array.from(batches.flatMap((b) => [...b.sample!.positions])),
          },
        }
      : {}),
  };
}

async function onnxLosses(
  shape: MlpShape,
  head: HeadDefinition,
  weights: readonly NamedWeight[],
  batches: readonly GivenBatch[],
  learningRate: number,
  layout: 'scan' | 'single' = 'scan',
) {
  const classSample = batches[0]!.sample?.classes.length;
  const session = await TrainingSession.create({
    shape,
    head,
    weights,
    learningRate,
    dropout: DROPOUT,
    layout,
    ...(classSample === undefined ? {} : { classSample }),
  });
  const losses: number[] = [];
  try {
    // Runs of uneven sizes: the state must carry over between runs exactly as between the Scan's iterations.
    for (let start = 0, size = 1; start < batches.length; start += size, size = layout === 'single' ? 1 : Math.min(size + 3, 12)) {
      const { losses: run } = await session.run(pack(batches.slice(start, start + size)));
      losses.push(...run);
    }
    return { losses, weights: session.weights() };
  } finally {
    await session.release();
  }
}

function relativeDifference(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);
}

describe('the onnxruntime engine against the tfjs engine', () => {
  const shape: MlpShape = { inputWidth: 24, hiddenUnits: 32, hiddenLayers: 2, outputUnits: 0 };

  it.each([
    ['softmax', () => softmaxHead.build({ classes: 6 }, {})],
    ['hpn', () => hpnHead.build({ classes: 6, prototypes: unitPrototypes(6, 5, 9) }, {})],
    [
      'cosine-softmax',
      () => cosineSoftmaxHead.build({ classes: 6, prototypes: unitPrototypes(6, 5, 9) }, { scale: 16, learnScale: false, sampledShare: 1 }),
    ],
    ['margin', () => marginHead.build({ classes: 6, prototypes: unitPrototypes(6, 5, 9) }, { scale: 16, margin: 0.35, learnScale: false })],
    // A learned scale: the head parameter logScale is trained by both engines' Adam and compared like a weight.
    [
      'cosine-softmax with a learned scale',
      () => cosineSoftmaxHead.build({ classes: 6, prototypes: unitPrototypes(6, 5, 9) }, { scale: 4, learnScale: true, sampledShare: 1 }),
    ],
    [
      'margin with a learned scale',
      () => marginHead.build({ classes: 6, prototypes: unitPrototypes(6, 5, 9) }, { scale: 4, margin: 0.35, learnScale: true }),
    ],
    // Learned matrix parameters: the classifier [6, 5] and bias [6], started from the run's 'head-params' draws.
    [
      'bottleneck-softmax',
      () =>
        startHeadParams(
          bottleneckSoftmaxHead.build({ classes: 6 }, resolveOptions(bottleneckSoftmaxHead, { dims: 5 })),
          createRng(5).fork('head-params'),
        ),
    ],
  ] as const)('gives the same loss curve over %s training for 50 steps (1e-3 relative)', async (_name, makeHead) => {
    const head = makeHead();
    const net = { ...shape, outputUnits: head.outputUnits };
    const weights = initialMlpWeights(net, createRng(5).fork('weights'));
    const batches = givenBatches(net, 6, 6);
    const learningRate = 0.01;
    const reference = await trainMlpSteps(runtime, { ...net, learningRate, head, weights, batches });
    const ours = await onnxLosses(net, head, weights, batches, learningRate);
    expect(ours.losses).toHaveLength(STEPS);
    const worst = Math.max(...ours.losses.map((loss, i) => relativeDifference(loss, reference.losses[i]!)));
    expect(worst).toBeLessThan(1e-3);
    // Training moved the loss: the comparison is not between two flat curves.
    expect(reference.losses[STEPS - 1]!).toBeLessThan(0.8 * reference.losses[0]!);
    // The weights, moving averages and head parameters included, end up in the same place.
    expect(ours.weights.map((w) => w.name)).toEqual(reference.weights.map((w) => w.name));
    const logScale = ours.weights.find((w) => w.name === `head/param/${LOG_SCALE_PARAM}`);
    expect(logScale !== undefined).toBe(headParams(head).has(LOG_SCALE_PARAM));
    // Training moved the parameter: its comparison is not between two starting values.
    if (logScale) expect(Math.abs(logScale.data[0]! - Math.log(4))).toBeGreaterThan(1e-3);
    ours.weights.forEach((weight, i) => {
      const theirs = reference.weights[i]!;
      expect(weight.name).toBe(theirs.name);
      const scale = Math.max(...theirs.data.map(Math.abs), 1e-6);
      const gap = Math.max(...weight.data.map((v, j) => Math.abs(v - theirs.data[j]!)));
      expect(gap / scale, weight.name).toBeLessThan(1e-3);
    });
  });

  it.each([
    ['every class', 5, 1],
    ['a class sample of 32 of 40 classes per step', 40, 0.25],
  ] as const)(
    'trains bottleneck-softmax as tfjs does end to end, %s: the same drawn starts, batches, samples and epoch losses',
    async (_name, classes, sampledShare) => {
      const dataset = engineTestDataset(31, { rows: 320, classes });
      const head = bottleneckSoftmaxHead.build({ classes }, resolveOptions(bottleneckSoftmaxHead, { dims: 6, sampledShare }));
      // No dropout: the engines draw their masks differently.
      const trainer = { ...ENGINE_TEST_TRAINER, dropout: 0, maxEpochs: 3, patience: 10 };
      const job = { dataset, head, trainer };
      const ours = await onnxruntimeEngine.train(engineTestContext(31), job, { provider: 'cpu' });
      const theirs = await tfjsEngine.train(engineTestContext(31), job, {});
      try {
        // The first batch's loss is taken before any update: equal only if both drew the same classifier (and sample).
        ours.history.forEach((record, i) => {
          expect(relativeDifference(record.trainLoss, theirs.history[i]!.trainLoss), `epoch ${i + 1}`).toBeLessThan(1e-3);
          expect(relativeDifference(record.validationLoss, theirs.history[i]!.validationLoss), `epoch ${i + 1}`).toBeLessThan(1e-3);
        });
        expect(ours.history.at(-1)!.trainLoss).toBeLessThan(0.9 * ours.history[0]!.trainLoss);
      } finally {
        ours.model.dispose();
        theirs.model.dispose();
      }
    },
  );

  it.each([
    [
      'bottleneck-softmax',
      () =>
        startHeadParams(
          bottleneckSoftmaxHead.build({ classes: 100 }, resolveOptions(bottleneckSoftmaxHead, { dims: 5, sampledShare: 0.2 })),
          createRng(5).fork('head-params'),
        ),
    ],
    [
      'cosine-softmax with a learned scale',
      () =>
        cosineSoftmaxHead.build(
          { classes: 100, prototypes: unitPrototypes(100, 5, 9) },
          resolveOptions(cosineSoftmaxHead, { scale: 4, learnScale: true, sampledShare: 0.2 }),
        ),
    ],
  ] as const)(
    'trains sampled %s as tfjs does: the same class samples, lazy Adam, the same losses and weights (1e-3)',
    async (_name, makeHead) => {
      const head = makeHead();
      const net = { ...shape, outputUnits: head.outputUnits };
      const weights = initialMlpWeights(net, createRng(5).fork('weights'));
      // 100 classes, 20% per step: 20 sampled classes, raised to the batch's 32.
      const size = sampledClassCount(100, head.sampledShare!, ROWS);
      expect(size).toBe(32);
      const sampler = new ClassSampler(100, size, createRng(6).fork('class-sample'));
      const batches = givenBatches(net, 100, 6).map((batch) => {
        const sample = { classes: new Int32Array(size), positions: new Int32Array(ROWS) };
        sampler.draw(batch.labels, sample.classes, sample.positions);
        return { ...batch, sample };
      });
      const learningRate = 0.01;
      const reference = await trainMlpSteps(runtime, { ...net, learningRate, head, weights, batches });
      const ours = await onnxLosses(net, head, weights, batches, learningRate);
      expect(ours.losses).toHaveLength(STEPS);
      const worst = Math.max(...ours.losses.map((loss, i) => relativeDifference(loss, reference.losses[i]!)));
      expect(worst).toBeLessThan(1e-3);
      // Training moved the loss (100 classes, 50 steps: slowly).
      expect(reference.losses.slice(-5).reduce((a, b) => a + b)).toBeLessThan(0.95 * reference.losses.slice(0, 5).reduce((a, b) => a + b));
      ours.weights.forEach((weight, i) => {
        const theirs = reference.weights[i]!;
        expect(weight.name).toBe(theirs.name);
        const scale = Math.max(...theirs.data.map(Math.abs), 1e-6);
        const gap = Math.max(...weight.data.map((v, j) => Math.abs(v - theirs.data[j]!)));
        expect(gap / scale, weight.name).toBeLessThan(1e-3);
      });
    },
  );

  it('updates only the sampled rows of a row-sampled classifier and bias, on both engines (lazy Adam)', async () => {
    const head = startHeadParams(
      bottleneckSoftmaxHead.build({ classes: 100 }, resolveOptions(bottleneckSoftmaxHead, { dims: 5, sampledShare: 0.2 })),
      createRng(5).fork('head-params'),
    );
    const net = { ...shape, outputUnits: head.outputUnits };
    const weights = initialMlpWeights(net, createRng(5).fork('weights'));
    const sampler = new ClassSampler(100, 32, createRng(7));
    const batches = givenBatches(net, 100, 7)
      .slice(0, 3)
      .map((batch) => {
        const sample = { classes: new Int32Array(32), positions: new Int32Array(ROWS) };
        sampler.draw(batch.labels, sample.classes, sample.positions);
        return { ...batch, sample };
      });
    const touched = new Set(batches.flatMap((b) => [...b.sample.classes]));
    expect(touched.size).toBeLessThan(100);
    const start = headParamWeights(head);
    for (const after of [
      (await trainMlpSteps(runtime, { ...net, learningRate: 0.01, head, weights, batches })).weights,
      (await onnxLosses(net, head, weights, batches, 0.01)).weights,
    ]) {
      for (const [k, name] of ['head/param/classifier', 'head/param/bias'].entries()) {
        const before = start[k]!;
        const now = after.find((w) => w.name === name)!;
        const width = before.shape[1] ?? 1;
        for (let row = 0; row < 100; row++) {
          const moved = now.data.subarray(row * width, (row + 1) * width).some((v, j) => v !== before.data[row * width + j]);
          expect(moved, `${name} row ${row}`).toBe(touched.has(row));
        }
      }
    }
  });

  it('takes the same steps with one batch per run, without the Scan', async () => {
    const head = softmaxHead.build({ classes: 6 }, {});
    const net = { ...shape, outputUnits: 6 };
    const weights = initialMlpWeights(net, createRng(7).fork('weights'));
    const batches = givenBatches(net, 6, 8).slice(0, 10);
    const scanned = await onnxLosses(net, head, weights, batches, 0.01);
    const single = await onnxLosses(net, head, weights, batches, 0.01, 'single');
    single.losses.forEach((loss, i) => expect(relativeDifference(loss, scanned.losses[i]!)).toBeLessThan(1e-5));
  });
});
