import { defineDataset, type DatasetPlugin } from '@hyperproto/core';
import { generateGaussianDataset } from './gaussian-clusters.js';
import { GaussianOptionsSchema, type GaussianOptions } from './gaussian-options.js';

export const gaussianDataset: DatasetPlugin<GaussianOptions> = defineDataset<GaussianOptions>({
  name: 'gaussian',
  summary: "The seed's data: one Gaussian cluster per class (centres uniform in [-1, 1]^300), with a Bayes-optimal reference",
  options: GaussianOptionsSchema,
  describe: ({ classes, trainPerClass, inputWidth }) => ({ classes, trainRows: classes * trainPerClass, inputWidth }),
  generate(ctx, options) {
    return generateGaussianDataset(ctx.rng, options, { progress: ctx.progress, signal: ctx.signal });
  },
});
