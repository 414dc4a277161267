import { prototypeStrategyConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import codePrototypes from './index.js';

describe('codes prototypes conformance', () => {
  for (const c of prototypeStrategyConformance(codePrototypes)) it(c.name, c.run);
});
