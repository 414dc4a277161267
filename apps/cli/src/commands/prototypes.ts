import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import {
  callPlugin,
  checkPrototypes,
  checkStrategyPrototypes,
  createRng,
  ErrorCode,
  HyperprotoError,
  normalizeRows,
  pluginId,
  refuseUnsupportedPrototypes,
  resolveOptions,
  type Matrix,
  type Plugin,
  type PluginContext,
  type PrototypeRequest,
  type Registry,
} from '@hyperproto/core';
import { readMatrixNpy, writeFileAtomic, writeMatrixNpy } from '@hyperproto/npy';
import type { GlobalOptions } from '../main.js';
import { interruptSignal } from '../interrupt.js';
import { keyValueOptions, mergeFlagOptions } from '../key-values.js';
import { Output } from '../output.js';
import { buildRegistry } from '../plugin-loading.js';
import { readPluginOptions } from '../plugin-options.js';
import { describeStats, histogramSvg, prototypeStats } from '../prototype-stats.js';

export interface GeneratePrototypesOptions extends GlobalOptions {
  strategy?: string;
  classes?: number;
  dims?: number;
  seed: number;
  option?: string[];
  prototypeOption?: string[];
  out?: string;
  start?: string;
  force?: boolean;
}

export interface InspectPrototypesOptions extends GlobalOptions {
  plot?: string;
  bins: number;
}

export async function generatePrototypesCommand(options: GeneratePrototypesOptions): Promise<void> {
  const missing = (['strategy', 'classes', 'dims', 'out'] as const).filter((key) => options[key] === undefined);
  if (missing.length) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `prototypes needs ${missing.map((m) => `--${m}`).join(', ')}`, {
      hint: 'e.g. hyperproto prototypes --strategy spread --classes 10000 --dims 100 --out p.npy, or `hyperproto prototypes inspect FILE.npy`',
    });
  }
  // Checked before any work, like export's --out: a long run must not end by refusing (or clobbering) the file.
  if (!options.force && existsSync(options.out!)) {
    throw new HyperprotoError(ErrorCode.Io, `--out ${options.out} already exists`, {
      hint: 'Choose another --out, or pass --force to replace it.',
    });
  }
  const signal = interruptSignal();
  const output = new Output(options);
  const { registry } = await buildRegistry({ config: options.config, plugins: options.plugin });
  const strategy = registry.get('prototypes', options.strategy!);
  const request = { classes: options.classes!, dims: options.dims! };
  const context = (stage: string): PluginContext => ({
    seed: options.seed,
    rng: createRng(options.seed).fork(stage),
    progress: (done, total, label) => output.progress(stage, done, total, label),
    log: (message) => output.info(message),
    signal,
  });
  const rawOptions = mergeFlagOptions(
    keyValueOptions(options.prototypeOption, '--prototype-option'),
    keyValueOptions(options.option, '--option'),
  );
  // Validate everything the user typed before any work, including the start rows' strategy. A strategy without a
  // start option refuses --start here, before the rows are made; one whose schema cannot be read refuses the key.
  const strategyOptions = resolveOptions(strategy, rawOptions);
  if (options.start !== undefined) {
    refuseStartWithout(registry, strategy, options.start);
    resolveOptions(strategy, { ...rawOptions, start: undefined });
  }
  refuseUnsupportedPrototypes(registry, strategy, request, strategyOptions);
  let startedFrom: string | undefined;
  let chosenOptions: unknown = strategyOptions;
  if (options.start !== undefined) {
    const start = await startRows(registry, options.start, request, context('start'));
    output.done();
    chosenOptions = resolveOptions(strategy, { ...rawOptions, start });
    startedFrom = options.start;
  }

  const started = performance.now();
  const prototypes = checkStrategyPrototypes(
    await callPlugin(strategy, 'generate', context(strategy.name), request, chosenOptions),
    request,
    pluginId(strategy),
  );
  const seconds = (performance.now() - started) / 1000;
  output.done();
  // The file appears whole or not at all: written to a temporary name, then renamed.
  await writeMatrixNpy(options.out!, prototypes);
  const stats = await prototypeStats(prototypes, {
    signal,
    source: options.out,
    progress: (done, total) => output.progress('inspect', done, total),
  });
  const { histogram: _none, ...figures } = stats;
  const result = {
    strategy: strategy.name,
    options: strategyOptions,
    start: startedFrom,
    seed: options.seed,
    seconds,
    out: options.out,
    ...figures,
  };
  output.result(
    result,
    () =>
      `${strategy.name}${startedFrom ? ` from ${startedFrom}` : ''}: wrote ${options.out} in ${seconds.toFixed(1)} s\n${describeStats(figures)}`,
  );
}

