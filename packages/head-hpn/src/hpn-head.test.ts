import { constantsUsed, createMatrix, ErrorCode, h, resolveOptions } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import hpnHeadDefault, { hpnHead } from './index.js';

const identity3 = () => createMatrix(3, 3, new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]));

describe('head:hpn', () => {
  it('is the default export, uses prototypes and takes no options', () => {
    expect(hpnHeadDefault).toBe(hpnHead);
    expect(hpnHead.kind).toBe('head');
    expect(hpnHead.name).toBe('hpn');
    expect(hpnHead.usesPrototypes).toBe(true);
    expect(resolveOptions(hpnHead, {})).toEqual({});
    expect(() => resolveOptions(hpnHead, { margin: 1 })).toThrow(/head:hpn/);
  });

  it('has an output as wide as the prototypes, the squared cosine loss and cosine scores', () => {
    const prototypes = createMatrix(3, 5, new Float32Array(15).fill(1 / Math.sqrt(5)));
    const head = hpnHead.build({ classes: 3, prototypes }, {});
    expect(head.outputUnits).toBe(5);
    const prototypesExpr = h.constant('prototypes');
    expect(head.loss).toEqual(
      h.mean(h.pow(h.sub(h.scalar(1), h.rowSum(h.mul(h.l2normalize(h.output()), h.gatherRows(prototypesExpr, h.labels())))), 2)),
    );
    expect(head.scores).toEqual(h.matmulTransposed(h.l2normalize(h.output()), prototypesExpr));
    expect(head.scoresName).toBe('scores');
    expect(head.constants).toEqual({ prototypes });
    expect(head.constants.prototypes).toBe(prototypes);
    expect([...constantsUsed(head.loss)]).toEqual(['prototypes']);
    expect([...constantsUsed(head.scores)]).toEqual(['prototypes']);
  });

  it('allows fewer or more prototype dimensions than classes', () => {
    expect(hpnHead.build({ classes: 3, prototypes: createMatrix(3, 2, new Float32Array([1, 0, 0, 1, -1, 0])) }, {}).outputUnits).toBe(2);
    expect(hpnHead.build({ classes: 3, prototypes: createMatrix(3, 8) }, {}).outputUnits).toBe(8);
  });

  it('rejects missing prototypes with a hint', () => {
    let error: unknown;
    try {
      hpnHead.build({ classes: 3 }, {});
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/needs prototypes/) });
    expect((error as { hint?: string }).hint).toMatch(/strategy/);
  });

  it('rejects a prototype count that differs from the class count', () => {
    expect(() => hpnHead.build({ classes: 4, prototypes: identity3() }, {})).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/3 prototypes for 4 classes/) }),
    );
  });

  it('rejects malformed or non-finite prototypes', () => {
    const short = { rows: 3, cols: 3, data: new Float32Array(8) };
    expect(() => hpnHead.build({ classes: 3, prototypes: short }, {})).toThrow(/8 values/);
    const withNaN = identity3();
    withNaN.data[4] = Number.NaN;
    expect(() => hpnHead.build({ classes: 3, prototypes: withNaN }, {})).toThrow(/row 1, column 1/);
  });
});
