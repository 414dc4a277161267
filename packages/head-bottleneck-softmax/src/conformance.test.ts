import { headConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import bottleneckSoftmaxHead from './index.js';

describe('bottleneck-softmax head conformance', () => {
  // Its classifier and bias start from the suite's seeded draws, as an engine starts them.
  for (const c of headConformance(bottleneckSoftmaxHead, { options: { dims: 3 } })) it(c.name, c.run);
  for (const c of headConformance(bottleneckSoftmaxHead, { classes: 10, options: { dims: 20 } }))
    it(`10 classes, D = 20: ${c.name}`, c.run);
  // Sampled: the suite sees every class (no sample is drawn outside training), as validation does.
  for (const c of headConformance(bottleneckSoftmaxHead, { classes: 10, options: { dims: 20, sampledShare: 0.2 } }))
    it(`sampledShare 0.2: ${c.name}`, c.run);
});
