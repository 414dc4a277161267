import { createMatrix, h, type HeadDefinition } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { headValues } from './index.js';

/** Loss: the mean of the output picked at each label, times the parameter t; scores: the output less row 0 of `shift`. */
const head: HeadDefinition = {
  outputUnits: 2,
  loss: h.mul(h.param('t', 2), h.mean(h.pickPerRow(h.output(), h.labels()))),
  scores: h.sub(h.output(), h.constant('shift')),
  scoresName: 'scores',
  constants: { shift: createMatrix(1, 2, Float32Array.of(1, 10)) },
};

describe('headValues', () => {
  it("evaluates the head's scores with its constants, and no loss without labels", () => {
    expect(
      headValues(head, [
        [3, 4],
        [5, 6],
      ]),
    ).toEqual({ scores: { shape: [2, 2], data: [2, -6, 4, -4] } });
  });

  it('evaluates the loss as a scalar with labels, parameters at their start value unless given', () => {
    const rows = [
      [3, 4],
      [5, 6],
    ];
    // Labels [1, 0] pick 4 and 5: mean 4.5, times t.
    expect(headValues(head, rows, [1, 0]).loss).toEqual({ shape: [], value: 9 });
    expect(headValues(head, rows, [1, 0], { t: -1 }).loss).toEqual({ shape: [], value: -4.5 });
  });
});
