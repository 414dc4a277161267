export { encodeNpy, fortranToRowMajor, npyHeader, parseNpy, type NpyArray } from './npy-format.js';
export { readMatrixNpy, writeMatrixNpy } from './npy-files.js';
