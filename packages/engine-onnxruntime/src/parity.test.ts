import { createMatrix, createRng, type HeadDefinition, headParams, type NamedWeight } from '@hyperproto/core';
import { initialMlpWeights, type MlpShape } from '@hyperproto/mlp';
import { trainMlpSteps, type GivenBatch } from '@hyperproto/engine-tfjs';
import { cosineSoftmaxHead, LOG_SCALE_PARAM } from '@hyperproto/head-cosine-softmax';
import { hpnHead } from '@hyperproto/head-hpn';
import { marginHead } from '@hyperproto/head-margin';
import { softmaxHead } from '@hyperproto/head-softmax';
import { initTfjs, type TfjsRuntime } from '@hyperproto/tfjs-backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { fillDropoutMask } from './dropout-mask.js';
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
  return {
    count: batches.length,
    rows: ROWS,
    features: concat(batches.map((b) => b.features.data)),
    labels: Int32Array.from(batches.flatMap((b) => [...b.labels])),
    dropoutMasks: batches[0]!.dropoutMasks!.map((_, layer) => concat(batches.map((b) => b.dropoutMasks![layer]!))),
  };
}

async function onnxLosses(
  shape: MlpShape,
  head: HeadDefinition,
  weights: readonly NamedWeight[],
  batches: readonly GivenBatch[],
  learningRate: number,
  layout: 'loop' | 'single' = 'loop',
) {
  const session = await TrainingSession.create({ shape, head, weights, learningRate, dropout: DROPOUT, layout });
  const losses: number[] = [];
  try {
    // Runs of uneven sizes: the state must carry over between runs exactly as between the Loop's iterations.
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
      () => cosineSoftmaxHead.build({ classes: 6, prototypes: unitPrototypes(6, 5, 9) }, { scale: 16, learnScale: false }),
    ],
    ['margin', () => marginHead.build({ classes: 6, prototypes: unitPrototypes(6, 5, 9) }, { scale: 16, margin: 0.35, learnScale: false })],
    // A learned scale: the head parameter logScale is trained by both engines' Adam and compared like a weight.
    [
      'cosine-softmax with a learned scale',
      () => cosineSoftmaxHead.build({ classes: 6, prototypes: unitPrototypes(6, 5, 9) }, { scale: 4, learnScale: true }),
    ],
    [
      'margin with a learned scale',
      () => marginHead.build({ classes: 6, prototypes: unitPrototypes(6, 5, 9) }, { scale: 4, margin: 0.35, learnScale: true }),
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

  it('takes the same steps with one batch per run, without the Loop', async () => {
    const head = softmaxHead.build({ classes: 6 }, {});
    const net = { ...shape, outputUnits: 6 };
    const weights = initialMlpWeights(net, createRng(7).fork('weights'));
    const batches = givenBatches(net, 6, 8).slice(0, 10);
    const looped = await onnxLosses(net, head, weights, batches, 0.01);
    const single = await onnxLosses(net, head, weights, batches, 0.01, 'single');
    single.losses.forEach((loss, i) => expect(relativeDifference(loss, looped.losses[i]!)).toBeLessThan(1e-5));
  });
});
