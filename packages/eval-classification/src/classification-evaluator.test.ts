import { createRegistry, ErrorCode, resolveOptions } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import evaluator from './index.js';

const labels = Int32Array.from([0, 1, 2, 2]);
const predictions = Int32Array.from([0, 1, 2, 1]);
const history = [
  { epoch: 1, trainLoss: 1, validationLoss: 1, validationAccuracy: 0.4, seconds: 0.5 },
  { epoch: 2, trainLoss: 0.5, validationLoss: 0.7, validationAccuracy: 0.6, seconds: 1.5 },
];

describe('classification evaluator', () => {
  it('registers as evaluator:classification, the default evaluator of a spec', () => {
    const registry = createRegistry(evaluator);
    expect(registry.get('evaluator', 'classification')).toBe(evaluator);
  });

  it('returns plain JSON with the convergence fields when a history is given', () => {
    const options = resolveOptions(evaluator, {});
    const report = evaluator.evaluate({ classes: 3, labels, predictions, history, bestEpoch: 2 }, options);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    // class 0: F1 1; class 1: P 1/2, R 1, F1 2/3; class 2: P 1, R 1/2, F1 2/3 -> macro-F1 (1 + 4/3) / 3 = 7/9.
    expect(report).toMatchObject({ accuracy: 0.75, bestEpoch: 2, epochs: 2, secondsPerEpoch: 1 });
    expect(report.macroF1).toBeCloseTo(7 / 9, 12);
    expect(report.perClass).toHaveLength(3);
  });

  it('leaves out the convergence fields without a history (e.g. for a reference rule)', () => {
    const report = evaluator.evaluate({ classes: 3, labels, predictions }, resolveOptions(evaluator, { perClass: false }));
    expect(Object.keys(report).sort()).toEqual(['accuracy', 'macroF1']);
  });

  it('validates its options', () => {
    for (const raw of [{ perClass: 'no' }, { perClass: 1 }, { perclass: false }]) {
      expect(() => resolveOptions(evaluator, raw)).toThrowError(
        expect.objectContaining({ code: ErrorCode.InvalidOptions, message: expect.stringMatching(/^evaluator:classification.*perclass/i) }),
      );
    }
  });
});
