import { constantsUsed, ErrorCode, h, resolveOptions } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import softmaxHeadDefault, { softmaxHead } from './index.js';

describe('head:softmax', () => {
  it('is the default export and takes no options', () => {
    expect(softmaxHeadDefault).toBe(softmaxHead);
    expect(softmaxHead.kind).toBe('head');
    expect(softmaxHead.name).toBe('softmax');
    expect(softmaxHead.usesPrototypes).toBe(false);
    expect(resolveOptions(softmaxHead, {})).toEqual({});
    expect(() => resolveOptions(softmaxHead, { temperature: 2 })).toThrow(/head:softmax/);
  });

  it('has one output unit per class, cross-entropy loss and softmax scores', () => {
    const head = softmaxHead.build({ classes: 7 }, {});
    expect(head.outputUnits).toBe(7);
    expect(head.loss).toEqual(h.mean(h.neg(h.pickPerRow(h.logSoftmax(h.output()), h.labels()))));
    expect(head.scores).toEqual(h.softmax(h.output()));
    expect(head.scoresName).toBe('probabilities');
    expect(head.constants).toEqual({});
    expect(constantsUsed(head.loss).size + constantsUsed(head.scores).size).toBe(0);
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
