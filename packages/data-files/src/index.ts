import { filesDataset } from './files-dataset.js';

export default filesDataset;
export { filesDataset };
export {
  FEATURE_FORMATS,
  FilesOptionsSchema,
  featureFormat,
  labelColumnName,
  type FeatureFormat,
  type FilesOptions,
  type FilesOptionsInput,
} from './files-options.js';
// `predict --labels` reads labels and checks their count against the rows as a split's labels file is.
export { checkLabelCount, loadFilesDataset, readLabelsFile, type LabelledRows } from './files-loader.js';
// `predict --labels` maps labels to a model's classes by the very rules, and messages, of training.
export { indexClasses, type ClassIndex } from './class-index.js';
// `export --class-names` reads a file of class names as training's `classNames` is read: same names, same refusals.
export { readClassNames, type ClassNamesLabels } from './class-names.js';
export type { LabelValues } from './label-values.js';
// One definition of a decimal number for the CLI too, and `predict --input` rows read by this dataset's parsers.
export { isDecimalNumber, looksNumeric, parseDecimalField } from './decimal-field.js';
export { parseFeatureText, parseLabelledFeatureText, type LabelledTextFeatures, type TextFeatures } from './feature-text.js';
// One comparison of a header's names with those expected, worded alike for a split file and for `predict --input`.
export { columnNamesDifference, type ColumnNamesDifference } from './column-names.js';
export { nameList } from './csv-features.js';
// One rule for a path that is there but is no readable file (a directory): E_IO before its name's type is judged.
export { unreadableAsFile } from './file-size.js';
export type { CsvHeader } from './feature-table.js';
export type { CsvHeaderRead } from './csv-features.js';
// `predict --input` reads text files whole: UTF-8 only, refused as the dataset refuses them.
export { decodeTextFile } from './text-lines.js';
