import { prototypeStrategyConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import orthoplexPrototypes from './index.js';

describe('orthoplex prototypes conformance', () => {
  for (const c of prototypeStrategyConformance(orthoplexPrototypes)) it(c.name, c.run);
});
