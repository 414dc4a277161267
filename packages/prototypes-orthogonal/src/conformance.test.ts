import { prototypeStrategyConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import orthogonalPrototypes from './index.js';

describe('orthogonal prototypes conformance', () => {
  for (const c of prototypeStrategyConformance(orthogonalPrototypes)) it(c.name, c.run);
});
