import { ErrorCode, HyperprotoError } from './errors.js';
import type { EnginePlugin, EngineProbe } from './plugins.js';
import type { Registry } from './registry.js';

export interface EngineChoice {
  readonly engine: EnginePlugin;
  readonly backend: string;
  /** `[engine] reason` for each engine or backend passed over. */
  readonly skipped: readonly string[];
}

/**
 * The named engine (probed with its parsed `options`), or the available engine with the highest priority. Engines start lazily in `probe`, in order
 * of their `priority`; a probe may report a lower priority for the backend it found (tfjs on wasm ranks below
 * onnxruntime, tfjs on libtensorflow above it), so the next engine is probed while it could still rank higher.
 * A failed engine is recorded and the next is tried, and when none starts one error lists every reason.
 */
export async function chooseEngine(registry: Registry, name?: string, options?: unknown): Promise<EngineChoice> {
  const candidates = name ? [registry.get('engine', name)] : registry.list('engine').sort((a, b) => b.priority - a.priority);
  if (candidates.length === 0) throw new HyperprotoError(ErrorCode.NoEngine, 'no training engine is registered');
  const skipped: string[] = [];
  let best: { engine: EnginePlugin; backend: string; priority: number; skipped: readonly string[] } | undefined;
  for (const engine of candidates) {
    if (best && engine.priority <= best.priority) break;
    let probe: EngineProbe;
    try {
      // Options belong to a named engine: they may choose its backend (an execution provider, say).
      probe = await (options === undefined ? engine.probe() : engine.probe(options));
    } catch (error) {
      probe = { ok: false, reason: error instanceof Error ? error.message : String(error) };
    }
    if (!probe.ok) {
      skipped.push(`[${engine.name}] ${probe.reason}`);
      continue;
    }
    const found = {
      engine,
      backend: probe.backend,
      priority: Math.min(engine.priority, probe.priority ?? engine.priority),
      skipped: probe.skipped,
    };
    const [kept, passed] = !best || found.priority > best.priority ? [found, best] : [best, found];
    if (passed) {
      skipped.push(
        ...passed.skipped.map((s) => `[${passed.engine.name}] ${s}`),
        `[${passed.engine.name}] ${passed.backend} ranks ${passed.priority}, below ${kept.engine.name} on ${kept.backend} (${kept.priority})`,
      );
    }
    best = kept;
  }
  if (!best) throw new HyperprotoError(ErrorCode.NoEngine, `no training engine could start:\n  ${skipped.join('\n  ')}`);
  return { engine: best.engine, backend: best.backend, skipped: [...skipped, ...best.skipped.map((s) => `[${best.engine.name}] ${s}`)] };
}
