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
// Also the CLI's reader of feature rows for `predict`: one definition of a decimal feature field.
export { isDecimalNumber, looksNumeric, parseDecimalField } from './decimal-field.js';
