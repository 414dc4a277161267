import {
  createMatrix,
  createRng,
  ErrorCode,
  h,
  HEAD_PARAM_WEIGHT_PREFIX,
  headParamData,
  headParams,
  headParamWeights,
  isHyperprotoError,
  type Dataset,
  type DatasetSplit,
  type EnginePlugin,
  type HeadDefinition,
  type HeadPlugin,
  type PluginContext,
  predictModelLabels,
  type TrainerSettings,
  type TrainingResult,
} from '@hyperproto/core';
import { mlpShape, mlpWeightsByRole, mlpWeightSpecs, TrainingFailedError } from '@hyperproto/mlp';
import type { ConformanceCase } from './conformance-case.js';
import { conformanceError, describeError } from './conformance-error.js';
import { headTestPrototypes } from './head-test-prototypes.js';
import { parseOptions, pluginIdOf } from './plugin-calls.js';
import { sameBytes } from './same-bytes.js';

export interface EngineConformanceOptions {
  /**
   * Heads to train with (e.g. softmax and hpn), built by the suite for 4 classes (prototypes: the signed axes of 4
   * dims). The first one that needs no prototypes is the suite's plain classifier; it must have one output unit per class.
   */
  readonly heads: readonly HeadPlugin[];
  /** The engine's options, before its schema. */
  readonly options?: unknown;
  /**
   * The engine's models must have `predictLabels` (the built-in engines' do). Without it, `predictLabels` is checked
   * where a model has it, and a model without it is predicted through core's chunked `predict`.
   */
  readonly requirePredictLabels?: boolean;
  /**
   * The engine trains with @hyperproto/mlp's epoch loop (`runMlpTraining`), as the built-in engines do: a run that
   * diverges must then fail with that loop's `TrainingFailedError`.
   */
  readonly usesMlpTrainingLoop?: boolean;
  /**
   * A head with learned parameters (`h.param`, e.g. bottleneck-softmax with `{ dims: 6 }`), built for 4 classes:
   * checked to train its parameters with the network, deterministically for a seed.
   */
  readonly learnedParamsHead?: HeadWithOptions;
  /**
   * A head whose options take core's `sampledShare` (e.g. bottleneck-softmax with `{ dims: 8 }`), built for 40
   * classes: checked to learn on a class sample per step, to train with a share of 1 (or a sample as large as the
   * classes) exactly as without sampling, and to refuse a share outside (0, 1].
   */
  readonly sampledHead?: HeadWithOptions;
}

/** A head plugin and the options to build it with, before its schema. */
export interface HeadWithOptions {
  readonly plugin: HeadPlugin;
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface BlobsOptions {
  readonly classes?: number;
  readonly width?: number;
  /** Training rows; validation and test get half as many each. */
  readonly rows?: number;
  /** Spread of each class around its centre: the classes are separable when it is small. */
  readonly sd?: number;
  /** Multiplies every feature (1e30: extreme features that no training survives). */
  readonly scale?: number;
  /** Labels drawn at random, independent of the features: nothing to learn. */
  readonly randomLabels?: boolean;
}

/** Gaussian blobs around class centres drawn from [-1, 1]^width: the toy dataset every engine is tested on. */
export function engineTestDataset(
  seed: number,
  { classes = 4, width = 20, rows = 240, sd = 0.5, scale = 1, randomLabels = false }: BlobsOptions = {},
): Dataset {
  const rng = createRng(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: width }, () => 2 * rng.float() - 1));
  const split = (n: number): DatasetSplit => {
    const features = new Float32Array(n * width);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = rng.int(classes);
      labels[i] = randomLabels ? rng.int(classes) : c;
      for (let j = 0; j < width; j++) features[i * width + j] = (centres[c]![j]! + sd * rng.normal()) * scale;
    }
    return { features: createMatrix(n, width, features), labels };
  };
  return { classes, inputWidth: width, train: split(rows), validation: split(rows / 2), test: split(rows / 2), info: {} };
}

/** The small trainer every case starts from. */
export const ENGINE_TEST_TRAINER: TrainerSettings = {
  hiddenUnits: 16,
  hiddenLayers: 2,
  dropout: 0.1,
  batchSize: 32,
  learningRate: 0.01,
  patience: 5,
  maxEpochs: 15,
};

const CLASSES = 4;
const context = (seed: number, extra: Partial<PluginContext> = {}): PluginContext => ({ seed, rng: createRng(seed), ...extra });

/** A seeded plugin context for an engine test. */
export const engineTestContext = context;

