import { availableParallelism } from 'node:os';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';

/** Caps the native compute threads (onnxruntime sessions) of a command; read here and nowhere else. */
export const THREADS_ENV = 'HYPERPROTO_THREADS';

/**
 * Most native threads a command may be asked for (`predict --threads`, `worker --threads`, HYPERPROTO_THREADS): beyond
 * a few per core onnxruntime only adds contention, and thousands of threads stall the process.
 */
export const MAX_THREADS = availableParallelism() * 4;

/** The user's cap from HYPERPROTO_THREADS, or undefined when it is not set. */
function userThreadCap(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[THREADS_ENV];
  if (raw === undefined || raw === '') return undefined;
  const threads = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `${THREADS_ENV} must be a whole number of threads from 1 to ${MAX_THREADS} (4 x the ${availableParallelism()} cores), got "${raw}"`,
      { hint: `Unset ${THREADS_ENV} to use every core.` },
    );
  }
  return threads;
}

/** The native threads one command may use: the user's cap, else every core this process may use. */
export function threadBudget(env: NodeJS.ProcessEnv = process.env): number {
  return userThreadCap(env) ?? availableParallelism();
}
