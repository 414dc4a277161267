import { ExperimentSpecSchema } from '@hyperproto/core';
import { expandGrid, headRef } from './grid-expansion.js';
import { gridSeeds, type Grid } from './grid-schema.js';
import { isJsonObject } from './run-record.js';

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
    isJsonObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
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
  return describeDifferences(differences(gridIdentity(stored), gridIdentity(requested)), storedName, requestedName, limit);
}

/** Each difference as `path: before in A, after in B`, at most `limit` of them and a count of the rest. */
function describeDifferences(found: readonly ValueDifference[], storedName: string, requestedName: string, limit: number): string[] {
  const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));
  const lines = found.slice(0, limit).map((d) => `${d.path}: ${show(d.before)} in ${storedName}, ${show(d.after)} in ${requestedName}`);
  if (found.length > limit) lines.push(`... and ${found.length - limit} more`);
  return lines;
}

/** Runs of a grid, keyed, for checks that a record belongs to it. */
export function runKeys(grid: Grid): Set<string> {
  return new Set(expandGrid(grid).map((r) => r.key));
}

/**
 * What a run is: its spec as the spec schema reads it (defaults filled, older forms in today's), so that two specs
 * meaning the same run compare equal whether they come from a grid's expansion or from a record. A spec the schema
 * refuses stands for itself.
 */
export function runIdentity(spec: unknown): unknown {
  const parsed = ExperimentSpecSchema.safeParse(spec);
  return parsed.success ? parsed.data : spec;
}

/** The ways two specs of one run differ, as `runIdentity` reads them; empty when they are the same run. */
export function runDifferences(before: unknown, after: unknown): ValueDifference[] {
  const a = runIdentity(before);
  const b = runIdentity(after);
  return canonicalJson(a) === canonicalJson(b) ? [] : differences(a, b);
}

/** How the grid of a results directory changes into the grid a resumed session asks for. */
export interface GridChange {
  /** Keys of the runs the requested grid adds. */
  readonly added: readonly string[];
  /** Keys of unfinished runs the requested grid makes with another spec. */
  readonly changed: readonly string[];
  /** Keys of unfinished runs the requested grid no longer makes. */
  readonly dropped: readonly string[];
  /** Model ids, dataset ids and seeds of added runs that the stored grid has no run of. */
  readonly models: readonly string[];
  readonly datasets: readonly string[];
  readonly seeds: readonly number[];
  /**
   * One line, e.g. `the grid grew: 6 new runs (models softmax-h1000, softmax-h3000); 2 unfinished runs dropped
   * (c10/x/s3, c10/x/s4)`; undefined when the grids make the same runs.
   */
  readonly description: string | undefined;
}

export interface GridComparison extends GridChange {
  /** Finished runs the requested grid drops or makes with another spec, each in words: any of them refuses the grid. */
  readonly conflicts: readonly string[];
}

/**
 * Compares the runs of two grids, run by run (each from `expandGrid`, compared by `runIdentity`). A grid may add
 * runs and change or drop unfinished ones; a finished run (one of `finished`) must stay as it was, or it is a
 * conflict. A finished run the stored grid does not list (an edited grid.json) only has to exist in the requested
 * grid: its record is checked against the requested spec when the session is planned.
 */
export function compareGridRuns(
  stored: Grid,
  requested: Grid,
  finished: ReadonlySet<string>,
  storedName: string,
  requestedName: string,
): GridComparison {
  const before = new Map(expandGrid(stored).map((run) => [run.key, run]));
  const after = new Map(expandGrid(requested).map((run) => [run.key, run]));
  const conflicts: string[] = [];
  const changed: string[] = [];
  const dropped: string[] = [];
  for (const key of new Set([...before.keys(), ...finished])) {
    const was = before.get(key);
    const now = after.get(key);
    const done = finished.has(key);
    if (!now) {
      if (done) conflicts.push(`${key}: finished, and not in ${requestedName}`);
      else dropped.push(key);
      continue;
    }
    if (!was) continue;
    const found = runDifferences(was.spec, now.spec);
    if (found.length === 0) continue;
    if (done) conflicts.push(`${key}: ${describeDifferences(found, storedName, requestedName, 3).join('; ')}`);
    else changed.push(key);
  }
  const added = [...after.values()].filter((run) => !before.has(run.key));
  // The distinct values of one part of the added runs that no stored run has.
  const newOf = <T>(part: (run: (typeof added)[number]) => T): T[] => {
    const stored = new Set([...before.values()].map(part));
    return [...new Set(added.map(part))].filter((value) => !stored.has(value));
  };
  const models = newOf((run) => run.model);
  const datasets = newOf((run) => run.dataset);
  const seeds = newOf((run) => run.seed).sort((a, b) => a - b);
  // Added runs that no new model, dataset or seed accounts for (e.g. a model now running on one more dataset).
  const other = added.filter((run) => !models.includes(run.model) && !datasets.includes(run.dataset) && !seeds.includes(run.seed));
  const description = describeChange(added.length, changed, dropped, [
    models.length ? `${models.length === 1 ? 'model' : 'models'} ${listed(models)}` : '',
    datasets.length ? `${datasets.length === 1 ? 'dataset' : 'datasets'} ${listed(datasets)}` : '',
    seeds.length ? `${seeds.length === 1 ? 'seed' : 'seeds'} ${listed(seeds)}` : '',
    other.length ? listed(other.map((run) => run.key)) : '',
  ]);
  return { added: added.map((run) => run.key), changed, dropped, models, datasets, seeds, description, conflicts };
}

function describeChange(
  added: number,
  changed: readonly string[],
  dropped: readonly string[],
  what: readonly string[],
): string | undefined {
  const runs = (n: number) => (n === 1 ? 'run' : 'runs');
  const parts = [
    added ? `${added} new ${runs(added)} (${what.filter(Boolean).join('; ')})` : '',
    changed.length ? `${changed.length} unfinished ${runs(changed.length)} changed (${listed(changed)})` : '',
    dropped.length ? `${dropped.length} unfinished ${runs(dropped.length)} dropped (${listed(dropped)})` : '',
  ].filter(Boolean);
  return parts.length ? `the grid ${added ? 'grew' : 'changed'}: ${parts.join('; ')}` : undefined;
}

function listed(items: readonly (string | number)[], limit = 5): string {
  return items.length > limit ? `${items.slice(0, limit).join(', ')} and ${items.length - limit} more` : items.join(', ');
}
