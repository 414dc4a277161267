import type { PrototypeRequest } from '@hyperproto/core';

/**
 * Most classes a strategy that scans every pair of prototypes each step will take: at 20,000 classes one step is
 * 2e8 pairs, and 1,000 steps at D = 100 already take minutes of CPU time on a few cores.
 */
export const MAX_ALL_PAIRS_CLASSES = 20_000;

/** Why the request is too large for an optimiser that scans all C (C - 1) / 2 pairs every step. */
export function allPairsUnsupported({ classes }: PrototypeRequest): string | undefined {
  if (classes <= MAX_ALL_PAIRS_CLASSES) return undefined;
  const pairs = (classes * (classes - 1)) / 2;
  return (
    `each step scans all ${pairs.toExponential(1)} pairs of ${classes} prototypes, so the time grows with the ` +
    `square of the class count; this strategy handles at most ${MAX_ALL_PAIRS_CLASSES} classes`
  );
}
