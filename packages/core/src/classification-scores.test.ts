import { describe, expect, it } from 'vitest';
import { CLASSIFICATION_EVALUATOR, classificationMetrics, classificationScores } from './classification-scores.js';
import { parseExperimentSpec } from './spec.js';

describe('classificationScores', () => {
  it("reads the classification evaluator's accuracy and macro-F1 from an outcome's metrics, typed", () => {
    // 3 of 4 right; F1 per class: 2/3, 4/5, 0 (class 2 has no rows and is never predicted).
    const classification = classificationMetrics(3, Int32Array.from([0, 0, 1, 1]), Int32Array.from([0, 1, 1, 1]));
    const scores = classificationScores({ [CLASSIFICATION_EVALUATOR]: classification, other: { x: 1 } });
    expect(scores).toEqual({ accuracy: 0.75, macroF1: (2 / 3 + 0.8 + 0) / 3 });
    const f1: number | undefined = scores?.macroF1;
    expect(f1).toBeCloseTo(0.4888889, 6);
  });

  it('is undefined without that evaluator, for absent metrics, and when the values are not finite numbers', () => {
    expect(classificationScores({ worstRecall: { recall: 0.5 } })).toBeUndefined();
    expect(classificationScores(undefined)).toBeUndefined();
    expect(classificationScores({ classification: { accuracy: '0.9', macroF1: 0.9 } })).toBeUndefined();
    expect(classificationScores({ classification: { accuracy: 0.9, macroF1: Number.NaN } })).toBeUndefined();
  });

  it('reads the evaluator that specs run by default', () => {
    expect(parseExperimentSpec({ dataset: { name: 'g' }, head: { name: 'h' } }).evaluators).toEqual([
      { name: CLASSIFICATION_EVALUATOR, options: {} },
    ]);
  });
});
