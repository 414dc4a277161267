import { filesDataset } from './files-dataset.js';

export default filesDataset;
export { filesDataset };
export {
  FEATURE_FORMATS,
  FilesOptionsSchema,
  featureFormat,
  type FeatureFormat,
  type FilesOptions,
  type FilesOptionsInput,
} from './files-options.js';
export { loadFilesDataset } from './files-loader.js';
