import { datasetConformance } from '@hyperproto/plugin-testing';
import { describe, expect, it } from 'vitest';
import gaussianDataset from './index.js';

describe('gaussian dataset conformance', () => {
  const options = { classes: 10, inputWidth: 8, trainPerClass: 5, validationPerClass: 2, testPerClass: 3 };
  for (const c of datasetConformance(gaussianDataset, { options })) it(c.name, c.run);
});

describe('gaussian describe', () => {
  it('says the class count, train rows and width from the options, defaults filled', () => {
    expect(gaussianDataset.describe!({ classes: 1000 } as never)).toEqual({ classes: 1000, trainRows: 500_000, inputWidth: 300 });
    expect(gaussianDataset.describe!({ classes: 12, sigma: 2, trainPerClass: 7, inputWidth: 5 } as never)).toEqual({
      classes: 12,
      trainRows: 84,
      inputWidth: 5,
    });
  });
});
