import { ErrorCode, HyperprotoError } from './errors.js';

/**
 * Long numeric work written as a generator that yields between pieces of a few milliseconds: run to the end at once
 * ({@link finishSteps}), or with the event loop served between pieces ({@link finishStepsCooperatively}).
 */
export type Steps<T> = Generator<void, T, void>;

export function finishSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Longest run of steps between two turns of the event loop: short enough that Ctrl-C is heard at once. */
const SLICE_MS = 50;

/** Runs the steps, giving the event loop a turn every {@link SLICE_MS} and stopping with E_ABORTED once `signal` is aborted. */
export async function finishStepsCooperatively<T>(steps: Steps<T>, signal?: AbortSignal): Promise<T> {
  let since = performance.now();
  for (;;) {
    if (signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, 'interrupted');
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - since >= SLICE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      since = performance.now();
    }
  }
}
