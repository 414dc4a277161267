import { prototypeStrategyConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import spreadPrototypes from './index.js';

describe('spread prototypes conformance', () => {
  // Few steps: the suite checks the contract, not how well the rows are spread.
  for (const c of prototypeStrategyConformance(spreadPrototypes, { options: { steps: 20 } })) it(c.name, c.run);
});
