import { createRng } from '@hyperproto/core';
import { hpnHead as hpnHeadPlugin } from '@hyperproto/head-hpn';
import { initialMlpWeights, mlpShape } from '@hyperproto/mlp';
import { ENGINE_TEST_TRAINER, engineTestDataset, engineTestHead } from '@hyperproto/plugin-testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InferenceSession } from './inference-session.js';
import { createTrainedOnnxMlp } from './trained-onnx-mlp.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createTrainedOnnxMlp', () => {
  it('opens one inference session at the first prediction, shares it between calls and releases it on dispose', async () => {
    const created = vi.spyOn(InferenceSession, 'create');
    const released = vi.spyOn(InferenceSession.prototype, 'release');
    const dataset = engineTestDataset(2);
    const head = engineTestHead(hpnHeadPlugin);
    const shape = mlpShape(dataset.inputWidth, ENGINE_TEST_TRAINER, head);
    const model = createTrainedOnnxMlp({
      inputWidth: dataset.inputWidth,
      classes: dataset.classes,
      trainer: ENGINE_TEST_TRAINER,
      head,
      weights: initialMlpWeights(shape, createRng(2)),
    });
    expect(created).not.toHaveBeenCalled();
    const features = dataset.test.features;
    const [first, alone, second] = await Promise.all([model.predict(features), model.predictLabels(features), model.predict(features)]);
    expect(alone).toEqual(first.labels);
    expect(second).toEqual(first);
    expect(await model.predictLabels(features)).toEqual(first.labels);
    expect(created).toHaveBeenCalledTimes(1);
    expect(released).not.toHaveBeenCalled();
    model.dispose();
    model.dispose();
    await vi.waitFor(() => expect(released).toHaveBeenCalledTimes(1));
    await expect(model.predictLabels(features)).rejects.toThrow(/disposed model/);
    expect(created).toHaveBeenCalledTimes(1);
  });
});
