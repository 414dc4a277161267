import { ErrorCode, HyperprotoError } from './errors.js';

/** Caps the threads of native compute sessions (onnxruntime) in this process or worker thread. */
export const THREADS_ENV = 'HYPERPROTO_THREADS';

/**
 * Threads a native compute session may use: `HYPERPROTO_THREADS` when set, else `available` (the cores this
 * process may use). The experiment runner sets it in each worker to its share of the cores, so that parallel runs
 * do not each start a pool as wide as the machine.
 */
export function computeThreads(available: number): number {
  const raw = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[THREADS_ENV];
  if (raw === undefined || raw === '') return available;
  const threads = Number(raw);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `${THREADS_ENV} must be a whole number of threads >= 1, got "${raw}"`, {
      hint: `Unset ${THREADS_ENV} to use every core.`,
    });
  }
  return threads;
}