export async function inspectPrototypesCommand(file: string, options: InspectPrototypesOptions): Promise<void> {
  if (options.plot !== undefined && !options.plot.toLowerCase().endsWith('.svg')) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `--plot ${options.plot}: only SVG is drawn`, {
      hint: 'Name a .svg file; any browser or image tool opens or converts it.',
    });
  }
  const signal = interruptSignal();
  const output = new Output(options);
  // Named by the path alone, as the rest of this command names it: the file is its only argument.
  const prototypes = await readMatrixNpy(file, { what: file });
  if (prototypes.rows < 2)
    throw new HyperprotoError(ErrorCode.InvalidInput, `${file} holds ${prototypes.rows} prototype; at least 2 are needed to compare`);
  const stats = await prototypeStats(prototypes, {
    bins: options.bins,
    signal,
    source: file,
    progress: (done, total) => output.progress('inspect', done, total),
  });
  if (options.plot !== undefined) await writePlot(options.plot, histogramSvg(stats, basename(file)));
  output.result(
    { file, ...stats, plot: options.plot },
    () => `${file}\n${describeStats(stats)}${options.plot ? `\n  histogram drawn in ${options.plot}` : ''}`,
  );
}

/**
 * Whether a strategy's options declare start rows (spread's `start`); undefined when its schema does not say (it
 * cannot be read, or it takes any key).
 */
function declaresStartRows(strategy: Plugin): boolean | undefined {
  const declared = readPluginOptions(strategy.options);
  if (declared?.options.some((option) => option.name === 'start')) return true;
  return declared === undefined || declared.otherKeys ? undefined : false;
}

/** --start for a strategy that takes no start rows: named by the flag, with the strategies that take them. */
function refuseStartWithout(registry: Registry, strategy: Plugin, start: string): void {
  if (declaresStartRows(strategy) !== false) return;
  const refiners = registry
    .list('prototypes')
    .filter((plugin) => declaresStartRows(plugin) === true)
    .map((plugin) => plugin.name);
  const which = refiners.length ? `--start is for ${refiners.join(', ')}` : 'no loaded strategy takes them';
  throw new HyperprotoError(ErrorCode.InvalidOptions, `--start ${start}: the ${strategy.name} strategy takes no start rows; ${which}`, {
    hint: refiners.length
      ? `Drop --start, or refine the rows with a strategy that takes them: --strategy ${refiners[0]} --start ${start}.`
      : 'Drop --start.',
  });
}

/** The rows a refining strategy starts from: a prototype file, or another strategy's output for the same size. */
async function startRows(registry: Registry, start: string, request: PrototypeRequest, ctx: PluginContext): Promise<Matrix> {
  if (start.toLowerCase().endsWith('.npy')) {
    const source = `--start ${start}`;
    return checkPrototypes(normalizeRows(await readMatrixNpy(start, { what: source }), source), request, source);
  }
  const strategy = registry.get('prototypes', start);
  const options = resolveOptions(strategy, {});
  refuseUnsupportedPrototypes(registry, strategy, request, options);
  return checkStrategyPrototypes(await callPlugin(strategy, 'generate', ctx, request, options), request, pluginId(strategy));
}

async function writePlot(path: string, svg: string): Promise<void> {
  await writeFileAtomic(path, svg, { what: `--plot ${path}` });
}
