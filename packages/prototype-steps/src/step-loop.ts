import { ErrorCode, HyperprotoError, type PluginContext } from '@hyperproto/core';

/** About this many progress reports per run: each one reads a value back from the engine, which syncs. */
const REPORTS_PER_RUN = 40;

/** Steps between progress reports. */
export function reportInterval(steps: number): number {
  return Math.max(1, Math.ceil(steps / REPORTS_PER_RUN));
}

export function throwIfAborted(ctx: PluginContext, done: number, steps: number): void {
  if (ctx.signal?.aborted) {
    throw new HyperprotoError(ErrorCode.Aborted, `prototype optimisation interrupted after ${done} of ${steps} steps`);
  }
}

/** Lets timers and signal handlers run (a Ctrl-C only aborts the signal once the event loop turns). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export function maxCosLabel(value: number): string {
  return `max cos ${value.toFixed(3)}`;
}

/** Fails on a NaN or infinite largest cosine, reports progress and lets pending signals arrive. */
export async function reportLargestCosine(ctx: PluginContext, source: string, largest: number, done: number, steps: number): Promise<void> {
  if (!Number.isFinite(largest)) {
    throw new HyperprotoError(ErrorCode.TrainingFailed, `${source}: the largest cosine became ${largest} after ${done} steps`, {
      hint: 'Lower the learning rate.',
    });
  }
  ctx.progress?.(done, steps, maxCosLabel(largest));
  await yieldToEventLoop();
}
