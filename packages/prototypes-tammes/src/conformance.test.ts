import { prototypeStrategyConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import tammesPrototypes from './index.js';

describe('tammes prototypes conformance', () => {
  // Few steps: the suite checks the contract, not how well the rows are spread.
  for (const c of prototypeStrategyConformance(tammesPrototypes, { options: { steps: 20 } })) it(c.name, c.run);
});
