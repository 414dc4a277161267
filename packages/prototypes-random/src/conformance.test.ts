import { prototypeStrategyConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import randomPrototypes from './index.js';

describe('random prototypes conformance', () => {
  for (const c of prototypeStrategyConformance(randomPrototypes)) it(c.name, c.run);
});
