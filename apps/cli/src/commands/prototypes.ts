import { checkPrototypes, createRng, ErrorCode, HyperprotoError, pluginId, resolveOptions, unsupportedPrototypes, withPluginErrors } from '@hyperproto/core';
import { readMatrixNpy, writeMatrixNpy } from '@hyperproto/npy';
import type { GlobalOptions } from '../main.js';
import { interruptSignal } from '../interrupt.js';
import { parseKeyValues } from '../key-values.js';
import { Output } from '../output.js';
import { buildRegistry } from '../plugin-loading.js';
import { prototypeStats, type PrototypeStats } from '../prototype-stats.js';

export interface GeneratePrototypesOptions extends GlobalOptions {
  strategy?: string;
  classes?: number;
  dims?: number;
  seed: number;
  option?: string[];
  out?: string;
}

export async function generatePrototypesCommand(options: GeneratePrototypesOptions): Promise<void> {
  const missing = (['strategy', 'classes', 'dims', 'out'] as const).filter((key) => options[key] === undefined);
  if (missing.length) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `prototypes needs ${missing.map((m) => `--${m}`).join(', ')}`, {
      hint: 'e.g. hyperproto prototypes --strategy optimized --classes 100 --dims 50 --out p.npy, or `hyperproto prototypes inspect FILE.npy`',
    });
  }
  const output = new Output(options);
  const { registry } = await buildRegistry({ config: options.config, plugins: options.plugin });
  const strategy = registry.get('prototypes', options.strategy!);
  const strategyOptions = resolveOptions(strategy, parseKeyValues(options.option, '--option'));
  const request = { classes: options.classes!, dims: options.dims! };
  const why = strategy.unsupported?.(request, strategyOptions);
  if (why) throw unsupportedPrototypes(registry, strategy.name, request, why);

  const started = performance.now();
  const prototypes = await withPluginErrors(pluginId(strategy), () =>
    strategy.generate(
      {
        seed: options.seed,
        rng: createRng(options.seed).fork('prototypes'),
        progress: (done, total, label) => output.progress(strategy.name, done, total, label),
        log: (message) => output.info(message),
        signal: interruptSignal(),
      },
      request,
      strategyOptions,
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  output.done();
  checkPrototypes(prototypes, request, pluginId(strategy));
  await writeMatrixNpy(options.out!, prototypes);
  const stats = prototypeStats(prototypes);
  const result = { strategy: strategy.name, options: strategyOptions, seed: options.seed, seconds, out: options.out, ...stats };
  output.result(result, () => `${strategy.name}: wrote ${options.out} in ${seconds.toFixed(1)} s\n${describeStats(stats)}`);
}

export async function inspectPrototypesCommand(file: string, options: GlobalOptions): Promise<void> {
  const output = new Output(options);
  const prototypes = await readMatrixNpy(file);
  if (prototypes.rows < 2) throw new HyperprotoError(ErrorCode.InvalidInput, `${file} holds ${prototypes.rows} prototype; at least 2 are needed to compare`);
  const stats = prototypeStats(prototypes);
  output.result({ file, ...stats }, () => `${file}\n${describeStats(stats)}`);
}

function describeStats(stats: PrototypeStats): string {
  return [
    `  classes ${stats.classes}, dims ${stats.dims}`,
    `  largest cosine            ${stats.maxCosine.toFixed(4)}   (best possible for ${stats.classes} points: ${stats.simplexBound.toFixed(4)}, reachable when dims >= ${stats.classes - 1})`,
    `  mean nearest-neighbour cos ${stats.meanNearestCosine.toFixed(4)}`,
    `  mean |norm - 1|           ${stats.meanNormDeviation.toExponential(2)}`,
  ].join('\n');
}
