import { ErrorCode, HyperprotoError } from './errors.js';
import type { Matrix } from './matrix.js';
import type { DatasetSplit } from './plugins.js';

const ROWS_PER_BLOCK = 256;

/**
 * The nearest-class-mean rule: each class's mean training feature vector, and for every row of `features` the class
 * whose mean is nearest in Euclidean distance. The cheapest honest baseline a model has to beat, for any dataset:
 * one pass over the training rows, then argmax_c (x . m_c - |m_c|^2 / 2), which orders classes as the distance does.
 * Sums are in float64; a class without training rows is never predicted.
 */
export function nearestClassMeanPredictions(train: DatasetSplit, features: Matrix, classes: number, signal?: AbortSignal): Int32Array {
  const width = train.features.cols;
  const { means, halfSquaredNorms } = classMeans(train, features, classes);

  const predictions = new Int32Array(features.rows);
  for (let start = 0; start < features.rows; start += ROWS_PER_BLOCK) {
    if (signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, 'interrupted');
    const end = Math.min(features.rows, start + ROWS_PER_BLOCK);
    for (let row = start; row < end; row++) {
      const x = features.data.subarray(row * width, (row + 1) * width);
      let best = -1;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < classes; c++) {
        let dot = 0;
        const base = c * width;
        for (let k = 0; k < width; k++) dot += x[k]! * means[base + k]!;
        const score = dot - halfSquaredNorms[c]!;
        if (score > bestScore) [best, bestScore] = [c, score];
      }
      predictions[row] = best;
    }
  }
  return predictions;
}

/**
 * Each class's mean training row and half its squared norm, summed in float64 in training-row order; a class without
 * training rows gets an infinite half norm, so that it is never the nearest. `features`, the rows the means will
 * classify, must have the training split's width.
 */
export function classMeans(
  train: DatasetSplit,
  features: Matrix,
  classes: number,
): { means: Float64Array; halfSquaredNorms: Float64Array } {
  const width = train.features.cols;
  if (features.cols !== width) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `class-mean baseline: ${features.cols} features per row, the training split has ${width}`,
    );
  }
  const sums = new Float64Array(classes * width);
  const counts = new Float64Array(classes);
  for (let row = 0; row < train.labels.length; row++) {
    const label = train.labels[row]!;
    counts[label]!++;
    const base = row * width;
    const into = label * width;
    for (let k = 0; k < width; k++) sums[into + k]! += train.features.data[base + k]!;
  }
  const means = new Float64Array(classes * width);
  const halfSquaredNorms = new Float64Array(classes).fill(Number.POSITIVE_INFINITY);
  for (let c = 0; c < classes; c++) {
    if (counts[c] === 0) continue;
    let squared = 0;
    for (let k = 0; k < width; k++) {
      const mean = sums[c * width + k]! / counts[c]!;
      means[c * width + k] = mean;
      squared += mean * mean;
    }
    halfSquaredNorms[c] = squared / 2;
  }
  return { means, halfSquaredNorms };
}
