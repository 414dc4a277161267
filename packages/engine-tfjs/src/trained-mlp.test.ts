import { createRng } from '@hyperproto/core';
import { hpnHead } from '@hyperproto/head-hpn';
import { initialMlpWeights, mlpShape } from '@hyperproto/mlp';
import { ENGINE_TEST_TRAINER, engineTestDataset, engineTestHead } from '@hyperproto/plugin-testing';
import { initTfjs } from '@hyperproto/tfjs-backend';
import { describe, expect, it } from 'vitest';
import { createTrainedMlp } from './trained-mlp.js';

describe('createTrainedMlp', () => {
  it('uploads the network once, at the first prediction, and frees it on dispose', async () => {
    const { tf } = await initTfjs();
    const dataset = engineTestDataset(2);
    const head = engineTestHead(hpnHead);
    const shape = mlpShape(dataset.inputWidth, ENGINE_TEST_TRAINER, head);
    const weights = initialMlpWeights(shape, createRng(2));
    const before = tf.memory().numTensors;
    const model = createTrainedMlp(tf, {
      inputWidth: dataset.inputWidth,
      classes: dataset.classes,
      trainer: ENGINE_TEST_TRAINER,
      head,
      weights,
    });
    expect(tf.memory().numTensors).toBe(before);
    const features = dataset.test.features;
    const { labels } = await model.predict(features);
    const resident = tf.memory().numTensors;
    // Every weight, and the head's prototypes.
    expect(resident - before).toBe(weights.length + 1);
    expect(await model.predictLabels(features)).toEqual(labels);
    expect(await model.predict(features)).toEqual({ scores: expect.anything(), labels });
    expect(tf.memory().numTensors).toBe(resident);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(model.predictLabels(features)).rejects.toThrow(/disposed model/);
  });
});
