import {
  definePrototypeStrategy,
  prototypeMatrixProblem,
  type Matrix,
  type OptionsSchema,
  type PluginContext,
  type PrototypeRequest,
  type PrototypeStrategy,
} from '@hyperproto/core';
import { allPairsUnsupported } from './all-pairs-limit.js';
import { checkPrototypeRequest } from './prototype-request.js';

/** What an all-pairs optimiser brings of its own; the size checks around it are the same for every such strategy. */
export interface AllPairsStrategy<O> {
  readonly name: string;
  readonly summary: string;
  readonly options: OptionsSchema<O>;
  /** C x D unit rows for a request already checked: 2 <= C <= MAX_ALL_PAIRS_CLASSES, D >= 1. */
  optimize(ctx: PluginContext, request: PrototypeRequest, options: O): Promise<Matrix>;
}

/**
 * A prototype strategy that scans every pair of prototypes each step: it refuses more than MAX_ALL_PAIRS_CLASSES
 * classes, and a matrix too large for its rows, optimiser state and float64 gradients, before `optimize` runs.
 */
export function defineAllPairsStrategy<O>({ name, summary, options, optimize }: AllPairsStrategy<O>): PrototypeStrategy<O> {
  const source = `prototypes:${name}`;
  return definePrototypeStrategy({
    name,
    summary,
    options,
    // Rows, optimiser state and float64 gradients: about 32 bytes a value.
    unsupported: (request) => allPairsUnsupported(request) ?? prototypeMatrixProblem(request, 32),
    // The plugin boundary asks `unsupported` before this runs; the request check is for sizes no strategy serves.
    async generate(ctx, request, resolved): Promise<Matrix> {
      checkPrototypeRequest(request, source);
      return optimize(ctx, request, resolved);
    },
  });
}
