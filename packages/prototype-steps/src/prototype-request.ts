import { ErrorCode, HyperprotoError, type PrototypeRequest } from '@hyperproto/core';

/**
 * Refuses sizes no strategy can serve: fewer than 2 classes (nothing to separate) or fewer than 1 dimension.
 * Strategies call it first, since direct callers may skip the pipeline's own checks.
 */
export function checkPrototypeRequest({ classes, dims }: PrototypeRequest, source: string): void {
  if (!Number.isInteger(classes) || classes < 2 || !Number.isInteger(dims) || dims < 1) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${source} needs an integer number of classes >= 2 and dims >= 1, got ${classes} classes in ${dims} dimensions`,
      { hint: 'Pass --classes 2 or more and --dims 1 or more.' },
    );
  }
}
