import { pluginId } from './registry.js';
import type { DatasetPlugin, PrototypeStrategy } from './plugins.js';

/**
 * Where runs of one process share what they would each compute alike: a dataset (same plugin, options and seed), a
 * prototype set (same strategy, options, size and seed), and what is computed from one of those alone (the
 * nearest-class-mean baseline, the prototype geometry). The pipeline asks for each under a key from
 * {@link datasetInputKey} / {@link prototypeInputKey}; a store keeps what fits and hands every run its own copy,
 * so a plugin that changes what it was given cannot change a later run.
 */
export interface ExperimentInputs {
  /**
   * The value kept under `key`, else the one `make` gives (kept for later calls when it fits). Either way the value
   * is the caller's own: changing it must not change what a later call gets. A `make` that throws keeps nothing.
   */
  reuse<T>(key: string, make: () => Promise<T>): Promise<ReusedInput<T>>;
}

export interface ReusedInput<T> {
  readonly value: T;
  /** True when the value came from the store, not from `make`. */
  readonly reused: boolean;
}

/** The store keys of one run's shareable inputs; a key is absent when that input is not shared (or cannot be). */
export interface ExperimentInputKeys {
  readonly dataset?: string;
  readonly prototypes?: string;
}

/** What the keys are made of: the plugins and their options as the schema parsed them (defaults filled). */
export interface InputPlan {
  readonly dataset: DatasetPlugin;
  readonly datasetOptions: unknown;
  readonly strategy?: PrototypeStrategy;
  readonly strategyOptions?: unknown;
}

/**
 * The key of a run's dataset: plugin, parsed options, seed and the thread budget (a plugin may split its work by
 * it). Undefined when the options are not plain JSON (a function, a class instance, NaN): such options cannot be
 * compared by value, so the dataset is not shared.
 */
export function datasetInputKey(plan: InputPlan, seed: number, threads?: number): string | undefined {
  const options = canonicalInputJson(plan.datasetOptions ?? null);
  if (options === undefined) return undefined;
  return `${pluginId(plan.dataset)} seed=${seed} threads=${threads ?? 'all'} ${options}`;
}

/** The key of a run's prototype set ({@link datasetInputKey}'s rule), for `classes` x `dims`; undefined without a strategy. */
export function prototypeInputKey(
  plan: InputPlan,
  request: { readonly classes: number; readonly dims: number },
  seed: number,
  threads?: number,
): string | undefined {
  if (!plan.strategy) return undefined;
  const options = canonicalInputJson(plan.strategyOptions ?? null);
  if (options === undefined) return undefined;
  return `${pluginId(plan.strategy)} ${request.classes}x${request.dims} seed=${seed} threads=${threads ?? 'all'} ${options}`;
}

/** The key of something computed from one shared input alone, e.g. `derivedInputKey('baseline', datasetKey)`. */
export function derivedInputKey(what: string, from: string | undefined): string | undefined {
  return from === undefined ? undefined : `${what} of ${from}`;
}

/**
 * JSON with object keys sorted, of plain data only (objects with the plain prototype, arrays, strings, finite
 * numbers, booleans, null); undefined for anything else, so that two values with the same text are the same value.
 */
export function canonicalInputJson(value: unknown): string | undefined {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : undefined;
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (const item of value) {
      const text = canonicalInputJson(item);
      if (text === undefined) return undefined;
      items.push(text);
    }
    return `[${items.join(',')}]`;
  }
  if (typeof value !== 'object') return undefined;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return undefined;
  const fields: string[] = [];
  for (const name of Object.keys(value).sort()) {
    const field = (value as Record<string, unknown>)[name];
    // As in JSON: an absent option and an undefined one mean the same.
    if (field === undefined) continue;
    const text = canonicalInputJson(field);
    if (text === undefined) return undefined;
    fields.push(`${JSON.stringify(name)}:${text}`);
  }
  return `{${fields.join(',')}}`;
}
