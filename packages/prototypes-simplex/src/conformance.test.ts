import { prototypeStrategyConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import simplexPrototypes from './index.js';

describe('simplex prototypes conformance', () => {
  for (const c of prototypeStrategyConformance(simplexPrototypes)) it(c.name, c.run);
});
