import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import type { CheckedRun, Grid, PluginOrigin, RunVersions } from '@hyperproto/experiments';

/**
 * What a worker must have to run a grid's jobs as the coordinator would: each plugin the grid uses from the same
 * package and version, and the same hyperproto packages and numeric libraries. Otherwise records of one grid would
 * mix code, and a record whose spec another version fills differently would be refused at the next --resume.
 */
export interface Requirements {
  /** Each plugin the grid's runs use, as the coordinator loaded it. */
  readonly plugins: readonly PluginOrigin[];
  /** Package -> version: the coordinator's `@hyperproto/*` packages and the libraries that compute the numbers. */
  readonly versions: Readonly<Record<string, string>>;
}

/** What one side (a coordinator or a worker) runs. */
export interface CodeOnHand {
  /** `kind:name` of every registered plugin. */
  readonly registered: ReadonlySet<string>;
  readonly plugins: readonly PluginOrigin[];
  readonly versions: RunVersions;
}

const versionsOf = (versions: RunVersions): Record<string, string> => ({ ...versions.hyperproto, ...versions.other });

export function requirementsOf(grid: Grid, runs: readonly CheckedRun[], coordinator: CodeOnHand): Requirements {
  const used = new Set<string>();
  for (const run of runs) {
    const spec = run.parsedSpec;
    used.add(`dataset:${spec.dataset.name}`);
    if (spec.prototypes && 'strategy' in spec.prototypes) used.add(`prototypes:${spec.prototypes.strategy}`);
    used.add(`head:${spec.head.name}`);
    for (const evaluator of spec.evaluators) used.add(`evaluator:${evaluator.name}`);
  }
  // The engine is chosen on each worker by priority (a GPU machine may train elsewhere); a grid that names one needs it.
  if (grid.engine) used.add(`engine:${grid.engine}`);
  const plugins = [...used].sort().map((id) => {
    const [kind, name] = split(id);
    return (
      coordinator.plugins.find((o) => o.kind === kind && o.name === name) ?? { kind, name, package: null, version: null, source: 'unknown' }
    );
  });
  return { plugins, versions: versionsOf(coordinator.versions) };
}

/** A plugin loaded from a module file outside any package: compared by the file's SHA-256, not by package and version. */
const fromFile = (origin: PluginOrigin): boolean => origin.package === null && origin.source !== 'builtin' && origin.source !== 'unknown';

/**
 * Why this worker must not run the grid's jobs, naming the plugin or package and both sides' versions; undefined
 * when it may. A missing plugin is E_UNKNOWN_PLUGIN, a different version E_UNSUPPORTED. A plugin from a package must
 * come from the same package and version; one the coordinator loaded from a module file must come from a file with the
 * same content (SHA-256; the modules that file imports are not compared), not from a package.
 */
export function incompatibility(grid: string, needs: Requirements, worker: CodeOnHand): HyperprotoError | undefined {
  const missing = needs.plugins.filter((p) => !worker.registered.has(`${p.kind}:${p.name}`));
  if (missing.length > 0) {
    const first = missing[0]!;
    return new HyperprotoError(
      ErrorCode.UnknownPlugin,
      `this worker has no ${missing.map((p) => `${p.kind} plugin "${p.name}"`).join(', ')}, which grid "${grid}" needs (the coordinator's comes from ${describe(first)})`,
      {
        hint: fromFile(first)
          ? `Copy the coordinator's plugin file (${first.source}, as the coordinator named it) to this machine and start the worker with --plugin and the path of that copy (its content must be the same: the worker compares SHA-256).`
          : `Install the same package on this machine and start the worker with --plugin ${first.source === 'unknown' || first.source === 'builtin' ? (first.package ?? first.name) : first.source}.`,
      },
    );
  }
  const differences: string[] = [];
  for (const needed of needs.plugins) {
    const mine = worker.plugins.find((o) => o.kind === needed.kind && o.name === needed.name);
    if (!mine) continue;
    const differs =
      needed.package !== null
        ? mine.package !== needed.package || mine.version !== needed.version
        : fromFile(needed) && (mine.package !== null || (needed.sha256 !== undefined && mine.sha256 !== needed.sha256));
    if (differs)
      differences.push(
        `plugin ${needed.kind}:${needed.name} is ${describe(mine)} on this worker but ${describe(needed)} on the coordinator`,
      );
  }
  const mine = versionsOf(worker.versions);
  for (const [name, version] of Object.entries(needs.versions)) {
    if (mine[name] !== version)
      differences.push(
        `${name} is ${mine[name] ? `version ${mine[name]}` : 'missing'} on this worker but version ${version} on the coordinator`,
      );
  }
  if (differences.length === 0) return undefined;
  const shown = differences.slice(0, 5);
  if (differences.length > shown.length) shown.push(`... and ${differences.length - shown.length} more`);
  return new HyperprotoError(
    ErrorCode.Unsupported,
    `this worker runs other code than grid "${grid}" was started with: ${shown.join('; ')}`,
    {
      hint: 'Install the same hyperproto and plugin versions and copy the same plugin files to every machine (e.g. one container image), then start the worker again.',
    },
  );
}

function split(id: string): [string, string] {
  const at = id.indexOf(':');
  return [id.slice(0, at), id.slice(at + 1)];
}

function describe(origin: PluginOrigin): string {
  const pkg = origin.package
    ? `${origin.package}${origin.version ? ` ${origin.version}` : ''}`
    : fromFile(origin)
      ? `a module file${origin.sha256 ? ` (sha256 ${origin.sha256.slice(0, 12)})` : ''}`
      : 'no package';
  return origin.source === 'builtin' || origin.source === 'unknown' ? pkg : `${pkg}, loaded by ${origin.source}`;
}
