import { ErrorCode, isHyperprotoError, runExperiment, type ExperimentSpec, type Registry } from '@hyperproto/core';
import { recordFromOutcome, type RunIdentity, type RunRecord, type RunVersions } from './run-record.js';

/** A run as sent to whoever executes it (a worker thread or this thread): plain data. */
export interface RunOrder extends RunIdentity {
  readonly spec: ExperimentSpec;
}

/** A failure as plain data (errors do not cross threads with their class). */
export interface RunFailure {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

export interface RunHooks {
  readonly signal?: AbortSignal;
  readonly progress?: (stage: string, done: number, total: number) => void;
  readonly log?: (message: string) => void;
}

/** Runs one experiment of the grid and turns its outcome into a record. */
export async function executeRun(registry: Registry, order: RunOrder, versions: RunVersions, hooks: RunHooks = {}): Promise<RunRecord> {
  const outcome = await runExperiment(registry, order.spec, {
    signal: hooks.signal,
    progress: hooks.progress,
    log: hooks.log,
  });
  try {
    return recordFromOutcome(order, outcome, versions);
  } finally {
    outcome.training.model.dispose();
  }
}

export function failureOf(error: unknown): RunFailure {
  if (isHyperprotoError(error)) return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: ErrorCode.Internal, message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
}
