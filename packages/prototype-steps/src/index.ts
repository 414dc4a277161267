export { drawGaussianRows, drawGaussianUnitRows, toUnitRows, unitRowsAndNorms } from './gaussian-rows.js';
export { maxCosLabel, reportInterval, reportLargestCosine, throwIfAborted, yieldToEventLoop } from './step-loop.js';
export { allPairsUnsupported, MAX_ALL_PAIRS_CLASSES } from './all-pairs-limit.js';
export { defineAllPairsStrategy, type AllPairsStrategy } from './all-pairs-strategy.js';
export { checkPrototypeRequest } from './prototype-request.js';
export { descendLargestCosine, meanLargestCosineGradient, type LargestCosineDescent } from './largest-cosine-descent.js';
