import type { Matrix } from '@hyperproto/core';

export interface PrototypeStats {
  readonly classes: number;
  readonly dims: number;
  /** Largest cosine similarity over all pairs. */
  readonly maxCosine: number;
  /** Mean over prototypes of the cosine to its nearest neighbour. */
  readonly meanNearestCosine: number;
  /** Mean | ||p|| - 1 | over rows. */
  readonly meanNormDeviation: number;
  /** The best possible largest cosine for C points: -1/(C-1), reachable when D >= C-1. */
  readonly simplexBound: number;
}

const BLOCK = 64;

/** Exact statistics by a scan over all pairs in blocks of rows (never the whole C x C matrix in memory). */
export function prototypeStats(prototypes: Matrix): PrototypeStats {
  const { rows: c, cols: d, data } = prototypes;
  const norms = new Float64Array(c);
  let normDeviation = 0;
  for (let i = 0; i < c; i++) {
    let sum = 0;
    for (let k = 0; k < d; k++) sum += data[i * d + k]! ** 2;
    norms[i] = Math.sqrt(sum) || 1;
    normDeviation += Math.abs(Math.sqrt(sum) - 1);
  }
  const nearest = new Float64Array(c).fill(-Infinity);
  for (let i0 = 0; i0 < c; i0 += BLOCK) {
    const i1 = Math.min(c, i0 + BLOCK);
    for (let j0 = i0; j0 < c; j0 += BLOCK) {
      const j1 = Math.min(c, j0 + BLOCK);
      for (let i = i0; i < i1; i++) {
        const rowI = i * d;
        for (let j = Math.max(j0, i + 1); j < j1; j++) {
          const rowJ = j * d;
          let dot = 0;
          for (let k = 0; k < d; k++) dot += data[rowI + k]! * data[rowJ + k]!;
          const cos = dot / (norms[i]! * norms[j]!);
          if (cos > nearest[i]!) nearest[i] = cos;
          if (cos > nearest[j]!) nearest[j] = cos;
        }
      }
    }
  }
  let maxCosine = -Infinity;
  let sumNearest = 0;
  for (const value of nearest) {
    maxCosine = Math.max(maxCosine, value);
    sumNearest += value;
  }
  return {
    classes: c,
    dims: d,
    maxCosine,
    meanNearestCosine: sumNearest / c,
    meanNormDeviation: normDeviation / c,
    simplexBound: -1 / (c - 1),
  };
}
