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
  });
});
