import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chooseEngine } from './engines.js';
import { ErrorCode } from './errors.js';
import { h } from './head-graph.js';
import { createMatrix, type Matrix } from './matrix.js';
import { runExperiment } from './pipeline.js';
import { type Dataset, defineDataset, defineEngine, defineEvaluator, defineHead, type PluginContext } from './plugins.js';
import { createRegistry } from './registry.js';

/** An engine whose `device` option chooses its backend; it records what its hooks were given. */
function recordingEngine(name: string, priority: number) {
  const seen: { probes: unknown[]; trains: { options: unknown; threads: number | undefined }[] } = { probes: [], trains: [] };
  const engine = defineEngine({
    name,
    summary: 'test engine',
    priority,
    options: z.strictObject({ device: z.enum(['auto', 'slow', 'missing']).default('auto') }),
    async probe(options) {
      seen.probes.push(options);
      if (options?.device === 'missing') return { ok: false, reason: 'the missing device is not here' };
      return { ok: true, backend: `${name}/${options?.device === 'slow' ? 'slow' : 'fast'}`, skipped: [] };
    },
    async train(ctx, job, options) {
      seen.trains.push({ options, threads: ctx.threads });
      const backend = `${name}/${options.device === 'slow' ? 'slow' : 'fast'}`;
      const history = [{ epoch: 1, trainLoss: 1, validationLoss: 1, validationAccuracy: 1, seconds: 0 }];
      const predict = async (features: Matrix) => ({ scores: createMatrix(features.rows, 2), labels: new Int32Array(features.rows) });
      return { bestEpoch: 1, backend, history, model: { ...job, inputWidth: 2, classes: 2, weights: [], predict, dispose() {} } };
    },
  });
  return { engine, seen };
}

function registryWith(...engines: ReturnType<typeof recordingEngine>['engine'][]) {
  const contexts: PluginContext[] = [];
  const split = () => ({ features: createMatrix(4, 2, Float32Array.of(0, 0, 1, 1, 0, 1, 1, 0)), labels: Int32Array.of(0, 1, 0, 1) });
  const dataset = defineDataset({
    name: 'tiny',
    summary: 'test dataset',
    options: z.strictObject({}),
    generate: (ctx) => {
      contexts.push(ctx);
      return { classes: 2, inputWidth: 2, train: split(), validation: split(), test: split(), info: {} } satisfies Dataset;
    },
  });
  const head = defineHead({
    name: 'flat',
    summary: 'test head',
    usesPrototypes: false,
    options: z.strictObject({}),
    build: () => ({ outputUnits: 2, loss: h.mean(h.output()), scores: h.output(), scoresName: 'scores', constants: {} }),
  });
  const evaluator = defineEvaluator({
    name: 'classification',
    summary: 'test evaluator',
    options: z.strictObject({}),
    evaluate: () => ({}),
  });
  return { registry: createRegistry([dataset, head, evaluator, ...engines]), contexts };
}

const spec = (engine?: unknown) => ({ dataset: { name: 'tiny' }, head: { name: 'flat' }, ...(engine ? { engine } : {}) });

describe('engine options and the thread budget in runExperiment', () => {
  it("hands a named engine's options, parsed by its schema, to its probe and its training", async () => {
    const { engine, seen } = recordingEngine('graph', 5);
    const { registry } = registryWith(engine);
    const outcome = await runExperiment(registry, spec({ name: 'graph', options: { device: 'slow' } }));
    expect(seen.probes).toEqual([{ device: 'slow' }]);
    expect(seen.trains.map((t) => t.options)).toEqual([{ device: 'slow' }]);
    expect(outcome.engine).toMatchObject({ name: 'graph', backend: 'graph/slow' });
    expect(outcome.spec.engine).toEqual({ name: 'graph', options: { device: 'slow' } });
  });

  it('gives an engine named without options, or chosen by priority, its defaults', async () => {
    const { engine, seen } = recordingEngine('graph', 5);
    const { registry } = registryWith(engine);
    await runExperiment(registry, spec('graph'));
    await runExperiment(registry, spec());
    expect(seen.trains.map((t) => t.options)).toEqual([{ device: 'auto' }, { device: 'auto' }]);
  });

  it('refuses an option the engine does not take before any work, and reports a backend that cannot start', async () => {
    const { engine, seen } = recordingEngine('graph', 5);
    const { registry, contexts } = registryWith(engine);
    await expect(runExperiment(registry, spec({ name: 'graph', options: { device: 'gpu' } }))).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringMatching(/^engine:graph device: /),
    });
    expect(contexts).toHaveLength(0);
    await expect(runExperiment(registry, spec({ name: 'graph', options: { device: 'missing' } }))).rejects.toMatchObject({
      code: ErrorCode.NoEngine,
      message: expect.stringContaining('[graph] the missing device is not here'),
    });
    expect(seen.trains).toHaveLength(0);
  });

  it('puts the thread budget it is given on every plugin context, and none when it is given none', async () => {
    const { engine, seen } = recordingEngine('graph', 5);
    const { registry, contexts } = registryWith(engine);
    await runExperiment(registry, spec(), { threads: 3 });
    await runExperiment(registry, spec());
    expect(contexts.map((ctx) => ctx.threads)).toEqual([3, undefined]);
    expect(seen.trains.map((t) => t.threads)).toEqual([3, undefined]);
  });

  it('probes only the named engine with options; unnamed engines are probed without', async () => {
    const first = recordingEngine('first', 9);
    const second = recordingEngine('second', 5);
    const { registry } = registryWith(first.engine, second.engine);
    expect((await chooseEngine(registry, 'second', { device: 'slow' })).backend).toBe('second/slow');
    expect((await chooseEngine(registry)).engine.name).toBe('first');
    expect([first.seen.probes, second.seen.probes]).toEqual([[undefined], [{ device: 'slow' }]]);
  });
});
