import { headConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import cosineSoftmaxHead from './index.js';

describe('cosine-softmax head conformance', () => {
  // Signed axes (4 classes in 3 dims), then seeded random rows (10 classes in 3 dims), fixed and learned scale.
  for (const c of headConformance(cosineSoftmaxHead)) it(c.name, c.run);
  for (const c of headConformance(cosineSoftmaxHead, { classes: 10, dims: 3 })) it(`random prototypes: ${c.name}`, c.run);
  for (const c of headConformance(cosineSoftmaxHead, { classes: 10, dims: 3, options: { learnScale: true, scale: 4 } }))
    it(`learned scale: ${c.name}`, c.run);
  for (const c of headConformance(cosineSoftmaxHead, { classes: 10, dims: 3, options: { sampledShare: 0.3 } }))
    it(`sampledShare 0.3: ${c.name}`, c.run);
});
