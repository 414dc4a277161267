import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode, HyperprotoError } from './errors.js';
import { h } from './head-graph.js';
import { createMatrix, type Matrix } from './matrix.js';
import type { ExperimentInputs } from './experiment-inputs.js';
import { plannedInputKeys, prototypeMatrixProblem, runExperiment } from './pipeline.js';
import { defineDataset, defineEngine, defineEvaluator, defineHead, definePrototypeStrategy, type Dataset } from './plugins.js';
import { createRegistry } from './registry.js';
import { parseExperimentSpec } from './spec.js';

/** What the tests make a plugin do, and what the plugins saw. */
interface Script {
  datasetThrows?: unknown;
  trainThrows?: unknown;
  predictThrows?: unknown;
  evaluateThrows?: unknown;
  /** The trained model has predictLabels. */
  labelsOnly?: boolean;
  /** What the engine hands over as the kept model's validation labels. */
  validationPredictions?: Int32Array;
  /** The dataset's feature names (its input width is 2). */
  featureNames?: readonly string[];
}

class DivergedError extends HyperprotoError {
  constructor(readonly partial: { bestEpoch: number }) {
    super(ErrorCode.TrainingFailed, 'loss became NaN at epoch 2');
  }
}

function fixture(script: Script = {}) {
  const calls: string[] = [];
  /** The trained model's calls, with the rows of each prediction. */
  const modelCalls: string[] = [];
  const received: Record<string, unknown> = {};
  let parses = 0;
  const split = (classes: number) => {
    const labels = new Int32Array(classes * 3).map((_, i) => i % classes);
    const features = createMatrix(labels.length, 2);
    labels.forEach((label, i) => (features.data[i * 2] = label));
    return { features, labels };
  };
  /** The fake model's prediction: the label each row carries in its first feature. */
  const labelsOf = (features: Matrix) => Int32Array.from({ length: features.rows }, (_, i) => features.data[i * 2]!);
  const dataset = defineDataset({
    name: 'blobs',
    summary: 'test dataset',
    // Not idempotent on purpose: parsed twice, classes would grow.
    options: z.strictObject({ classes: z.number().int().min(2).default(3) }).transform((o) => (parses++, { classes: o.classes + 1 })),
    describe: ({ classes }) => (calls.push('dataset.describe'), { classes }),
    generate(_ctx, options) {
      calls.push('dataset.generate');
      received.dataset = options;
      if (script.datasetThrows !== undefined) throw script.datasetThrows;
      const { classes } = options;
      return {
        classes,
        inputWidth: 2,
        train: split(classes),
        validation: split(classes),
        test: split(classes),
        ...(script.featureNames ? { featureNames: script.featureNames } : {}),
        info: {},
      } satisfies Dataset;
    },
  });
  const strategy = (name: string, limit: number) =>
    definePrototypeStrategy({
      name,
      summary: 'test strategy',
      options: z.strictObject({ limit: z.number().int().default(limit) }),
      unsupported: ({ classes }, { limit: most }) => (
        calls.push(`${name}.unsupported`), classes > most ? `at most ${most} classes` : undefined
      ),
      generate(_ctx, { classes, dims }) {
        calls.push(`${name}.generate`);
        const m = createMatrix(classes, dims);
        for (let i = 0; i < classes; i++) m.data[i * dims + (i % dims)] = 1;
        return m;
      },
    });
  const head = (name: string, usesPrototypes: boolean) =>
    defineHead({
      name,
      summary: 'test head',
      usesPrototypes,
      options: z.strictObject({}),
      build: ({ classes, prototypes }) => (
        calls.push(`${name}.build`),
        { outputUnits: prototypes?.cols ?? classes, loss: h.mean(h.output()), scores: h.output(), scoresName: 'scores', constants: {} }
      ),
    });
  const engine = defineEngine({
    name: 'fake',
    summary: 'test engine',
    priority: 1,
    options: z.strictObject({}),
    probe: async () => ({ ok: true as const, backend: 'fake/cpu', skipped: [] }),
    async train(_ctx, job) {
      calls.push('engine.train');
      if (script.trainThrows !== undefined) throw script.trainThrows;
      return {
        bestEpoch: 1,
        backend: 'fake/cpu',
        history: [{ epoch: 1, trainLoss: 1, validationLoss: 1, validationAccuracy: 1, seconds: 0 }],
        ...(script.validationPredictions ? { validationPredictions: script.validationPredictions } : {}),
        model: {
          inputWidth: 2,
          classes: job.dataset.classes,
          trainer: job.trainer,
          head: job.head,
          weights: [],
          async predict(features) {
            modelCalls.push(`predict ${features.rows}`);
            if (script.predictThrows !== undefined) throw script.predictThrows;
            return { scores: createMatrix(features.rows, job.dataset.classes), labels: labelsOf(features) };
          },
          ...(script.labelsOnly
            ? {
                async predictLabels(features: Matrix) {
                  modelCalls.push(`predictLabels ${features.rows}`);
                  return labelsOf(features);
                },
              }
            : {}),
          dispose() {
            modelCalls.push('dispose');
          },
        },
      };
    },
  });
  const evaluator = defineEvaluator({
    name: 'classification',
    summary: 'test evaluator',
    options: z.strictObject({}),
    evaluate({ labels, predictions }) {
      calls.push('evaluate');
      if (script.evaluateThrows !== undefined) throw script.evaluateThrows;
      return { accuracy: labels.filter((label, i) => label === predictions[i]).length / labels.length };
    },
  });
  const registry = createRegistry([
    dataset,
    // The same data with nothing said before it exists, and with a class count that generate does not keep.
    defineDataset({ ...dataset, name: 'quiet-blobs', describe: undefined }),
    defineDataset({ ...dataset, name: 'lying-blobs', describe: ({ classes }) => ({ classes: classes + 1 }) }),
    strategy('few', 3),
    strategy('many', 100),
    strategy('some', 10),
    head('flat', false),
    head('sphere', true),
    engine,
    evaluator,
  ]);
  return { registry, calls, modelCalls, received, parses: () => parses };
}

