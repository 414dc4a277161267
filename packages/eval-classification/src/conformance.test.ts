import { evaluatorConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import classificationEvaluator from './index.js';

describe('classification evaluator conformance', () => {
  for (const c of evaluatorConformance(classificationEvaluator)) it(c.name, c.run);
  for (const c of evaluatorConformance(classificationEvaluator, { options: { perClass: false } }))
    it(`without per-class scores: ${c.name}`, c.run);
});
