import { createRng, h, type HeadDefinition, type NamedWeight } from '@hyperproto/core';
import { softmaxLoss } from '@hyperproto/head-softmax';
import { initialMlpWeights, type MlpShape } from '@hyperproto/mlp';
import { describe, expect, it } from 'vitest';
import { fillDropoutMask } from './dropout-mask.js';
import { MOVING_STATISTICS, SMALL_WEIGHTS } from './training-step-graph.js';
import { type PackedBatches, TrainingSession } from './training-session.js';

// The kernels of 64 x 64 and 64 x 80 values have state tensors of their own; the 40 x 64 one and the vectors share a row.
const shape: MlpShape = { inputWidth: 40, hiddenUnits: 64, hiddenLayers: 2, outputUnits: 80 };

function randomBatches(count: number, rows: number, seed: number): PackedBatches {
  const rng = createRng(seed);
  const features = rng.fillNormal(new Float32Array(count * rows * shape.inputWidth));
  const labels = Int32Array.from({ length: count * rows }, () => rng.int(shape.outputUnits));
  const dropoutMasks = Array.from({ length: shape.hiddenLayers }, () => {
    const mask = new Float32Array(count * rows * shape.hiddenUnits);
    fillDropoutMask(rng, mask, 0, mask.length, 0.3);
    return mask;
  });
  return { count, rows, features, labels, dropoutMasks };
}

/** Softmax cross-entropy, scores scaled by `scoreScale` (a parameter only the scores read) and, if asked, `lossScale`. */
function headWithParams(lossScale: boolean): HeadDefinition {
  return {
    outputUnits: shape.outputUnits,
    loss: lossScale ? h.mul(softmaxLoss, h.param('lossScale', 1.5)) : softmaxLoss,
    scores: h.mul(h.softmax(h.output()), h.param('scoreScale', 2)),
    scoresName: 'scaled probabilities',
    constants: {},
  };
}

const byName = (weights: readonly NamedWeight[]) => new Map(weights.map((w) => [w.name, w]));

describe('TrainingSession state', () => {
  it('holds large kernels alone and the small trainable weights in one row, and hands back the starting weights', async () => {
    const head = headWithParams(true);
    const weights = initialMlpWeights(shape, createRng(1));
    const session = await TrainingSession.create({ shape, head, weights, learningRate: 1e-2, dropout: 0.3 });
    try {
      expect(session.model.stateInputs).toEqual([
        'trunk/dense1/kernel',
        'head/dense/kernel',
        SMALL_WEIGHTS,
        MOVING_STATISTICS,
        'adam/m/trunk/dense1/kernel',
        'adam/m/head/dense/kernel',
        `adam/m/${SMALL_WEIGHTS}`,
        'adam/v/trunk/dense1/kernel',
        'adam/v/head/dense/kernel',
        `adam/v/${SMALL_WEIGHTS}`,
        'adam/step',
      ]);
      // dense0's kernel (2,560), 2 x (gamma, beta) of 64, the head's bias (80) and the two parameters.
      const small = session.model.stateShapes[2]!;
      expect(small).toEqual([1, 2560 + 4 * 64 + 80 + 2]);
      const handed = byName(session.weights());
      expect([...handed.keys()]).toEqual([...weights.map((w) => w.name), 'head/param/lossScale', 'head/param/scoreScale']);
      for (const weight of weights) expect(handed.get(weight.name)!.data, weight.name).toEqual(weight.data);
      expect([...handed.get('head/param/lossScale')!.data]).toEqual([1.5]);
      expect([...handed.get('head/param/scoreScale')!.data]).toEqual([2]);
    } finally {
      await session.release();
    }
  });

  it('trains every weight a gradient reaches, and leaves a head parameter that only the scores read as it was (as tfjs)', async () => {
    const head = headWithParams(true);
    const weights = initialMlpWeights(shape, createRng(2));
    const session = await TrainingSession.create({ shape, head, weights, learningRate: 1e-2, dropout: 0.3 });
    try {
      const { losses } = await session.run(randomBatches(3, 16, 3));
      expect(losses).toHaveLength(3);
      expect(session.steps).toBe(3);
      const trained = byName(session.weights());
      const changed = (name: string, from: ArrayLike<number>) => Array.from(from).some((v, i) => v !== trained.get(name)!.data[i]);
      for (const weight of weights) expect(changed(weight.name, weight.data), weight.name).toBe(true);
      expect(changed('head/param/lossScale', [1.5])).toBe(true);
      expect([...trained.get('head/param/scoreScale')!.data]).toEqual([2]);
    } finally {
      await session.release();
    }
  });
});
