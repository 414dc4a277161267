import { ErrorCode, HyperprotoError } from './errors.js';
import type { EnginePlugin } from './plugins.js';
import type { Registry } from './registry.js';

export interface EngineChoice {
  readonly engine: EnginePlugin;
  readonly backend: string;
  /** `[engine] reason` for each engine or backend passed over. */
  readonly skipped: readonly string[];
}

/**
 * The named engine, or the available engine with the highest priority. Engines start lazily in `probe`; a failed
 * one is recorded and the next is tried, and when none starts one error lists every reason.
 */
export async function chooseEngine(registry: Registry, name?: string): Promise<EngineChoice> {
  const candidates = name ? [registry.get('engine', name)] : registry.list('engine').sort((a, b) => b.priority - a.priority);
  if (candidates.length === 0) throw new HyperprotoError(ErrorCode.NoEngine, 'no training engine is registered');
  const skipped: string[] = [];
  for (const engine of candidates) {
    let probe;
    try {
      probe = await engine.probe();
    } catch (error) {
      probe = { ok: false as const, reason: error instanceof Error ? error.message : String(error) };
    }
    if (probe.ok) {
      return { engine, backend: probe.backend, skipped: [...skipped, ...probe.skipped.map((s) => `[${engine.name}] ${s}`)] };
    }
    skipped.push(`[${engine.name}] ${probe.reason}`);
  }
  throw new HyperprotoError(ErrorCode.NoEngine, `no training engine could start:\n  ${skipped.join('\n  ')}`);
}
