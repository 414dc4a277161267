// The HPN reference procedure (Mettes et al., 2019, prototypes.py), implemented straight: from normalised
// N(0, I) rows, minimise the mean over rows of the largest cosine to another row (+1) by plain SGD (the published
// script rebuilds its optimiser every epoch, so its momentum never accumulates), renormalising after each step.
// Every step needs each row's nearest other row over the full C x C similarities: computed exactly by the blocked
// scan (in tiles, since C x C does not fit in memory at 100,000 classes).
import { createMatrix } from '@hyperproto/core';
import { drawGaussianUnitRows } from '@hyperproto/prototype-steps';
import { withScanner } from '@hyperproto/similarity-scan';

/** Runs steps until `seconds` have passed (at least one); returns the rows and the steps done. */
export async function hpnReference(rng, classes, dims, seconds, learningRate = 0.1) {
  const rows = drawGaussianUnitRows(rng, classes, dims).data;
  const gradient = new Float64Array(classes * dims);
  const started = performance.now();
  let steps = 0;
  await withScanner(async (scanner) => {
    do {
      const { nearestIndex } = await scanner.summarize(createMatrix(classes, dims, rows));
      gradient.fill(0);
      // d/dp of (1/C) sum_i p_i . p_n(i): p_n(i) for row i and p_i for row n(i).
      for (let i = 0; i < classes; i++) {
        const j = nearestIndex[i];
        for (let t = 0; t < dims; t++) {
          gradient[i * dims + t] += rows[j * dims + t] / classes;
          gradient[j * dims + t] += rows[i * dims + t] / classes;
        }
      }
      for (let i = 0; i < classes; i++) {
        let norm = 0;
        for (let t = 0; t < dims; t++) norm += (rows[i * dims + t] - learningRate * gradient[i * dims + t]) ** 2;
        norm = Math.sqrt(norm);
        for (let t = 0; t < dims; t++) rows[i * dims + t] = (rows[i * dims + t] - learningRate * gradient[i * dims + t]) / norm;
      }
      steps++;
    } while ((performance.now() - started) / 1000 < seconds);
  });
  return { prototypes: createMatrix(classes, dims, rows), steps };
}
