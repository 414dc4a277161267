export { encodeNpy, fortranToRowMajor, npyHeader, parseNpy, parseNpyHeader, type NpyArray, type NpyHeader } from './npy-format.js';
export { readMatrixNpy, writeMatrixNpy } from './npy-files.js';
export { writeFileAtomic } from './atomic-file.js';
