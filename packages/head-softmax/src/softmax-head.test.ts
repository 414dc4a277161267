import { constantsUsed, ErrorCode, resolveOptions } from '@hyperproto/core';
import { headValues } from '@hyperproto/plugin-testing';
import { describe, expect, it } from 'vitest';
import softmaxHeadDefault, { softmaxHead } from './index.js';

const LN2 = Math.LN2;
const LN3 = Math.log(3);

/**
 * The head's loss and scores evaluated by core's float64 reference interpreter on rows typed here. Every expected
 * value below is worked out by hand from the definition (cross-entropy of the true class, softmax scores), so a
 * wrong expression fails instead of being compared with a copy of itself.
 */
const softmaxValues = (rows: number[][], labels?: number[]) =>
  headValues(softmaxHead.build({ classes: rows[0]!.length }, {}), rows, labels);

const close = (actual: readonly number[], expected: readonly number[], digits = 12) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, digits));
};

describe('head:softmax', () => {
  it('is the default export and takes no options', () => {
    expect(softmaxHeadDefault).toBe(softmaxHead);
    expect(softmaxHead.kind).toBe('head');
    expect(softmaxHead.name).toBe('softmax');
    expect(softmaxHead.usesPrototypes).toBe(false);
    expect(resolveOptions(softmaxHead, {})).toEqual({});
    expect(() => resolveOptions(softmaxHead, { temperature: 2 })).toThrow(/head:softmax/);
  });

  it('has one output unit per class, probabilities as scores and no constants', () => {
    const head = softmaxHead.build({ classes: 7 }, {});
    expect(head.outputUnits).toBe(7);
    expect(head.scoresName).toBe('probabilities');
    expect(head.constants).toEqual({});
    expect(constantsUsed(head.loss).size + constantsUsed(head.scores).size).toBe(0);
  });

  it('loss of logits [0, ln 3]: -ln(3/4) = ln(4/3) for label 1, -ln(1/4) = ln 4 for label 0, a scalar', () => {
    const right = softmaxValues([[0, LN3]], [1]).loss!;
    expect(right.shape).toEqual([]);
    expect(right.value).toBeCloseTo(0.28768207245178085, 14);
    expect(softmaxValues([[0, LN3]], [0]).loss!.value).toBeCloseTo(1.3862943611198906, 14);
  });

  it('averages over rows: [0, ln 3] with labels 1 and 0 give (ln(4/3) + ln 4) / 2 = ln(16/3) / 2', () => {
    const loss = softmaxValues(
      [
        [0, LN3],
        [0, LN3],
      ],
      [1, 0],
    ).loss!;
    expect(loss.shape).toEqual([]);
    expect(loss.value).toBeCloseTo(0.8369882167858358, 14);
  });

  it('3 classes: logits [0, 0, ln 2] give probabilities [1/4, 1/4, 1/2], loss ln 2 for label 2 and ln 4 for label 0', () => {
    const { loss, scores } = softmaxValues([[0, 0, LN2]], [2]);
    expect(loss!.value).toBeCloseTo(LN2, 14);
    expect(scores.shape).toEqual([1, 3]);
    close(scores.data, [0.25, 0.25, 0.5], 14);
    expect(softmaxValues([[0, 0, LN2]], [0]).loss!.value).toBeCloseTo(Math.log(4), 14);
  });

  it('equal logits give 1/C each and loss ln C whatever the label', () => {
    for (const label of [0, 3]) expect(softmaxValues([[5, 5, 5, 5]], [label]).loss!.value).toBeCloseTo(Math.log(4), 14);
    close(softmaxValues([[5, 5, 5, 5]]).scores.data, [0.25, 0.25, 0.25, 0.25], 14);
  });

  it('stays finite on large logits: [1000, 1000 + ln 3] still gives ln(4/3), and [0, 800] with label 0 costs 800', () => {
    const shifted = softmaxValues([[1000, 1000 + LN3]], [1]);
    expect(shifted.loss!.value).toBeCloseTo(0.28768207245178085, 10);
    close(shifted.scores.data, [0.25, 0.75], 10);
    expect(softmaxValues([[0, 800]], [0]).loss!.value).toBeCloseTo(800, 10);
    expect(softmaxValues([[0, 800]], [1]).loss!.value).toBeCloseTo(0, 14);
  });

  it('scores are the probabilities, one row per input row: [0, ln 3] -> [1/4, 3/4]; no labels needed', () => {
    const { scores } = softmaxValues([
      [0, LN3],
      [LN3, 0],
    ]);
    expect(scores.shape).toEqual([2, 2]);
    close(scores.data, [0.25, 0.75, 0.75, 0.25], 14);
  });

  it('survives a JSON round trip (model files store the expressions)', () => {
    const head = softmaxHead.build({ classes: 3 }, {});
    expect(JSON.parse(JSON.stringify({ loss: head.loss, scores: head.scores }))).toEqual({ loss: head.loss, scores: head.scores });
  });

  it('rejects fewer than 2 classes', () => {
    expect(() => softmaxHead.build({ classes: 1 }, {})).toThrow(expect.objectContaining({ code: ErrorCode.InvalidInput }));
    expect(() => softmaxHead.build({ classes: 2.5 }, {})).toThrow(/at least 2 classes/);
  });
});
