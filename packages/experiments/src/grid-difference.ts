import { expandGrid, headRef } from './grid-expansion.js';
import { gridSeeds, type Grid } from './grid-schema.js';

/**
 * The part of a grid that decides what runs: two grids with the same identity produce the same runs. Labels,
 * descriptions, notes and published numbers only change the report.
 */
export function gridIdentity(grid: Grid) {
  return {
    seeds: gridSeeds(grid),
    datasets: grid.datasets.map((d) => ({ id: d.id, name: d.name, options: d.options })),
    // Per-model trainer settings, dataset lists and seeds only when present, so grids without them keep their identity.
    models: grid.models.map((m) => ({
      id: m.id,
      head: headRef(m),
      prototypes: m.prototypes ?? null,
      ...(m.trainer ? { trainer: m.trainer } : {}),
      ...(m.datasets ? { datasets: m.datasets } : {}),
      ...(m.seeds !== undefined ? { seeds: m.seeds } : {}),
    })),
    trainer: grid.trainer,
    engine: grid.engine ?? null,
    evaluators: grid.evaluators ?? null,
  };
}

/** JSON with object keys sorted, so that equal values give equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export interface ValueDifference {
  /** Dotted path, e.g. `datasets.1.options.trainPerClass`. */
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
}

/** Every leaf where `before` and `after` differ (a missing side is `undefined`). */
export function differences(before: unknown, after: unknown, path = ''): ValueDifference[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (isObject(before) && isObject(after) && Array.isArray(before) === Array.isArray(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((key) => differences(before[key], after[key], path ? `${path}.${key}` : key));
  }
  return canonicalJson(before) === canonicalJson(after) ? [] : [{ path: path || '(whole grid)', before, after }];
}

/** The differences between the runs two grids make, in words; empty when they make the same runs. */
export function describeGridDifferences(stored: Grid, requested: Grid, storedName: string, requestedName: string, limit = 8): string[] {
  const found = differences(gridIdentity(stored), gridIdentity(requested));
  const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));
  const lines = found.slice(0, limit).map((d) => `${d.path}: ${show(d.before)} in ${storedName}, ${show(d.after)} in ${requestedName}`);
  if (found.length > limit) lines.push(`... and ${found.length - limit} more`);
  return lines;
}

/** Runs of a grid, keyed, for checks that a record belongs to it. */
export function runKeys(grid: Grid): Set<string> {
  return new Set(expandGrid(grid).map((r) => r.key));
}
