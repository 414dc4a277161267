import { headConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import softmaxHead from './index.js';

describe('softmax head conformance', () => {
  for (const c of headConformance(softmaxHead)) it(c.name, c.run);
  for (const c of headConformance(softmaxHead, { classes: 2 })) it(`2 classes: ${c.name}`, c.run);
});
