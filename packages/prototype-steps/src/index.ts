export { drawGaussianRows, drawGaussianUnitRows, toUnitRows } from './gaussian-rows.js';
export { maxCosLabel, reportInterval, reportLargestCosine, throwIfAborted, yieldToEventLoop } from './step-loop.js';
export { denseSimilarityUnsupported, MAX_DENSE_CLASSES } from './dense-similarity-limit.js';
export { checkPrototypeRequest } from './prototype-request.js';