const spec = (extra: Record<string, unknown> = {}) => ({
  dataset: { name: 'blobs', options: { classes: 4 } },
  head: { name: 'flat' },
  ...extra,
});

describe('runExperiment at the plugin boundary', () => {
  it('runs every hook once with options parsed exactly once, asking unsupported before any work too', async () => {
    const { registry, calls, received, parses } = fixture();
    const outcome = await runExperiment(registry, spec({ head: { name: 'sphere' }, prototypes: { strategy: 'some', dims: 3 } }));
    expect(parses()).toBe(1);
    expect(received.dataset).toEqual({ classes: 5 });
    expect(outcome.dataset.classes).toBe(5);
    // The dataset's describe gives the class count, so the strategy is asked before the data is made.
    expect(calls).toEqual([
      'dataset.describe',
      'some.unsupported',
      'dataset.generate',
      'some.unsupported',
      'some.generate',
      'sphere.build',
      'engine.train',
      // The test split, the validation split, the class-mean baseline.
      'evaluate',
      'evaluate',
      'evaluate',
    ]);
  });

  it('asks unsupported before generate and names the strategies that can', async () => {
    const { registry, calls } = fixture();
    const failure = runExperiment(registry, spec({ head: { name: 'sphere' }, prototypes: { strategy: 'few', dims: 3 } }));
    await expect(failure).rejects.toMatchObject({
      code: ErrorCode.Unsupported,
      pluginId: 'prototypes:few',
      message: 'prototype strategy "few" cannot make 5 prototypes in 3 dimensions: at most 3 classes',
      hint: 'Strategies that can: many, some.',
    });
    expect(calls).not.toContain('few.generate');
  });

  it('refuses a size the strategy cannot make before the dataset generates, when its describe gives the class count', async () => {
    const { registry, calls } = fixture();
    const failure = runExperiment(registry, spec({ head: { name: 'sphere' }, prototypes: { strategy: 'few', dims: 3 } }));
    await expect(failure).rejects.toMatchObject({ code: ErrorCode.Unsupported });
    expect(calls.slice(0, 2)).toEqual(['dataset.describe', 'few.unsupported']);
    expect(calls).not.toContain('dataset.generate');
  });

  it('asks the strategy only once the data exists when the dataset does not describe its class count', async () => {
    const { registry, calls } = fixture();
    const quiet = { dataset: { name: 'quiet-blobs', options: { classes: 4 } }, head: { name: 'sphere' } };
    const failure = runExperiment(registry, { ...quiet, prototypes: { strategy: 'few', dims: 3 } });
    await expect(failure).rejects.toMatchObject({ code: ErrorCode.Unsupported, message: /cannot make 5 prototypes/ });
    expect(calls.slice(0, 2)).toEqual(['dataset.generate', 'few.unsupported']);
  });

  it('refuses a dataset whose describe disagrees with what it generated, naming it', async () => {
    const { registry } = fixture();
    const lying = { dataset: { name: 'lying-blobs', options: { classes: 4 } }, head: { name: 'flat' } };
    await expect(runExperiment(registry, lying)).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      pluginId: 'dataset:lying-blobs',
      message: 'dataset:lying-blobs: describe said 6 classes, generate gave 5',
    });
  });

  it("refuses values a plugin hands back against the contract as that plugin's error: non-unit prototypes, labels outside the classes", async () => {
    const { registry } = fixture();
    registry.register(
      definePrototypeStrategy({
        name: 'doubled',
        summary: 'rows of norm 2',
        options: z.strictObject({}),
        generate(_ctx, { classes, dims }) {
          const m = createMatrix(classes, dims);
          for (let i = 0; i < classes; i++) m.data[i * dims + (i % dims)] = 2;
          return m;
        },
      }),
    );
    await expect(
      runExperiment(registry, spec({ head: { name: 'sphere' }, prototypes: { strategy: 'doubled', dims: 5 } })),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      pluginId: 'prototypes:doubled',
      message: 'prototypes:doubled: generate() returned prototype 0 of L2 norm 2.00000; expected unit rows (normalise each row)',
      hint: expect.stringMatching(/^This is an error in the plugin prototypes:doubled: /),
    });
    const blobs = registry.get('dataset', 'blobs');
    registry.register(
      defineDataset({
        ...blobs,
        name: 'mislabelled',
        async generate(ctx, options) {
          const made = await blobs.generate(ctx, options);
          made.test.labels[4] = 99;
          return made;
        },
      }),
    );
    await expect(runExperiment(registry, spec({ dataset: { name: 'mislabelled', options: { classes: 4 } } }))).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      pluginId: 'dataset:mislabelled',
      message: 'dataset:mislabelled: test split has label 99 at row 4, outside [0, 5)',
    });
  });

  it('hands on the feature names of a dataset, and refuses a list of another length than the input width', async () => {
    const named = await runExperiment(fixture({ featureNames: ['width', 'height'] }).registry, spec());
    expect(named.dataset.featureNames).toEqual(['width', 'height']);
    await expect(runExperiment(fixture({ featureNames: ['width'] }).registry, spec())).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      pluginId: 'dataset:blobs',
      message: 'dataset:blobs: featureNames has 1 name for input width 2; give one name (a string) per input feature',
    });
  });

  it('refuses a prototype matrix too large to allocate, with the memory it would need', () => {
    expect(prototypeMatrixProblem({ classes: 100_000, dims: 100_000 })).toMatch(/would need 37\.3 GiB; at most 8 GiB/);
    expect(prototypeMatrixProblem({ classes: 100_000, dims: 100 })).toBeUndefined();
  });

  it('refuses a network too large to allocate before the dataset or prototypes are made, naming the option to lower', async () => {
    const { registry, calls } = fixture();
    const wide = spec({ head: { name: 'sphere' }, prototypes: { strategy: 'many', dims: 100_000_000 } });
    // The dataset describes its classes only: its input kernel, of a width not known yet, is not counted.
    await expect(runExperiment(registry, wide)).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringMatching(/its output layer is 300 x 100000000\); lower --dims \(prototypes\.dims\) to at most 2385792$/),
    });
    expect(calls).toEqual(['dataset.describe']);
    await expect(runExperiment(registry, spec({ trainer: { hiddenUnits: 100_000_000 } }))).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringMatching(/lower --hidden-units \(trainer\.hiddenUnits\) to at most \d+$/),
    });
    expect(calls).not.toContain('dataset.generate');
  });

  it('checks the sizes again once the data and the head say them, before the engine trains', async () => {
    const { registry, calls } = fixture();
    registry.register(
      defineHead({
        name: 'wide',
        summary: 'a head with a huge output layer',
        usesPrototypes: false,
        options: z.strictObject({}),
        build: () => ({ outputUnits: 100_000_000, loss: h.mean(h.output()), scores: h.output(), scoresName: 'scores', constants: {} }),
      }),
    );
    await expect(runExperiment(registry, spec({ head: { name: 'wide' } }))).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringMatching(
        /its output layer is 300 x 100000000\); lower the options of head:wide or the classes to at most \d+$/,
      ),
    });
    expect(calls).toContain('dataset.generate');
    expect(calls).not.toContain('engine.train');
  });

  it('reports a plain Error from a dataset as E_PLUGIN_FAILED naming it, with the original as cause', async () => {
    const original = new Error('disk on fire');
    const { registry } = fixture({ datasetThrows: original });
    const error = await runExperiment(registry, spec()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.PluginFailed, pluginId: 'dataset:blobs', message: 'dataset:blobs failed: disk on fire' });
    expect((error as Error).cause).toBe(original);
  });

  it("passes an engine's own error on as the same object, tagged once, its fields intact", async () => {
    const diverged = new DivergedError({ bestEpoch: 1 });
    const stack = diverged.stack;
    const { registry } = fixture({ trainThrows: diverged });
    await expect(runExperiment(registry, spec())).rejects.toBe(diverged);
    expect(diverged).toMatchObject({
      pluginId: 'engine:fake',
      message: 'engine:fake: loss became NaN at epoch 2',
      partial: { bestEpoch: 1 },
    });
    expect(diverged.stack).toBe(stack);
  });

  it("tags an evaluator's failure and a trained model's failure with their plugins", async () => {
    await expect(runExperiment(fixture({ evaluateThrows: new RangeError('no classes') }).registry, spec())).rejects.toMatchObject({
      code: ErrorCode.PluginFailed,
      pluginId: 'evaluator:classification',
      message: 'evaluator:classification failed: no classes',
    });
    await expect(
      runExperiment(
        fixture({ predictThrows: new HyperprotoError(ErrorCode.TrainingFailed, 'out of memory in inference') }).registry,
        spec(),
      ),
    ).rejects.toMatchObject({
      code: ErrorCode.TrainingFailed,
      pluginId: 'engine:fake',
      message: 'engine:fake: out of memory in inference',
    });
  });

  it('predicts labels alone when the model can, else with predict, and takes the validation labels the engine hands over', async () => {
    // 5 classes, 15 rows a split, every prediction right.
    const withScores = fixture();
    const plain = await runExperiment(withScores.registry, spec());
    expect(withScores.modelCalls).toEqual(['predict 15', 'predict 15']);
    expect(plain.testPredictions).toEqual(plain.dataset.test.labels);
    expect(plain.validationMetrics).toEqual({ classification: { accuracy: 1 } });

    const labelsOnly = fixture({ labelsOnly: true });
    const alone = await runExperiment(labelsOnly.registry, spec());
    expect(labelsOnly.modelCalls).toEqual(['predictLabels 15', 'predictLabels 15']);
    expect([alone.metrics, alone.validationMetrics]).toEqual([plain.metrics, plain.validationMetrics]);

    // Labels that are right on 3 validation rows of 15: the metrics are those of the labels handed over.
    const handed = Int32Array.from({ length: 15 }, (_, i) => (i < 3 ? i % 5 : (i + 1) % 5));
    const kept = fixture({ labelsOnly: true, validationPredictions: handed });
    const outcome = await runExperiment(kept.registry, spec());
    expect(kept.modelCalls).toEqual(['predictLabels 15']);
    expect(outcome.validationMetrics).toEqual({ classification: { accuracy: 3 / 15 } });
    expect(outcome.metrics).toEqual(plain.metrics);
  });

  it('refuses validation labels of the wrong count or outside the classes, and disposes the model of a run that fails', async () => {
    for (const [wrong, problem] of [
      [new Int32Array(14), '14 labels for 15 rows'],
      [Int32Array.from({ length: 15 }, (_, i) => (i === 7 ? 5 : 0)), 'label 5 at row 7, outside [0, 5)'],
    ] as const) {
      const { registry, modelCalls } = fixture({ validationPredictions: wrong });
      await expect(runExperiment(registry, spec())).rejects.toMatchObject({
        code: ErrorCode.InvalidPlugin,
        pluginId: 'engine:fake',
        message: `engine:fake: its validation predictions have ${problem}`,
      });
      expect(modelCalls).toEqual(['predict 15', 'dispose']);
    }
    const failing = fixture({ evaluateThrows: new RangeError('no classes') });
    await expect(runExperiment(failing.registry, spec())).rejects.toMatchObject({ pluginId: 'evaluator:classification' });
    expect(failing.modelCalls).toEqual(['predict 15', 'dispose']);
    const succeeding = fixture();
    await runExperiment(succeeding.registry, spec());
    // The caller owns the model of a run that succeeds.
    expect(succeeding.modelCalls).not.toContain('dispose');
  });

  it('refuses bad options before any plugin runs', async () => {
    const { registry, calls } = fixture();
    await expect(runExperiment(registry, spec({ dataset: { name: 'blobs', options: { classes: 1 } } }))).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringMatching(/^dataset:blobs classes: /),
    });
    await expect(
      runExperiment(registry, spec({ head: { name: 'sphere' }, prototypes: { strategy: 'some', options: { limit: 'x' } } })),
    ).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringMatching(/^prototypes:some limit: /),
    });
    expect(calls).toEqual([]);
  });
});

