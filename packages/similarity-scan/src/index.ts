export {
  MAX_HISTOGRAM_BINS,
  SimilarityScanner,
  withScanner,
  type CosineHistogram,
  type CosineSummary,
  type NeighbourLists,
  type ScanControl,
  type ScannerOptions,
} from './similarity-scanner.js';
export { cosineBounds, type CosineBounds } from './cosine-bounds.js';
export { exactCosine, toUnitRows, type UnitRows } from './unit-rows.js';
export { cosineTileModel, nearestStripeModel, SCAN_OPSET, type CosineTileGraph } from './scan-graphs.js';
