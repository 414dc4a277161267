import type { PrototypeRequest } from '@hyperproto/core';

/** Beyond this many classes one dense C x C float32 similarity matrix exceeds 1.6 GB. */
export const MAX_DENSE_CLASSES = 20_000;

/** Why the request is too large for an optimiser that forms the full similarity matrix each step. */
export function denseSimilarityUnsupported({ classes }: PrototypeRequest): string | undefined {
  if (classes <= MAX_DENSE_CLASSES) return undefined;
  const gigabytes = (classes * classes * 4) / 1e9;
  return (
    `each step forms the dense ${classes} x ${classes} cosine-similarity matrix, which needs ` +
    `${gigabytes.toFixed(1)} GB (C^2 x 4 bytes) per copy; this strategy handles at most ${MAX_DENSE_CLASSES} classes`
  );
}
