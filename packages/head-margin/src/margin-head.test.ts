import { createMatrix, ErrorCode, headParams, resolveOptions, type HeadBuildInput, type HeadPlugin } from '@hyperproto/core';
import cosineSoftmaxHead, { LOG_SCALE_PARAM } from '@hyperproto/head-cosine-softmax';
import { headValues } from '@hyperproto/plugin-testing';
import { describe, expect, it } from 'vitest';
import marginHeadDefault, { DEFAULT_MARGIN, marginHead } from './index.js';

/** Builds through the options schema, as the pipeline does: defaults filled in. */
const build = (head: HeadPlugin, input: HeadBuildInput, options: Record<string, unknown>) =>
  head.build(input, resolveOptions(head, options));

/** Two axis prototypes in 2-D: the cosines of output [3, 4] are [0.6, 0.8]. */
const axes = () => createMatrix(2, 2, Float32Array.of(1, 0, 0, 1));

describe('head:margin', () => {
  it('is the default export, uses prototypes, and defaults to CosFace margin 0.35 at scale 16, fixed', () => {
    expect(marginHeadDefault).toBe(marginHead);
    expect(marginHead.name).toBe('margin');
    expect(marginHead.usesPrototypes).toBe(true);
    expect(resolveOptions(marginHead, {})).toEqual({ scale: 16, margin: 0.35, learnScale: false });
    expect(DEFAULT_MARGIN).toBe(0.35);
  });

  it('refuses a margin outside [0, 1] and a scale that is not positive', () => {
    for (const margin of [-0.1, 1.5, 'wide']) {
      expect(() => resolveOptions(marginHead, { margin })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOptions, message: expect.stringMatching(/^head:margin margin: /) }),
      );
    }
    expect(() => resolveOptions(marginHead, { scale: 0 })).toThrow(/head:margin scale/);
  });

  it('scale 4, margin 0.25, cosines [0.6, 0.8]: training logits [1.4, 3.2] for label 0 and [2.4, 2.2] for label 1', () => {
    const head = build(marginHead, { classes: 2, prototypes: axes() }, { scale: 4, margin: 0.25 });
    expect(head.outputUnits).toBe(2);
    expect(head.scoresName).toBe('probabilities');
    // -log softmax: ln(1 + e^(3.2 - 1.4)) and ln(1 + e^(2.2 - 2.4)).
    const zero = headValues(head, [[3, 4]], [0]);
    expect(zero.loss!.value).toBeCloseTo(1.952977610526074, 12);
    expect(headValues(head, [[3, 4]], [1]).loss!.value).toBeCloseTo(0.7981388693815917, 12);
    // The scores have no margin: softmax([2.4, 3.2]) = [1, e^0.8] / (1 + e^0.8).
    expect(zero.scores.data[0]).toBeCloseTo(0.31002551887238755, 12);
    expect(zero.scores.data[1]).toBeCloseTo(1 - 0.31002551887238755, 12);
  });

  it('costs more than the cosine-softmax with the same scale, and equals it at margin 0', () => {
    const output = [
      [3, 4],
      [-1, 2],
      [5, -1],
    ];
    const labels = [0, 1, 0];
    const plain = headValues(build(cosineSoftmaxHead, { classes: 2, prototypes: axes() }, { scale: 4 }), output, labels);
    const margined = headValues(build(marginHead, { classes: 2, prototypes: axes() }, { scale: 4, margin: 0.35 }), output, labels);
    const none = headValues(build(marginHead, { classes: 2, prototypes: axes() }, { scale: 4, margin: 0 }), output, labels);
    expect(margined.loss!.value).toBeGreaterThan(plain.loss!.value + 0.1);
    expect(none.loss!.value).toBeCloseTo(plain.loss!.value, 14);
    expect(margined.scores).toEqual(plain.scores);
  });

  it('learnScale trains logScale = ln(scale) shared by the loss and the scores', () => {
    const head = build(marginHead, { classes: 2, prototypes: axes() }, { scale: 4, margin: 0.25, learnScale: true });
    expect([...headParams(head).values()]).toEqual([{ name: LOG_SCALE_PARAM, shape: [], value: Math.log(4) }]);
    expect(headValues(head, [[3, 4]], [0]).loss!.value).toBeCloseTo(1.952977610526074, 12);
    // s = 8: logits [2.8, 6.4], loss ln(1 + e^3.6).
    expect(headValues(head, [[3, 4]], [0], { [LOG_SCALE_PARAM]: Math.log(8) }).loss!.value).toBeCloseTo(Math.log(1 + Math.exp(3.6)), 12);
  });

  it('refuses a label out of range at evaluation, naming it and the class count', () => {
    const head = build(marginHead, { classes: 2, prototypes: axes() }, {});
    expect(() => headValues(head, [[3, 4]], [2])).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/label 2 is out of range for 2 classes/) }),
    );
  });

  it('refuses missing prototypes and the wrong number of rows, naming the margin head', () => {
    expect(() => build(marginHead, { classes: 2 }, {})).toThrow(/the margin head needs prototypes/);
    expect(() => build(marginHead, { classes: 3, prototypes: axes() }, {})).toThrow(/the margin head got 2 prototypes for 3 classes/);
  });
});
