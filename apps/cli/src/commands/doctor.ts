import { availableParallelism, cpus } from 'node:os';
import type { EngineProbe } from '@hyperproto/core';
import { initTfjs } from '@hyperproto/tfjs-backend';
import type { GlobalOptions } from '../main.js';
import { Output } from '../output.js';
import { buildRegistry } from '../plugin-loading.js';

export async function doctorCommand(options: GlobalOptions): Promise<void> {
  const output = new Output(options);
  const { registry } = await buildRegistry({ config: options.config, plugins: options.plugin });
  const tfjs = await initTfjs().then(
    (runtime) => ({ backend: runtime.backend, skipped: runtime.skipped, version: runtime.tf.version.tfjs }),
    (error: Error) => ({ backend: null, skipped: [error.message], version: null }),
  );
  const engines: ({ name: string; priority: number } & EngineProbe)[] = [];
  for (const engine of registry.list('engine')) {
    const probe: EngineProbe = await engine.probe().catch((error: Error) => ({ ok: false as const, reason: error.message }));
    // A probe may lower its engine's rank for the backend it found (tfjs on wasm ranks below onnxruntime).
    const priority = probe.ok ? Math.min(engine.priority, probe.priority ?? engine.priority) : engine.priority;
    engines.push({ name: engine.name, ...probe, priority });
  }
  // The order chooseEngine picks in: ready engines by effective rank, then the unavailable ones.
  engines.sort((a, b) => Number(b.ok) - Number(a.ok) || b.priority - a.priority);
  const report = {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    tfjs,
    engines,
  };
  output.result(report, () =>
    [
      `node      ${report.node} on ${report.platform}, ${report.cores} cores (${report.cpu})`,
      `tfjs      ${tfjs.version ?? '?'} on the ${tfjs.backend ?? 'no'} backend`,
      ...tfjs.skipped.map((reason) => `          skipped ${reason}`),
      ...engines.flatMap((e) => [
        `engine    ${e.name} (priority ${e.priority}): ${e.ok ? `ready on ${e.backend}` : `unavailable: ${e.reason}`}`,
        // What each engine passed over (training says it only with --verbose); tfjs's backends are listed above.
        ...(e.ok ? e.skipped.filter((reason) => !tfjs.skipped.includes(reason)).map((reason) => `          skipped ${reason}`) : []),
      ]),
      `          the default engine is the first ready one (highest priority); --engine NAME overrides it`,
    ].join('\n'),
  );
}
