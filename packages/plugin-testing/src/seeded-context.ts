import { createRng, type PluginContext } from '@hyperproto/core';

/** A fresh context for each call, so that two calls with one seed start from the same random stream. */
export function seededContext(seed: number, extra: Partial<PluginContext> = {}): PluginContext {
  return { seed, rng: createRng(seed), ...extra };
}
