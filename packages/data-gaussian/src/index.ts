import { gaussianDataset } from './gaussian-dataset.js';

export default gaussianDataset;
export { gaussianDataset };
export {
  GaussianOptionsSchema,
  SEED_SIGMA_BY_CLASSES,
  defaultSigma,
  seedSigma,
  type GaussianOptions,
  type GaussianOptionsInput,
} from './gaussian-options.js';
export {
  bayesOptimalPredictions,
  drawCentres,
  drawSplit,
  generateGaussianDataset,
  REFERENCE_SCAN_FROM,
  resolveGaussianOptions,
  type GaussianDataset,
  type GaussianProgress,
  type ResolvedGaussianOptions,
} from './gaussian-clusters.js';
export { nearestCentre, type NearestCentreOptions } from './nearest-centre.js';
export { nearestCentreScan, nearestClassMeanScan, type NearestCentreScanOptions } from './nearest-centre-scan.js';
