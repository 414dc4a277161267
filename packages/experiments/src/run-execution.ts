import { mkdir } from 'node:fs/promises';
import {
  derivedInputKey,
  ErrorCode,
  HyperprotoError,
  isHyperprotoError,
  prototypeGeometryAsync,
  runExperiment,
  type ExperimentInputs,
  type ExperimentOutcome,
  type ExperimentSpec,
  type Registry,
} from '@hyperproto/core';
import type { RunWriter } from './registry-module.js';
import { recordFromOutcome, type MeasuredGeometry, type RunIdentity, type RunProvenance, type RunRecord } from './run-record.js';
import type { ModelPlacement } from './saved-models.js';

/** A run as sent to whoever executes it (a worker thread or this thread): plain data. */
export interface RunOrder extends RunIdentity {
  readonly spec: ExperimentSpec;
  /** Where to write the run's directory (model and files) for the runner to move into place; absent: keep nothing. */
  readonly save?: ModelPlacement;
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
  /** Writes the run directory of an order with `save` (from the registry module). */
  readonly writeRun?: RunWriter;
  /** Native compute threads the run may use; absent: every core. */
  readonly threads?: number;
  /** The worker's store of datasets, prototype sets and what is derived from them, shared by its runs. */
  readonly inputs?: ExperimentInputs;
}

/**
 * Runs one experiment of the grid and turns its outcome into a record. The trained model exists only here (in the
 * worker's thread), so an order with `save` has its directory written here too, before the model is disposed.
 */
export async function executeRun(registry: Registry, order: RunOrder, provenance: RunProvenance, hooks: RunHooks = {}): Promise<RunRecord> {
  const outcome = await runExperiment(registry, order.spec, {
    signal: hooks.signal,
    progress: hooks.progress,
    log: hooks.log,
    ...(hooks.threads ? { threads: hooks.threads } : {}),
    ...(hooks.inputs ? { inputs: hooks.inputs } : {}),
  });
  try {
    const record = recordFromOutcome(
      order,
      outcome,
      provenance,
      new Date(),
      await measureGeometry(order, outcome, hooks.inputs, hooks.signal),
    );
    if (order.save) await saveRun(order, order.save, outcome, hooks.writeRun);
    return record;
  } finally {
    outcome.training.model.dispose();
  }
}

/**
 * The prototype geometry of the record, measured here in the run's thread (0.7 s of one core for 1,000 x 1,000
 * prototypes, up to about a minute at the work limit) with the event loop served and `signal` heard: a function of
 * the prototype set alone, so runs over the same set share it through the store.
 */
async function measureGeometry(
  run: RunIdentity,
  outcome: ExperimentOutcome,
  inputs: ExperimentInputs | undefined,
  signal: AbortSignal | undefined,
): Promise<MeasuredGeometry> {
  const started = performance.now();
  const measure = async () =>
    outcome.prototypes ? prototypeGeometryAsync(outcome.prototypes, { source: `the prototypes of ${run.key}`, signal }) : null;
  const key = derivedInputKey('geometry', outcome.inputKeys.prototypes);
  const { value, reused } = inputs && key ? await inputs.reuse(key, measure) : { value: await measure(), reused: false };
  return { geometry: value, seconds: (performance.now() - started) / 1000, reused };
}

async function saveRun(
  run: RunIdentity,
  placement: ModelPlacement,
  outcome: ExperimentOutcome,
  write: RunWriter | undefined,
): Promise<void> {
  if (!write)
    throw new HyperprotoError(ErrorCode.Internal, `cannot save the model of ${run.key}: the registry module has no writeRunDirectory`);
  try {
    await mkdir(placement.dir, { recursive: true });
    await write(placement.dir, outcome, placement.target);
  } catch (error) {
    if (isHyperprotoError(error)) throw error;
    throw new HyperprotoError(ErrorCode.Io, `cannot save the model of ${run.key} into ${placement.dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

export function failureOf(error: unknown): RunFailure {
  if (isHyperprotoError(error)) return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: ErrorCode.Internal, message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
}
