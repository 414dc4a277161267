import { describe, expect, it } from 'vitest';
import { createMatrix, createRng, ErrorCode, h } from '@hyperproto/core';
import {
  createTrainedMlpModel,
  initialMlpWeights,
  mlpLayerList,
  mlpLayers,
  mlpLayersFromList,
  mlpWeightsByRole,
  mlpWeightSpecs,
  orderedMlpWeights,
  type TrainerSettings,
} from './index.js';

describe('the network weights every engine shares', () => {
  it('are named and shaped by the network, trainable except the moving statistics', () => {
    const specs = mlpWeightSpecs({ inputWidth: 3, hiddenUnits: 4, hiddenLayers: 2, outputUnits: 2 });
    expect(specs.map((s) => `${s.name} [${s.shape.join(',')}]${s.trainable ? '' : ' fixed'}`)).toEqual([
      'trunk/dense0/kernel [3,4]',
      'trunk/bn0/gamma [4]',
      'trunk/bn0/beta [4]',
      'trunk/bn0/moving_mean [4] fixed',
      'trunk/bn0/moving_variance [4] fixed',
      'trunk/dense1/kernel [4,4]',
      'trunk/bn1/gamma [4]',
      'trunk/bn1/beta [4]',
      'trunk/bn1/moving_mean [4] fixed',
      'trunk/bn1/moving_variance [4] fixed',
      'head/dense/kernel [4,2]',
      'head/dense/bias [2]',
    ]);
  });

  it("are reached by role: each layer's kernel and batch norm, and the head, in the order of the list", () => {
    const shape = { inputWidth: 3, hiddenUnits: 4, hiddenLayers: 2, outputUnits: 2 };
    const layers = mlpLayers(shape);
    expect(layers.hidden.map((layer) => [layer.kernel.name, layer.movingVariance.name])).toEqual([
      ['trunk/dense0/kernel', 'trunk/bn0/moving_variance'],
      ['trunk/dense1/kernel', 'trunk/bn1/moving_variance'],
    ]);
    expect([layers.head.kernel.shape, layers.head.bias.shape]).toEqual([[4, 2], [2]]);
    expect(mlpLayerList(layers)).toEqual(mlpWeightSpecs(shape));
    const positions = mlpLayersFromList(
      Array.from({ length: 12 }, (_, i) => i),
      2,
    );
    expect([positions.hidden[1]!.gamma, positions.head.kernel, positions.head.bias]).toEqual([6, 10, 11]);
    expect(mlpLayerList(positions)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(() => mlpLayersFromList([1, 2, 3], 1)).toThrow(/1 hidden layers has 7 parameters, got 3/);
  });

  it('start Glorot-uniform kernels from the seed, unit gammas and variances, zeros elsewhere', () => {
    const shape = { inputWidth: 3, hiddenUnits: 4, hiddenLayers: 1, outputUnits: 2 };
    const weights = initialMlpWeights(shape, createRng(1));
    const { hidden, head } = mlpWeightsByRole(shape, weights, 'start');
    const layer = hidden[0]!;
    const limit = Math.sqrt(6 / (3 + 4));
    expect([...layer.kernel.data].every((v) => Math.abs(v) <= limit)).toBe(true);
    expect(new Set(layer.kernel.data).size).toBe(12);
    expect([...layer.gamma.data, ...layer.movingVariance.data]).toEqual(new Array(8).fill(1));
    expect([...head.bias.data, ...layer.beta.data, ...layer.movingMean.data]).toEqual(new Array(10).fill(0));
    // Drawn in order: the first hidden kernel takes the generator's first 12 draws.
    const draws = createRng(1).fillUniform(new Float32Array(12), -limit, limit);
    expect(layer.kernel.data).toEqual(draws);
    expect(initialMlpWeights(shape, createRng(1))).toEqual(weights);
  });

  it('are looked up by name and checked against the shapes of the network', () => {
    const shape = { inputWidth: 3, hiddenUnits: 4, hiddenLayers: 1, outputUnits: 2 };
    const weights = initialMlpWeights(shape, createRng(1));
    expect(weights.map((w) => w.name)).toEqual(mlpWeightSpecs(shape).map((s) => s.name));
    expect(orderedMlpWeights(shape, [...weights].reverse(), 'model').map((w) => w.name)).toEqual(weights.map((w) => w.name));
    expect(() => orderedMlpWeights(shape, weights.slice(1), 'model')).toThrow(/model has no weight "trunk\/dense0\/kernel"/);
    expect(() => orderedMlpWeights({ ...shape, outputUnits: 3 }, weights, 'model')).toThrow(/"head\/dense\/kernel" has shape \[4, 2\]/);
  });
});

describe('createTrainedMlpModel', () => {
  const trainer: TrainerSettings = {
    hiddenUnits: 4,
    hiddenLayers: 1,
    dropout: 0,
    batchSize: 8,
    learningRate: 0.01,
    patience: 2,
    maxEpochs: 3,
  };
  const head = { outputUnits: 2, loss: h.mean(h.output()), scores: h.output(), scoresName: 'scores', constants: {} };
  const weights = initialMlpWeights({ inputWidth: 3, hiddenUnits: 4, hiddenLayers: 1, outputUnits: 2 }, createRng(2));

  it('hands the engine checked batches and the weights in network order, and refuses the rest', async () => {
    const seen: { call: string; rows: number; names: string[] }[] = [];
    const model = createTrainedMlpModel({ inputWidth: 3, classes: 2, trainer, head, weights: [...weights].reverse() }, (network) => {
      const names = network.weights.map((w) => w.name);
      return {
        async predict(features) {
          seen.push({ call: 'predict', rows: features.rows, names });
          return { scores: createMatrix(features.rows, 2), labels: new Int32Array(features.rows) };
        },
        async predictLabels(features) {
          seen.push({ call: 'predictLabels', rows: features.rows, names });
          return new Int32Array(features.rows);
        },
        release() {},
      };
    });
    expect(model.batchNormEpsilon).toBe(1e-3);
    expect((await model.predict(createMatrix(5, 3))).labels).toHaveLength(5);
    expect((await model.predict(createMatrix(0, 3))).scores.rows).toBe(0);
    expect(await model.predictLabels(createMatrix(4, 3))).toHaveLength(4);
    expect(await model.predictLabels(createMatrix(0, 3))).toHaveLength(0);
    const order = weights.map((w) => w.name);
    expect(seen).toEqual([
      { call: 'predict', rows: 5, names: order },
      { call: 'predictLabels', rows: 4, names: order },
    ]);
    for (const call of [model.predict(createMatrix(2, 4)), model.predictLabels(createMatrix(2, 4))]) {
      await expect(call).rejects.toMatchObject({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/expects 3 columns/) });
    }
    model.dispose();
    await expect(model.predict(createMatrix(1, 3))).rejects.toThrow(/predict was called on a disposed model/);
    // Scores that cannot be held are refused before the engine runs; labels alone still come.
    const wide = createTrainedMlpModel({ inputWidth: 3, classes: 2 ** 30, trainer, head, weights }, (network) => ({
      predict: async () => {
        throw new Error('the engine is not asked for 3 x 2^30 scores');
      },
      predictLabels: async (features) => new Int32Array(features.rows).fill(network.weights.length),
      release() {},
    }));
    await expect(wide.predict(createMatrix(3, 3))).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/3 rows x 1073741824 classes would return 3221225472 scores/),
      hint: expect.stringMatching(/at most 2 rows per call, or call predictLabels/),
    });
    expect(await wide.predictLabels(createMatrix(3, 3))).toHaveLength(3);
    await expect(model.predictLabels(createMatrix(1, 3))).rejects.toThrow(/predictLabels was called on a disposed model/);
    expect(() =>
      createTrainedMlpModel({ inputWidth: 3, classes: 2, trainer, head, weights: weights.slice(1) }, () => {
        throw new Error('the engine is not asked for a network whose weights are refused');
      }),
    ).toThrow(/no weight "trunk\/dense0\/kernel"/);
  });

  it('releases what the engine holds once, on dispose, after the calls in flight have finished', async () => {
    const events: string[] = [];
    let finish: () => void = () => {};
    const model = createTrainedMlpModel({ inputWidth: 3, classes: 2, trainer, head, weights }, () => ({
      async predict(features) {
        return { scores: createMatrix(features.rows, 2), labels: new Int32Array(features.rows) };
      },
      async predictLabels(features) {
        events.push('predictLabels started');
        await new Promise<void>((resolve) => (finish = resolve));
        events.push('predictLabels finished');
        return new Int32Array(features.rows);
      },
      release() {
        events.push('released');
      },
    }));
    const running = model.predictLabels(createMatrix(3, 3));
    model.dispose();
    model.dispose();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['predictLabels started']);
    finish();
    expect(await running).toHaveLength(3);
    expect(events).toEqual(['predictLabels started', 'predictLabels finished', 'released']);
  });
});
