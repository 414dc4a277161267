import { datasetConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import gaussianDataset from './index.js';

describe('gaussian dataset conformance', () => {
  const options = { classes: 10, inputWidth: 8, trainPerClass: 5, validationPerClass: 2, testPerClass: 3 };
  for (const c of datasetConformance(gaussianDataset, { options })) it(c.name, c.run);
});