/**
 * The head `plugin` builds for `classes` classes (4, the suite's) with `options` (its defaults when none); one with
 * prototypes gets the signed axes.
 */
export function engineTestHead(plugin: HeadPlugin, classes = CLASSES, options: unknown = {}): HeadDefinition {
  return plugin.build(
    plugin.usesPrototypes ? { classes, prototypes: headTestPrototypes(classes, classes, 1) } : { classes },
    parseOptions(plugin, options),
  );
}

/** A run's history (times left out) and every weight it ended with, the head's parameters included, as one string. */
function trainedNumbers(result: TrainingResult): string {
  return JSON.stringify([
    result.history.map(({ seconds: _, ...rest }) => rest),
    [...result.model.weights, ...headParamWeights(result.model.head)].map((w) => [...w.data]),
  ]);
}

/** Fraction of the split's rows whose predicted label is the true one. */
export async function engineTestAccuracy(result: Pick<TrainingResult, 'model'>, split: DatasetSplit): Promise<number> {
  const { labels } = await result.model.predict(split.features);
  return labels.filter((label, i) => label === split.labels[i]).length / labels.length;
}

/** Where two label arrays first differ, or undefined when they hold the same labels. */
function firstDifference(a: Int32Array, b: Int32Array): string | undefined {
  if (sameBytes(a, b)) return undefined;
  if (a.length !== b.length) return `${a.length} labels against ${b.length}`;
  const row = a.findIndex((label, i) => label !== b[i]);
  return `row ${row}: ${a[row]} against ${b[row]}, ${a.filter((label, i) => label !== b[i]).length} rows differ`;
}

/**
 * What every training engine promises, on small problems through its plugin interface: it probes, learns a
 * separable problem with every head given, predicts the same labels alone (`predictLabels`, ties included) as with
 * their scores, hands over the kept model's validation labels exactly, exposes the engine-neutral weights, is
 * deterministic for a seed, keeps
 * the best epoch by the shared stopping rule, logs the test split's scores with `traceTest` without changing what it
 * trains or keeps, turns diverging training into E_TRAINING_FAILED with the best model so far, stops on abort, and
 * refuses jobs it cannot train before it starts. Given such heads, it also trains a head's learned parameters and
 * trains on a class sample per step (sampled softmax).
 */
