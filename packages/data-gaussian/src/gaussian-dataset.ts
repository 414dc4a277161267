import { defineDataset, nearestClassMeanPredictions, type DatasetPlugin } from '@hyperproto/core';
import { generateGaussianDataset, REFERENCE_SCAN_FROM } from './gaussian-clusters.js';
import { GaussianOptionsSchema, type GaussianOptions } from './gaussian-options.js';
import { nearestClassMeanScan } from './nearest-centre-scan.js';

export const gaussianDataset: DatasetPlugin<GaussianOptions> = defineDataset<GaussianOptions>({
  name: 'gaussian',
  summary: "The seed's data: one Gaussian cluster per class (centres uniform in [-1, 1]^300), with a Bayes-optimal reference",
  options: GaussianOptionsSchema,
  describe: ({ classes, trainPerClass, inputWidth }) => ({ classes, trainRows: classes * trainPerClass, inputWidth }),
  generate(ctx, options) {
    return generateGaussianDataset(ctx.rng, options, { progress: ctx.progress, signal: ctx.signal, threads: ctx.threads });
  },
  // At 100,000 classes the plain loop over every test row and class mean would take longer than training.
  async classMeanPredictions(ctx, train, features, classes) {
    if (features.rows * classes * features.cols < REFERENCE_SCAN_FROM) {
      return nearestClassMeanPredictions(train, features, classes, ctx.signal);
    }
    return nearestClassMeanScan(train, features, classes, { threads: ctx.threads, signal: ctx.signal, progress: ctx.progress });
  },
});
