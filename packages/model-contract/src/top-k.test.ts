import { describe, expect, it } from 'vitest';
import { argmaxOfScores, checkTopK, narrowTopK, topKOfScores } from './index.js';

const f32 = (values: number[]) => Float32Array.from(values);

describe('topKOfScores', () => {
  it('gives the best classes of each row, best first, with their scores', () => {
    const scores = f32([0.1, 0.7, 0.2, 0.9, 0.05, 0.6]);
    const top = topKOfScores(scores, 2, 3, 2);
    expect(top.k).toBe(2);
    expect([...top.labels]).toEqual([1, 2, 0, 2]);
    expect([...top.scores]).toEqual([0.7, 0.2, 0.9, 0.6].map(Math.fround));
  });

  it('puts the lower class first among equal scores, as ONNX ArgMax and TopK do', () => {
    const scores = f32([0.2, 0.5, 0.5, 0.1, 0.5, 0, 0, 0, 0, 0]);
    expect([...topKOfScores(scores, 1, 10, 2).labels]).toEqual([1, 2]);
    expect([...topKOfScores(scores, 1, 10, 4).labels]).toEqual([1, 2, 4, 0]);
    expect([...topKOfScores(scores, 1, 10, 7).labels]).toEqual([1, 2, 4, 0, 3, 5, 6]);
    expect([...topKOfScores(f32([3, 3, 3, 3]), 1, 4, 4).labels]).toEqual([0, 1, 2, 3]);
    expect([...argmaxOfScores(f32([1, 4, 4, -1, -1, -2]), 2, 3)]).toEqual([1, 0]);
  });

  it('orders negative scores and keeps the k largest when they come last', () => {
    const top = topKOfScores(f32([-3, -1, -2, 5, 4]), 1, 5, 3);
    expect([...top.labels]).toEqual([3, 4, 1]);
    expect([...top.scores]).toEqual([5, 4, -1]);
  });

  it('clamps k to the class count', () => {
    const top = topKOfScores(f32([0.3, 0.7]), 1, 2, 5);
    expect(top.k).toBe(2);
    expect([...top.labels]).toEqual([1, 0]);
  });

  it('agrees with a full sort on many rows with frequent ties', () => {
    let state = 17;
    const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) % 6) / 4;
    const rows = 40;
    const classes = 13;
    const scores = Float32Array.from({ length: rows * classes }, next);
    for (const k of [1, 3, 13]) {
      const top = topKOfScores(scores, rows, classes, k);
      for (let r = 0; r < rows; r++) {
        const ranked = Array.from({ length: classes }, (_, c) => c).sort(
          (a, b) => scores[r * classes + b]! - scores[r * classes + a]! || a - b,
        );
        expect([...top.labels.subarray(r * k, (r + 1) * k)]).toEqual(ranked.slice(0, k));
      }
    }
  });
});

describe('narrowTopK', () => {
  it('keeps the first k columns of a wider top-k', () => {
    const narrow = narrowTopK(Int32Array.from([2, 0, 1, 1, 2, 0]), f32([0.9, 0.5, 0.1, 0.8, 0.15, 0.05]), 2, 3, 2);
    expect(narrow.k).toBe(2);
    expect([...narrow.labels]).toEqual([2, 0, 1, 2]);
    expect([...narrow.scores]).toEqual([0.9, 0.5, 0.8, 0.15].map(Math.fround));
    const same = Int32Array.from([1]);
    expect(narrowTopK(same, f32([1]), 1, 1, 1).labels).toBe(same);
  });
});

describe('checkTopK', () => {
  it('accepts 1 to the class count and refuses anything else with E_INVALID_INPUT', () => {
    expect(checkTopK(1, 5)).toBe(1);
    expect(checkTopK(5, 5)).toBe(5);
    for (const k of [0, 6, 2.5, Number.NaN, -1]) {
      expect(() => checkTopK(k, 5)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_INPUT', message: `top-k must be an integer from 1 to the model's 5 classes, got ${k}` }),
      );
    }
  });
});