export function engineConformance(engine: EnginePlugin, options: EngineConformanceOptions): ConformanceCase[] {
  const id = pluginIdOf(engine);
  const check = (condition: boolean, message: string): void => {
    if (!condition) throw conformanceError(id, message);
  };
  const train = (ctx: PluginContext, job: { dataset: Dataset; head: HeadDefinition; trainer: TrainerSettings }) =>
    engine.train(ctx, job, parseOptions(engine, options.options));
  const probeEngine = () => engine.probe(parseOptions(engine, options.options));
  /** What `promise` rejected with, or a conformance error when it resolved. */
  const rejection = async (promise: Promise<TrainingResult>, what: string): Promise<unknown> => {
    const outcome = await promise.then(
      (result) => {
        result.model.dispose();
        return { resolved: true as const };
      },
      (error: unknown) => ({ resolved: false as const, error }),
    );
    if (outcome.resolved) throw conformanceError(id, `${what} trained without an error; expected it to be refused`);
    return outcome.error;
  };
  const expectCode = (error: unknown, code: ErrorCode, what: string, message?: RegExp): void => {
    const ok = isHyperprotoError(error) && error.code === code && (!message || message.test(error.message));
    check(ok, `${what} failed with ${describeError(error)}; expected ${code}${message ? ` with a message matching ${message}` : ''}`);
  };

  /**
   * The labels of `predict` on `split` are those of `predictLabels` (where the model has one), of `predict` over a
   * few rows at a time (core's way for a model without it) and, on the validation split, the result's
   * `validationPredictions` (where the engine hands them over), byte for byte.
   */
  const checkLabelsOnly = async (result: TrainingResult, splits: Readonly<Record<string, DatasetSplit>>): Promise<Int32Array[]> => {
    const { model } = result;
    check(
      model.predictLabels !== undefined || !options.requirePredictLabels,
      'its trained model has no predictLabels; expected one (requirePredictLabels)',
    );
    const expected: Int32Array[] = [];
    for (const [name, split] of Object.entries(splits)) {
      const { labels } = await model.predict(split.features);
      expected.push(labels);
      if (model.predictLabels) {
        const alone = firstDifference(await model.predictLabels(split.features), labels);
        check(alone === undefined, `predictLabels and predict's labels differ on the ${name} split at ${alone}; expected the same labels`);
      }
      const byRows = { classes: model.classes, predict: (features: typeof split.features) => model.predict(features) };
      const chunked = firstDifference(await predictModelLabels(byRows, split.features, { maxScores: 7 * model.classes }), labels);
      check(chunked === undefined, `predict 7 rows at a time and all at once give different labels on the ${name} split at ${chunked}`);
      if (name === 'validation' && result.validationPredictions) {
        const handed = firstDifference(result.validationPredictions, labels);
        check(handed === undefined, `its validationPredictions are not the kept model's validation labels: ${handed}`);
      }
    }
    return expected;
  };

  const build = (plugin: HeadPlugin): HeadDefinition => engineTestHead(plugin);
  const classifier = options.heads.find((plugin) => !plugin.usesPrototypes);
  const withConstants = options.heads.find((plugin) => plugin.usesPrototypes);
  const plain = (): HeadDefinition => {
    if (!classifier) throw conformanceError(id, 'the suite was given no head without prototypes (e.g. softmax); expected one');
    const head = build(classifier);
    check(
      head.outputUnits === CLASSES,
      `head ${classifier.name} has ${head.outputUnits} outputs for ${CLASSES} classes; expected one per class`,
    );
    return head;
  };

  function learnedParamsCase({ plugin, options: headOptions }: HeadWithOptions): ConformanceCase {
    return {
      name: `trains the learned parameters of the ${plugin.name} head with the network: the loss falls, the same seed gives the same numbers`,
      run: async () => {
        const head = engineTestHead(plugin, CLASSES, headOptions);
        const specs = [...headParams(head).values()];
        check(specs.length > 0, `head ${plugin.name} has no learned parameters (h.param); expected a head that has some`);
        const dataset = engineTestDataset(21, { rows: 160 });
        const job = { dataset, head, trainer: { ...ENGINE_TEST_TRAINER, maxEpochs: 4, patience: 10 } };
        const [a, b, c] = [await train(context(21), job), await train(context(21), job), await train(context(22), job)];
        try {
          const [first, last] = [a.history[0]!.trainLoss, a.history.at(-1)!.trainLoss];
          check(last < 0.7 * first, `the training loss went from ${first} to ${last}; expected it below 0.7 times its first value`);
          const trained = headParamWeights(a.model.head);
          const names = trained.map((w) => `${w.name} [${w.shape.join(',')}]`);
          const expected = specs.map((spec) => `${HEAD_PARAM_WEIGHT_PREFIX}${spec.name} [${spec.shape.join(',')}]`);
          check(
            JSON.stringify(names) === JSON.stringify(expected),
            `the trained model's head has parameters ${names.join(', ')}; expected ${expected.join(', ')}`,
          );
          // A parameter that starts at fixed values (zeros, a value) has left them: trained, not only carried along.
          for (const spec of specs.filter((s) => s.init !== 'glorotUniform')) {
            const start = headParamData(spec);
            const now = trained.find((w) => w.name === `${HEAD_PARAM_WEIGHT_PREFIX}${spec.name}`)!;
            check(
              now.data.some((v, i) => v !== Math.fround(start[i]!)),
              `head parameter "${spec.name}" is still at its start after training`,
            );
          }
          check(trainedNumbers(b) === trainedNumbers(a), 'two runs with one seed end with different histories or weights');
          check(trainedNumbers(c) !== trainedNumbers(a), 'runs with seeds 21 and 22 end with the same histories and weights');
          // The model predicts with its trained parameters.
          const accuracy = await engineTestAccuracy(a, dataset.test);
          check(accuracy > 0.9, `test accuracy ${accuracy} on well-separated blobs; expected more than 0.9`);
        } finally {
          for (const r of [a, b, c]) r.model.dispose();
        }
      },
    };
  }

  function classSampleCases({ plugin, options: headOptions }: HeadWithOptions): ConformanceCase[] {
    const classes = 40;
    const sampledHead = (sampledShare: number) => engineTestHead(plugin, classes, { ...headOptions, sampledShare });
    const dataset = () => engineTestDataset(23, { classes, rows: 800 });
    const trainer = { ...ENGINE_TEST_TRAINER, maxEpochs: 6, patience: 10 };
    return [
      {
        name: `learns on 32 of 40 classes per step with the ${plugin.name} head (sampledShare 0.25), and the same seed gives the same numbers`,
        run: async () => {
          const head = sampledHead(0.25);
          check(
            head.sampledShare === 0.25,
            `head ${plugin.name} built with sampledShare 0.25 has sampledShare ${head.sampledShare}; expected a head that trains on a class sample`,
          );
          const job = { dataset: dataset(), head, trainer };
          const test = job.dataset.test;
          const [a, b, c] = [await train(context(23), job), await train(context(23), job), await train(context(24), job)];
          try {
            const [first, last] = [a.history[0]!.trainLoss, a.history.at(-1)!.trainLoss];
            check(last < 0.5 * first, `the training loss went from ${first} to ${last}; expected it below 0.5 times its first value`);
            // Evaluated on every class: far above chance (1/40), and about as well as the full softmax on this data.
            const full = await train(context(23), { ...job, head: sampledHead(1) });
            const [sampled, unsampled] = [await engineTestAccuracy(a, test), await engineTestAccuracy(full, test)];
            full.model.dispose();
            check(sampled > 0.4, `test accuracy ${sampled} on 40 classes; expected more than 0.4`);
            check(
              sampled > unsampled - 0.1,
              `test accuracy ${sampled} with a class sample, ${unsampled} without; expected at most 0.1 less`,
            );
            check(trainedNumbers(b) === trainedNumbers(a), 'two runs with one seed end with different histories or weights');
            check(trainedNumbers(c) !== trainedNumbers(a), 'runs with seeds 23 and 24 end with the same histories and weights');
          } finally {
            for (const r of [a, b, c]) r.model.dispose();
          }
        },
      },
      {
        name: `trains the ${plugin.name} head with a sampled share of 1, or a sample as large as the classes, exactly as unsampled`,
        run: async () => {
          const plainHead = sampledHead(1);
          // The sampled expressions with a share of 1, and with a share whose sample would hold every class.
          const sampledExpressions = sampledHead(0.25);
          const shortTrainer = { ...trainer, maxEpochs: 2 };
          const wideBatches = { ...shortTrainer, batchSize: classes };
          const data = dataset();
          const runs = [
            await train(context(25), { dataset: data, head: plainHead, trainer: shortTrainer }),
            await train(context(25), { dataset: data, head: { ...sampledExpressions, sampledShare: 1 }, trainer: shortTrainer }),
            await train(context(25), { dataset: data, head: sampledExpressions, trainer: wideBatches }),
            await train(context(25), { dataset: data, head: plainHead, trainer: wideBatches }),
          ];
          try {
            check(
              trainedNumbers(runs[1]!) === trainedNumbers(runs[0]!),
              'the sampled expressions with a share of 1 train differently from the unsampled head',
            );
            check(
              trainedNumbers(runs[2]!) === trainedNumbers(runs[3]!),
              `a share of 0.25 with batches of ${classes} rows (a sample of every class) trains differently from the unsampled head`,
            );
          } finally {
            for (const r of runs) r.model.dispose();
          }
        },
      },
      {
        name: `refuses the ${plugin.name} head with a sampled share outside (0, 1] before training`,
        run: async () => {
          const head = { ...sampledHead(0.25), sampledShare: 1.5 };
          expectCode(
            await rejection(train(context(26), { dataset: dataset(), head, trainer }), 'a sampled share of 1.5'),
            ErrorCode.InvalidInput,
            'a sampled share of 1.5',
            /sampled share of 1\.5, which is outside \(0, 1\]/,
          );
        },
      },
    ];
  }

  const cases: ConformanceCase[] = [
    {
      name: 'probes ok and refuses options it does not know',
      run: async () => {
        const probe = await probeEngine();
        check(probe.ok, `its probe says it cannot run: ${probe.ok ? '' : probe.reason}; expected an engine that runs here`);
        check(probe.ok && typeof probe.backend === 'string' && probe.backend.length > 0, 'its probe names no backend');
        check(engine.options.safeParse(options.options ?? {}).success, 'its options schema refuses the options given to the suite');
        check(
          !engine.options.safeParse({ notAnOption: 2 }).success,
          'its options schema accepts an unknown option; expected a strict schema',
        );
      },
    },
    ...options.heads.map(
      (plugin): ConformanceCase => ({
        name: `learns a separable problem with the ${plugin.name} head, reporting each epoch`,
        run: async () => {
          const dataset = engineTestDataset(plugin.usesPrototypes ? 2 : 1);
          const progress: string[] = [];
          const trainer = ENGINE_TEST_TRAINER;
          const ctx = context(1, { progress: (done, total, label) => progress.push(`${done}/${total} ${label}`) });
          const result = await train(ctx, { dataset, head: build(plugin), trainer });
          try {
            const probe = await probeEngine();
            check(
              probe.ok && result.backend === probe.backend,
              `it reports backend ${result.backend}; its probe said ${probe.ok && probe.backend}`,
            );
            const accuracy = await engineTestAccuracy(result, dataset.test);
            check(accuracy > 0.9, `test accuracy ${accuracy} on well-separated blobs; expected more than 0.9`);
            check(
              result.history.length >= 1 && result.history.length <= trainer.maxEpochs,
              `${result.history.length} epochs; expected 1 to ${trainer.maxEpochs}`,
            );
            check(
              result.bestEpoch >= 1 && result.bestEpoch <= result.history.length,
              `bestEpoch ${result.bestEpoch} outside the ${result.history.length} epochs`,
            );
            check(progress.length === result.history.length, `${progress.length} progress reports for ${result.history.length} epochs`);
            check(
              /^1\/15 loss \d+\.\d{3} val acc \d\.\d{3}$/.test(progress[0] ?? ''),
              `first progress report "${progress[0]}"; expected "1/15 loss L val acc A"`,
            );
            result.history.forEach((record, i) => {
              check(record.epoch === i + 1, `history[${i}] is epoch ${record.epoch}; expected ${i + 1}`);
              check(record.seconds > 0, `epoch ${record.epoch} took ${record.seconds} s; expected a positive time`);
              check(
                Number.isFinite(record.trainLoss) && Number.isFinite(record.validationLoss),
                `epoch ${record.epoch} has losses ${record.trainLoss} and ${record.validationLoss}; expected finite ones`,
              );
            });
            const { scores, labels } = await result.model.predict(dataset.test.features);
            check(
              scores.rows === labels.length && scores.cols === CLASSES,
              `scores are ${scores.rows} x ${scores.cols}; expected ${labels.length} x ${CLASSES}`,
            );
            labels.forEach((label, row) => {
              const rowScores = scores.data.subarray(row * CLASSES, (row + 1) * CLASSES);
              check(
                rowScores.every((score) => Number.isFinite(score) && score <= rowScores[label]!),
                `row ${row} is labelled ${label} but its scores are [${rowScores.join(', ')}]; expected the label to be the top score`,
              );
            });
            await checkLabelsOnly(result, { test: dataset.test, validation: dataset.validation });
          } finally {
            result.model.dispose();
          }
        },
      }),
    ),
    ...(withConstants
      ? [
          {
            name: `predicts the same labels alone as with scores when classes tie (the ${withConstants.name} head, two classes on one prototype)`,
            run: async () => {
              // Classes 0 and 1 share a prototype, so their scores are equal on every row: each row they win is a tie.
              const prototypes = headTestPrototypes(CLASSES, CLASSES, 1);
              prototypes.data.set(prototypes.data.subarray(0, CLASSES), CLASSES);
              const head = withConstants.build({ classes: CLASSES, prototypes }, parseOptions(withConstants, {}));
              const dataset = engineTestDataset(10, { rows: 160 });
              const result = await train(context(10), { dataset, head, trainer: { ...ENGINE_TEST_TRAINER, maxEpochs: 3 } });
              try {
                const [labels] = await checkLabelsOnly(result, { test: dataset.test, validation: dataset.validation });
                const { scores } = await result.model.predict(dataset.test.features);
                const ties = labels!.filter(
                  (label, row) => label < 2 && scores.data[row * CLASSES] === scores.data[row * CLASSES + 1],
                ).length;
                check(ties > 0, 'no test row has a tie between classes 0 and 1 at the top; expected the shared prototype to tie them');
              } finally {
                result.model.dispose();
              }
            },
          } satisfies ConformanceCase,
        ]
      : []),
    {
      name: 'exposes the engine-neutral weight names and shapes, with moving averages that moved',
      run: async () => {
        const dataset = engineTestDataset(3, { rows: 64 });
        const trainer = { ...ENGINE_TEST_TRAINER, hiddenUnits: 8, maxEpochs: 1 };
        const head = plain();
        const result = await train(context(3), { dataset, head, trainer });
        // The network of @hyperproto/mlp: [20 -> 8 -> 8 -> 4], its weights in their fixed order.
        const shape = mlpShape(dataset.inputWidth, trainer, head);
        const listed = (weights: readonly { name: string; shape: readonly number[] }[]) =>
          weights.map((w) => `${w.name} [${w.shape.join(',')}]`);
        const names = listed(result.model.weights);
        const expected = listed(mlpWeightSpecs(shape));
        check(JSON.stringify(names) === JSON.stringify(expected), `weights ${names.join(', ')}; expected ${expected.join(', ')}`);
        for (const weight of result.model.weights) {
          const size = weight.shape.reduce((a, b) => a * b, 1);
          check(weight.data.length === size, `${weight.name} has ${weight.data.length} values for shape [${weight.shape.join(',')}]`);
        }
        const firstLayer = mlpWeightsByRole(shape, result.model.weights, id).hidden[0]!;
        check(
          firstLayer.movingMean.data.some((v) => v !== 0),
          'the moving mean is still all 0 after training',
        );
        check(
          firstLayer.movingVariance.data.some((v) => v !== 1),
          'the moving variance is still all 1 after training',
        );
        const wrongWidth = await result.model.predict(createMatrix(2, 19)).then(
          () => undefined,
          (error: unknown) => error,
        );
        expectCode(wrongWidth, ErrorCode.InvalidInput, 'predict of 19 columns', /expects 20 columns/);
        const empty = await result.model.predict(createMatrix(0, 20));
        check(empty.labels.length === 0, `predict of 0 rows gave ${empty.labels.length} labels`);
        const { model } = result;
        if (model.predictLabels) {
          const wrongLabels = await model.predictLabels(createMatrix(2, 19)).then(
            () => undefined,
            (error: unknown) => error,
          );
          expectCode(wrongLabels, ErrorCode.InvalidInput, 'predictLabels of 19 columns', /expects 20 columns/);
          const none = await model.predictLabels(createMatrix(0, 20));
          check(none.length === 0, `predictLabels of 0 rows gave ${none.length} labels`);
        }
        result.model.dispose();
        const afterDispose = await result.model.predict(dataset.test.features).then(
          () => undefined,
          (error: unknown) => error,
        );
        check(/disposed/.test(String((afterDispose as Error | undefined)?.message)), 'predict after dispose did not fail as disposed');
        if (model.predictLabels) {
          const labelsAfterDispose = await model.predictLabels(dataset.test.features).then(
            () => undefined,
            (error: unknown) => error,
          );
          check(
            /disposed/.test(String((labelsAfterDispose as Error | undefined)?.message)),
            'predictLabels after dispose did not fail as disposed',
          );
        }
      },
    },
    {
      name: 'gives identical history and weights for the same seed, different ones for another seed',
      run: async () => {
        // Batches of 16 over 200 rows: a short last batch of 8.
        const job = {
          dataset: engineTestDataset(4, { rows: 200 }),
          head: plain(),
          trainer: { ...ENGINE_TEST_TRAINER, batchSize: 16, maxEpochs: 4, patience: 10 },
        };
        const [a, b, c] = [await train(context(11), job), await train(context(11), job), await train(context(12), job)];
        const withoutTime = (r: TrainingResult) => JSON.stringify(r.history.map(({ seconds: _, ...rest }) => rest));
        const weights = (r: TrainingResult) => JSON.stringify(r.model.weights.map((w) => [w.name, [...w.data]]));
        check(withoutTime(a) === withoutTime(b), 'two runs with one seed have different histories');
        check(a.bestEpoch === b.bestEpoch, 'two runs with one seed keep different epochs');
        check(weights(a) === weights(b), 'two runs with one seed end with different weights');
        check(weights(a) !== weights(c), 'runs with seeds 11 and 12 end with the same weights');
        check(withoutTime(a) !== withoutTime(c), 'runs with seeds 11 and 12 have the same history');
        for (const r of [a, b, c]) r.model.dispose();
      },
    },
    {
      name: 'trains a batch larger than the training split as one batch of the whole split (as Keras does)',
      run: async () => {
        const dataset = engineTestDataset(14, { rows: 96 });
        const trainer = { ...ENGINE_TEST_TRAINER, maxEpochs: 3, patience: 10 };
        const whole = await train(context(14), { dataset, head: plain(), trainer: { ...trainer, batchSize: 96 } });
        try {
          // Buffers sized by the batch size rather than by the rows a batch has would not fit in memory.
          const larger = await train(context(14), { dataset, head: plain(), trainer: { ...trainer, batchSize: 100_000_000 } });
          const numbers = trainedNumbers(larger);
          larger.model.dispose();
          check(numbers === trainedNumbers(whole), 'batches of 100,000,000 rows over a split of 96 trained otherwise than batches of 96');
        } finally {
          whole.model.dispose();
        }
      },
    },
    {
      name: 'logs test scores every epoch with traceTest, keeping the same epochs, kept epoch and weights',
      run: async () => {
        const dataset = engineTestDataset(13, { rows: 160 });
        const trainer = { ...ENGINE_TEST_TRAINER, maxEpochs: 6, patience: 2 };
        const plainRun = await train(context(13), { dataset, head: plain(), trainer });
        const traced = await train(context(13), { dataset, head: plain(), trainer: { ...trainer, traceTest: true } });
        try {
          const validationOnly = (r: TrainingResult) =>
            JSON.stringify(r.history.map((e) => [e.epoch, e.trainLoss, e.validationLoss, e.validationAccuracy, e.validationMacroF1]));
          const weights = (r: TrainingResult) => JSON.stringify(r.model.weights.map((w) => [w.name, [...w.data]]));
          check(validationOnly(traced) === validationOnly(plainRun), 'the test trace changed the training or validation history');
          check(
            traced.bestEpoch === plainRun.bestEpoch,
            `the test trace moved the kept epoch from ${plainRun.bestEpoch} to ${traced.bestEpoch}`,
          );
          check(weights(traced) === weights(plainRun), 'the test trace changed the kept weights');
          check(
            plainRun.history.every((e) => e.testAccuracy === undefined && typeof e.validationMacroF1 === 'number'),
            'without traceTest every epoch has a validation macro-F1 and no test scores',
          );
          const kept = traced.history[traced.bestEpoch - 1]!;
          check(
            traced.history.every((e) =>
              [e.testLoss, e.testAccuracy, e.testMacroF1].every((v) => typeof v === 'number' && Number.isFinite(v)),
            ),
            'with traceTest an epoch lacks its test loss, accuracy or macro-F1',
          );
          const accuracy = await engineTestAccuracy(traced, dataset.test);
          check(
            accuracy === kept.testAccuracy,
            `the kept model scores ${accuracy} on the test split; its epoch's trace recorded ${kept.testAccuracy}`,
          );
        } finally {
          plainRun.model.dispose();
          traced.model.dispose();
        }
      },
    },
    {
      name: 'stops early on a plateau and keeps the best epoch, whose validation accuracy the model reproduces',
      run: async () => {
        // Random labels: nothing to learn, so validation accuracy wanders and the validation loss climbs.
        const dataset = engineTestDataset(5, { rows: 160, randomLabels: true });
        const logs: string[] = [];
        const trainer = { ...ENGINE_TEST_TRAINER, learningRate: 0.02, patience: 3, maxEpochs: 40 };
        const result = await train(context(5, { log: (m) => logs.push(m) }), { dataset, head: plain(), trainer });
        try {
          check(result.history.length < 40, 'it trained all 40 epochs on random labels; expected early stopping');
          check(
            result.history.length === result.bestEpoch + trainer.patience,
            `it stopped after epoch ${result.history.length} with best epoch ${result.bestEpoch}; expected patience ${trainer.patience} epochs later`,
          );
          check(
            logs.some((m) => /early stopping after epoch \d+/.test(m)),
            'it logged no "early stopping after epoch N"',
          );
          const best = result.history[result.bestEpoch - 1]!;
          for (const record of result.history) {
            const better = record.validationAccuracy > best.validationAccuracy;
            const tieButLower = record.validationAccuracy === best.validationAccuracy && record.validationLoss < best.validationLoss;
            check(!better && !tieButLower, `epoch ${record.epoch} beats the kept epoch ${best.epoch}`);
          }
          const accuracy = await engineTestAccuracy(result, dataset.validation);
          check(
            accuracy === best.validationAccuracy,
            `the model scores ${accuracy} on validation; the kept epoch recorded ${best.validationAccuracy}`,
          );
          // The kept epoch is not the last one here: handed-over validation labels must be the kept epoch's.
          await checkLabelsOnly(result, { validation: dataset.validation });
        } finally {
          result.model.dispose();
        }
      },
    },
    {
      name: 'fails with E_TRAINING_FAILED when features are extreme (features x 1e30), tagged with the engine id once',
      run: async () => {
        const dataset = engineTestDataset(6, { rows: 64, scale: 1e30 });
        const error = await rejection(train(context(6), { dataset, head: plain(), trainer: ENGINE_TEST_TRAINER }), 'features x 1e30');
        expectCode(
          error,
          ErrorCode.TrainingFailed,
          'training on features x 1e30',
          new RegExp(`^${id}: (?!${id}).*at epoch 1, batch 1; lower the learning rate or check the features for extreme values$`),
        );
        check((error as { pluginId?: string }).pluginId === id, `the error's pluginId is ${(error as { pluginId?: string }).pluginId}`);
        check(
          !options.usesMlpTrainingLoop || error instanceof TrainingFailedError,
          `training on features x 1e30 failed with ${describeError(error)}; expected @hyperproto/mlp's TrainingFailedError (usesMlpTrainingLoop)`,
        );
      },
    },
    {
      name: 'reports a NaN loss with its epoch and batch, and keeps the best model so far usable',
      run: async () => {
        // sqrt(0.99 - p_true) turns NaN once the network grows confident, a few epochs in.
        const head = plain();
        const confident = h.mean(h.pow(h.sub(h.scalar(0.99), h.pickPerRow(h.softmax(h.output()), h.labels())), 0.5));
        const dataset = engineTestDataset(7);
        const job = {
          dataset,
          head: { ...head, loss: h.add(head.loss, confident) },
          trainer: { ...ENGINE_TEST_TRAINER, maxEpochs: 40, patience: 40 },
        };
        const error = await rejection(train(context(7), job), 'a loss that turns NaN');
        expectCode(
          error,
          ErrorCode.TrainingFailed,
          'a NaN loss',
          /training loss became NaN at epoch \d+, batch \d+; lower the learning rate/,
        );
        const { partial, hint } = error as { partial?: TrainingResult; hint?: string };
        check(partial !== undefined && partial.history.length >= 1, 'the error carries no partial result with the finished epochs');
        check(
          hint?.includes(`epoch ${partial!.bestEpoch}`) === true,
          `the hint "${hint}" does not name the kept epoch ${partial!.bestEpoch}`,
        );
        const best = partial!.history[partial!.bestEpoch - 1]!;
        const accuracy = await engineTestAccuracy(partial!, dataset.validation);
        check(
          accuracy === best.validationAccuracy,
          `the partial model scores ${accuracy}; its kept epoch recorded ${best.validationAccuracy}`,
        );
        await checkLabelsOnly(partial!, { validation: dataset.validation });
        partial!.model.dispose();
      },
    },
    {
      name: 'stops with E_ABORTED when the signal is aborted, before and while training',
      run: async () => {
        const controller = new AbortController();
        controller.abort();
        const job = { dataset: engineTestDataset(8, { rows: 64 }), head: plain(), trainer: ENGINE_TEST_TRAINER };
        expectCode(
          await rejection(train(context(8, { signal: controller.signal }), job), 'an aborted signal'),
          ErrorCode.Aborted,
          'an aborted signal',
        );
        const later = new AbortController();
        const running = train(context(8, { signal: later.signal, progress: (done) => done === 2 && later.abort() }), job);
        expectCode(await rejection(running, 'an abort after epoch 2'), ErrorCode.Aborted, 'an abort after epoch 2');
      },
    },
    {
      name: 'refuses jobs it cannot train before starting',
      run: async () => {
        const dataset = engineTestDataset(9, { rows: 32 });
        if (withConstants) {
          const head = { ...build(withConstants), constants: {} };
          const error = await rejection(train(context(9), { dataset, head, trainer: ENGINE_TEST_TRAINER }), 'a head without its constants');
          check(/constant "prototypes"/.test(describeError(error)), `a head missing its prototypes failed with ${describeError(error)}`);
        }
        const withNaN = {
          ...dataset,
          train: { ...dataset.train, features: createMatrix(32, 20, Float32Array.from(dataset.train.features.data)) },
        };
        withNaN.train.features.data[5] = Number.NaN;
        expectCode(
          await rejection(train(context(9), { dataset: withNaN, head: plain(), trainer: ENGINE_TEST_TRAINER }), 'a NaN feature'),
          ErrorCode.InvalidInput,
          'a NaN feature',
          /train features have a non-finite value at row 0, column 5/,
        );
        expectCode(
          await rejection(train(context(9), { dataset, head: plain(), trainer: { ...ENGINE_TEST_TRAINER, batchSize: 0 } }), 'batch size 0'),
          ErrorCode.InvalidOptions,
          'batch size 0',
        );
      },
    },
    ...(options.learnedParamsHead ? [learnedParamsCase(options.learnedParamsHead)] : []),
    ...(options.sampledHead ? classSampleCases(options.sampledHead) : []),
  ];
  return cases;
}
