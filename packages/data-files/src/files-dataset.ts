import { defineDataset, type DatasetPlugin } from '@hyperproto/core';
import { fingerprintInputs } from './file-fingerprints.js';
import { inspectFilesDataset, loadFilesDataset } from './files-loader.js';
import { FilesOptionsSchema, type FilesOptions } from './files-options.js';

export const filesDataset: DatasetPlugin<FilesOptions> = defineDataset<FilesOptions>({
  name: 'files',
  summary: 'Your own features and labels from .npy, .csv or .jsonl files, split per class (seeded) unless split files are given',
  options: FilesOptionsSchema,
  // Only an inline list of class names fixes anything without reading a file: the class count.
  describe: ({ classNames }) => (Array.isArray(classNames) ? { classes: classNames.length } : {}),
  // Hashes each file the options name: what `--resume` compares with the `info.inputs` of finished runs.
  inputs: (options) => fingerprintInputs(options),
  // Reads the labels as generate does, so that a grid learns the class count (and refuses impossible prototype
  // sizes) before its first run.
  inspect: (options) => inspectFilesDataset(options),
  generate: (ctx, options) => loadFilesDataset(ctx, options),
});
