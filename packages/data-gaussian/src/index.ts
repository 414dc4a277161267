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
  drawCentres,
  drawSplit,
  generateGaussianDataset,
  resolveGaussianOptions,
  type GaussianDataset,
  type GaussianProgress,
  type ResolvedGaussianOptions,
} from './gaussian-clusters.js';
export { nearestCentre, type NearestCentreOptions } from './nearest-centre.js';
