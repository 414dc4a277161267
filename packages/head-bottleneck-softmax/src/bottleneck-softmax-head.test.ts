import { bindHeadParams, ErrorCode, evaluateHeadExpr, headParams, resolveOptions, type HeadBuildInput } from '@hyperproto/core';
import { headValues } from '@hyperproto/plugin-testing';
import { describe, expect, it } from 'vitest';
import bottleneckSoftmaxHeadDefault, { BIAS_PARAM, bottleneckSoftmaxHead, CLASSIFIER_PARAM, DEFAULT_DIMS } from './index.js';

/** Builds through the options schema, as the pipeline does: defaults filled in. */
const build = (input: HeadBuildInput, options: Record<string, unknown>) =>
  bottleneckSoftmaxHead.build(input, resolveOptions(bottleneckSoftmaxHead, options));

describe('head:bottleneck-softmax', () => {
  it('is the default export, uses no prototypes, and defaults to D = 100', () => {
    expect(bottleneckSoftmaxHeadDefault).toBe(bottleneckSoftmaxHead);
    expect(bottleneckSoftmaxHead.name).toBe('bottleneck-softmax');
    expect(bottleneckSoftmaxHead.usesPrototypes).toBe(false);
    expect(resolveOptions(bottleneckSoftmaxHead, {})).toEqual({ dims: 100, sampledShare: 1 });
    expect(DEFAULT_DIMS).toBe(100);
  });

  it('refuses dims that are not a positive integer, and unknown options, naming the head', () => {
    for (const dims of [0, -3, 2.5, 'wide', 1e6]) {
      expect(() => resolveOptions(bottleneckSoftmaxHead, { dims })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOptions, message: expect.stringMatching(/^head:bottleneck-softmax dims: /) }),
      );
    }
    expect(() => resolveOptions(bottleneckSoftmaxHead, { scale: 3 })).toThrow(/head:bottleneck-softmax/);
    expect(() => build({ classes: 1 }, {})).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/needs at least 2 classes, got 1/) }),
    );
  });

  it('is D wide and learns a Glorot classifier [C, D] and a zero bias [C]; it ships no constants', () => {
    const head = build({ classes: 5 }, { dims: 7 });
    expect(head.outputUnits).toBe(7);
    expect(head.scoresName).toBe('probabilities');
    expect(head.constants).toEqual({});
    expect([...headParams(head).values()]).toEqual([
      { name: CLASSIFIER_PARAM, shape: [5, 7], init: 'glorotUniform' },
      { name: BIAS_PARAM, shape: [5], init: 'zeros' },
    ]);
  });

  it('W = [[1, 0], [0, 1], [1, 1]], b = [0, 0, 1], output [1, 2] (logits [1, 2, 4]): cross-entropy and softmax', () => {
    const head = bindHeadParams(build({ classes: 3 }, { dims: 2 }), { [CLASSIFIER_PARAM]: [1, 0, 0, 1, 1, 1], [BIAS_PARAM]: [0, 0, 1] });
    expect(headValues(head, [[1, 2]], [2]).loss!.value).toBeCloseTo(0.1698460195562852, 6);
    expect(headValues(head, [[1, 2]], [0]).loss!.value).toBeCloseTo(3.169846019556285, 6);
    const scores = headValues(head, [[1, 2]]).scores;
    expect(scores.shape).toEqual([1, 3]);
    scores.data.forEach((p, k) => expect(p).toBeCloseTo([0.04201006613406605, 0.11419519938459449, 0.8437947344813395][k]!, 6));
    // Averaged over rows: label 2 on one row, label 0 on the other.
    const both = headValues(
      head,
      [
        [1, 2],
        [1, 2],
      ],
      [2, 0],
    );
    expect(both.loss!.value).toBeCloseTo((0.1698460195562852 + 3.169846019556285) / 2, 6);
  });

  it('cannot score before training: its classifier starts from values drawn by the engine', () => {
    expect(() => headValues(build({ classes: 3 }, { dims: 2 }), [[1, 2]])).toThrow(
      /head parameter "classifier" starts from glorotUniform values drawn when training starts, and no values were given/,
    );
  });

  it('sampledShare below 1: the loss sees the sampled classes, the scores every class; 1 is the unsampled head', () => {
    expect(build({ classes: 3 }, { dims: 2, sampledShare: 1 })).toEqual(build({ classes: 3 }, { dims: 2 }));
    const plain = bindHeadParams(build({ classes: 3 }, { dims: 2 }), { [CLASSIFIER_PARAM]: [1, 0, 0, 1, 1, 1], [BIAS_PARAM]: [0, 0, 1] });
    const sampled = bindHeadParams(build({ classes: 3 }, { dims: 2, sampledShare: 0.5 }), {
      [CLASSIFIER_PARAM]: [1, 0, 0, 1, 1, 1],
      [BIAS_PARAM]: [0, 0, 1],
    });
    expect(sampled.sampledShare).toBe(0.5);
    expect(plain.sampledShare).toBeUndefined();
    expect(sampled.scores).toEqual(plain.scores);
    expect([...headParams(sampled).values()]).toEqual([...headParams(plain).values()]);
    const inputs = { output: { rows: 1, cols: 2, data: Float64Array.of(1, 2) }, params: sampled.params!, labels: Int32Array.of(2) };
    // Logits [1, 2, 4]; the sample holds classes 2 and 0, label 2 at position 0: -log softmax([4, 1])[0] = log(1 + e^-3).
    const sample = { classes: Int32Array.of(2, 0), labels: Int32Array.of(0) };
    expect(evaluateHeadExpr(sampled.loss, { ...inputs, sample }).data[0]).toBeCloseTo(0.04858735157374206, 12);
    // Without a sample (validation): the loss over every class, as the unsampled head's.
    expect(evaluateHeadExpr(sampled.loss, inputs).data[0]).toBeCloseTo(0.1698460195562852, 12);
  });

  it('refuses a sampledShare outside (0, 1], naming the head and the value', () => {
    for (const sampledShare of [0, -0.1, 1.5]) {
      expect(() => resolveOptions(bottleneckSoftmaxHead, { sampledShare })).toThrow(
        expect.objectContaining({
          code: ErrorCode.InvalidOptions,
          message: `head:bottleneck-softmax sampledShare: the share of the classes a training step sees must be in (0, 1], got ${sampledShare}`,
        }),
      );
    }
  });

  it('survives a JSON round trip (model files store the expressions)', () => {
    const head = build({ classes: 4 }, { dims: 3 });
    const trip = JSON.parse(JSON.stringify({ loss: head.loss, scores: head.scores }));
    expect(trip).toEqual({ loss: head.loss, scores: head.scores });
  });
});
