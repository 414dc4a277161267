import type { ExperimentSpec } from '@hyperproto/core';

/** Where a registered plugin came from, as the application that loaded it reports it. */
export interface PluginOrigin {
  readonly kind: string;
  readonly name: string;
  /** The providing package's name and version from its package.json; null for a module file outside any package. */
  readonly package: string | null;
  readonly version: string | null;
  /** `builtin`, or the specifier it was loaded by (`--plugin`, a config or grid entry). */
  readonly source: string;
  /** A plugin from a module file outside any package: that file's SHA-256 (hex; not of the modules it imports). */
  readonly sha256?: string;
}

/**
 * Every plugin a run used (dataset, prototype strategy, head, engine, evaluators) with the package that provided
 * it. A plugin the application reported no origin for is listed with nulls rather than left out.
 */
export function pluginsOfRun(spec: ExperimentSpec, engine: string, origins: readonly PluginOrigin[]): PluginOrigin[] {
  const used: [string, string][] = [['dataset', spec.dataset.name]];
  if (spec.prototypes && 'strategy' in spec.prototypes) used.push(['prototypes', spec.prototypes.strategy]);
  used.push(['head', spec.head.name], ['engine', engine]);
  for (const evaluator of spec.evaluators) used.push(['evaluator', evaluator.name]);
  const seen = new Set<string>();
  const out: PluginOrigin[] = [];
  for (const [kind, name] of used) {
    if (seen.has(`${kind}:${name}`)) continue;
    seen.add(`${kind}:${name}`);
    const origin = origins.find((o) => o.kind === kind && o.name === name);
    out.push(
      origin
        ? { kind, name, package: origin.package, version: origin.version, source: origin.source }
        : { kind, name, package: null, version: null, source: 'unknown' },
    );
  }
  return out;
}