/** The simplest store: keeps everything, hands out structured clones. */
function mapStore(): ExperimentInputs & { readonly keys: string[] } {
  const kept = new Map<string, unknown>();
  return {
    keys: [],
    async reuse<T>(key: string, make: () => Promise<T>) {
      if (kept.has(key)) return { value: structuredClone(kept.get(key)) as T, reused: true };
      const value = await make();
      kept.set(key, structuredClone(value));
      this.keys.push(key);
      return { value, reused: false };
    },
  };
}

describe('runExperiment with a store of shared inputs', () => {
  const prototypeSpec = (datasetOptions: Record<string, unknown>, seed = 0) =>
    spec({
      seed,
      dataset: { name: 'blobs', options: datasetOptions },
      head: { name: 'sphere' },
      prototypes: { strategy: 'some', dims: 3 },
    });

  it('takes the dataset, its baseline and the prototypes from the store when options (defaults filled) and seed match', async () => {
    const { registry, calls } = fixture();
    const inputs = mapStore();
    const first = await runExperiment(registry, prototypeSpec({ classes: 3 }), { inputs });
    expect(first.reused).toEqual([]);
    expect(calls.filter((c) => c.endsWith('.generate'))).toEqual(['dataset.generate', 'some.generate']);

    // {} parses to the same options as { classes: 3 } (the default is 3): the same dataset.
    calls.length = 0;
    const second = await runExperiment(registry, prototypeSpec({}), { inputs });
    expect(second.reused).toEqual(['dataset', 'baseline', 'prototypes']);
    expect(calls.filter((c) => c.endsWith('.generate'))).toEqual([]);
    expect(second.dataset).toEqual(first.dataset);
    expect(second.dataset.train.features).not.toBe(first.dataset.train.features);
    expect(second.prototypes).toEqual(first.prototypes);
    expect(second.metrics).toEqual(first.metrics);
    expect(second.baselineMetrics).toEqual(first.baselineMetrics);
    expect(second.inputKeys).toEqual(first.inputKeys);
    expect(first.inputKeys.dataset).toMatch(/^dataset:blobs seed=0 /);
    expect(first.inputKeys.prototypes).toMatch(/^prototypes:some 4x3 seed=0 /);
    // What a scheduler computes before the run is what the run asks the store for.
    expect(plannedInputKeys(registry, parseExperimentSpec(prototypeSpec({})))).toEqual(second.inputKeys);

    // Another seed or other options: made again, under other keys.
    calls.length = 0;
    const reseeded = await runExperiment(registry, prototypeSpec({}, 1), { inputs });
    const wider = await runExperiment(registry, prototypeSpec({ classes: 5 }), { inputs });
    expect([reseeded.reused, wider.reused]).toEqual([[], []]);
    expect(calls.filter((c) => c.endsWith('.generate'))).toEqual([
      'dataset.generate',
      'some.generate',
      'dataset.generate',
      'some.generate',
    ]);
    expect(inputs.keys).toHaveLength(9);
  });

  it('times every stage: the stages add up to no more than the run', async () => {
    const { registry } = fixture();
    const outcome = await runExperiment(registry, prototypeSpec({}), { inputs: mapStore() });
    const { total, ...stages } = outcome.seconds;
    expect(Object.keys(stages).sort()).toEqual(['baseline', 'data', 'evaluation', 'prototypes', 'setup', 'training']);
    for (const value of Object.values(stages)) expect(value).toBeGreaterThanOrEqual(0);
    expect(Object.values(stages).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(total);
  });
});
