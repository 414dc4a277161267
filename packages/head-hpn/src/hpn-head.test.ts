import { constantsUsed, createMatrix, ErrorCode, type Matrix, resolveOptions } from '@hyperproto/core';
import { headValues } from '@hyperproto/plugin-testing';
import { describe, expect, it } from 'vitest';
import hpnHeadDefault, { hpnHead } from './index.js';

const identity3 = () => createMatrix(3, 3, new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]));
/** Prototypes +e0, +e1, -e2: unit rows that float32 holds exactly, so cosines are exact too. */
const axes3 = () => createMatrix(3, 3, new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, -1]));

/** The head's loss and scores on `rows`, by core's float64 reference interpreter. */
const hpnValues = (rows: number[][], labels?: number[], prototypes: Matrix = axes3()) =>
  headValues(hpnHead.build({ classes: prototypes.rows, prototypes }, {}), rows, labels);

const close = (actual: readonly number[], expected: readonly number[]) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 14));
};

describe('head:hpn', () => {
  it('is the default export, uses prototypes and takes no options', () => {
    expect(hpnHeadDefault).toBe(hpnHead);
    expect(hpnHead.kind).toBe('head');
    expect(hpnHead.name).toBe('hpn');
    expect(hpnHead.usesPrototypes).toBe(true);
    expect(resolveOptions(hpnHead, {})).toEqual({});
    expect(() => resolveOptions(hpnHead, { margin: 1 })).toThrow(/head:hpn/);
  });

  it('has an output as wide as the prototypes, cosine scores named "scores" and ships the prototypes', () => {
    const prototypes = createMatrix(3, 5, new Float32Array(15).fill(1 / Math.sqrt(5)));
    const head = hpnHead.build({ classes: 3, prototypes }, {});
    expect(head.outputUnits).toBe(5);
    expect(head.scoresName).toBe('scores');
    expect(head.constants).toEqual({ prototypes });
    expect(head.constants.prototypes).toBe(prototypes);
    expect([...constantsUsed(head.loss)]).toEqual(['prototypes']);
    expect([...constantsUsed(head.scores)]).toEqual(['prototypes']);
  });

  // The loss (1 - cos(output, prototype of the label))^2 and the scores evaluated by core's float64 reference
  // interpreter on outputs typed here; every expected value is worked out by hand from the cosine.
  it('loss of output [3, 4, 0]: cos 0.6 to +e0 gives 0.16, cos 0.8 to +e1 gives 0.04, cos 0 to -e2 gives 1', () => {
    const loss = hpnValues([[3, 4, 0]], [0]).loss!;
    expect(loss.shape).toEqual([]);
    expect(loss.value).toBeCloseTo(0.16, 14);
    expect(hpnValues([[3, 4, 0]], [1]).loss!.value).toBeCloseTo(0.04, 14);
    expect(hpnValues([[3, 4, 0]], [2]).loss!.value).toBeCloseTo(1, 14);
  });

  it('is 0 on the prototype, 4 opposite it, and (1 - 1/sqrt 2)^2 = 1.5 - sqrt 2 at 45 degrees', () => {
    expect(hpnValues([[0, 0, -7]], [2]).loss!.value).toBeCloseTo(0, 14);
    expect(hpnValues([[0, -2, 0]], [1]).loss!.value).toBeCloseTo(4, 14);
    expect(hpnValues([[1, 1, 0]], [0]).loss!.value).toBeCloseTo(0.08578643762690485, 14);
  });

  it('averages over rows: [3, 4, 0] with label 0 and [0, -2, 0] with label 1 give (0.16 + 4) / 2 = 2.08', () => {
    const loss = hpnValues(
      [
        [3, 4, 0],
        [0, -2, 0],
      ],
      [0, 1],
    ).loss!;
    expect(loss.shape).toEqual([]);
    expect(loss.value).toBeCloseTo(2.08, 14);
  });

  it('ignores the output length: [30, 40, 0] costs what [3, 4, 0] does; a zero output is at cosine 0 (loss 1)', () => {
    expect(hpnValues([[30, 40, 0]], [0]).loss!.value).toBeCloseTo(0.16, 14);
    expect(hpnValues([[0.003, 0.004, 0]], [0]).loss!.value).toBeCloseTo(0.16, 14);
    expect(hpnValues([[0, 0, 0]], [0]).loss!.value).toBe(1);
  });

  it('scores are the cosines to every prototype, [N, C], without labels: [3, 4, 0] -> [0.6, 0.8, 0]', () => {
    const { scores } = hpnValues([
      [3, 4, 0],
      [0, 0, 2],
    ]);
    expect(scores.shape).toEqual([2, 3]);
    close(scores.data, [0.6, 0.8, 0, 0, 0, -1]);
  });

  it('uses the prototypes it was built with: fewer dims than classes, [C, D] = [3, 2]', () => {
    // Prototypes +e0, -e0, +e1 in 2 dims; output [1, 0] sits on class 0 and opposite class 1.
    const prototypes = createMatrix(3, 2, new Float32Array([1, 0, -1, 0, 0, 1]));
    const { loss, scores } = hpnValues([[1, 0]], [1], prototypes);
    expect(loss!.value).toBeCloseTo(4, 14);
    close(scores.data, [1, -1, 0]);
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
