export {
  checkNpyLength,
  encodeNpy,
  fortranToRowMajor,
  NPY_PREAMBLE_BYTES,
  npyDataOffset,
  npyHeader,
  parseNpy,
  parseNpyHeader,
  pythonShape,
  type NpyArray,
  type NpyHeader,
} from './npy-format.js';
export { readMatrixNpy, writeMatrixNpy, type ReadMatrixOptions } from './npy-files.js';
export { writeFileAtomic } from './atomic-file.js';
export { inputFileSize, openInputFile, readInto, requireRegularFile, type InputFileLabels } from './input-file.js';
