import { ErrorCode, h } from '@hyperproto/core';
import { hpnLoss, hpnScores } from '@hyperproto/head-hpn';
import { softmaxLoss, softmaxScores } from '@hyperproto/head-softmax';
import { describe, expect, it } from 'vitest';
import { parseHeadExpr } from './head-expr-json.js';

describe('parseHeadExpr', () => {
  it('accepts every head expression as JSON gives it back, dropping unknown fields', () => {
    for (const expr of [hpnLoss, hpnScores, softmaxLoss, softmaxScores]) {
      expect(parseHeadExpr(JSON.parse(JSON.stringify(expr)), 'loss')).toEqual(expr);
    }
    expect(parseHeadExpr({ op: 'neg', x: { op: 'output', note: 'ignored' } }, 'loss')).toEqual(h.neg(h.output()));
    const margin = h.mul(
      h.exp(h.param('logScale', Math.log(16))),
      h.div(h.log(h.output()), h.sub(h.scalar(1), h.mul(h.scalar(0.35), h.oneHot(h.labels(), 10)))),
    );
    expect(parseHeadExpr(JSON.parse(JSON.stringify(margin)), 'loss')).toEqual(margin);
    const classifier = h.add(
      h.matmulTransposed(h.output(), h.param('classifier', { shape: [10, 3], init: 'glorotUniform' })),
      h.param('bias', { shape: [10], value: 0.5 }),
    );
    expect(parseHeadExpr(JSON.parse(JSON.stringify(classifier)), 'scores')).toEqual(classifier);
  });

  it('names the path of a bad node', () => {
    const fails = (value: unknown, pattern: RegExp) =>
      expect(() => parseHeadExpr(value, 'scores')).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(pattern) }),
      );
    fails(null, /^scores: expected a head expression object/);
    fails({ op: 'softmax' }, /^scores\.x: expected a head expression object/);
    fails({ op: 'add', a: { op: 'output' }, b: { op: 'nope' } }, /^scores\.b: unknown head operation "nope"/);
    fails({ op: 'scalar', value: 'one' }, /"scalar" needs a finite number "value"/);
    fails({ op: 'pow', x: { op: 'output' } }, /"pow" needs a finite number "exponent"/);
    fails({ op: 'constant', name: '' }, /"constant" needs a string "name"/);
    fails(
      { op: 'mul', a: { op: 'output' }, b: { op: 'param', name: 'scale' } },
      /^scores\.b: head parameter "scale" has no initial value$/,
    );
    fails({ op: 'param', name: 'w', shape: [2, 'x'], init: 'zeros' }, /^scores: "param" needs a list of integers "shape"$/);
    fails({ op: 'param', name: 'w', shape: [2], init: 'glorotUniform' }, /^scores: head parameter "w" draws glorotUniform values/);
    fails({ op: 'param', value: 1 }, /"param" needs a string "name"/);
    fails({ op: 'oneHot', indices: { op: 'labels' } }, /"oneHot" needs a finite number "depth"/);
  });
});
