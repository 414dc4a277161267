import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode } from './errors.js';
import { h } from './head-graph.js';
import { createMatrix } from './matrix.js';
import { runExperiment } from './pipeline.js';
import { headDefinitionProblem, matrixProblem, referencePredictionsProblem } from './plugin-results.js';
import { defineDataset, defineHead, definePrototypeStrategy, type Dataset } from './plugins.js';
import { createRegistry } from './registry.js';
import { emptyClassificationEvaluator, engineThatMustNotTrain, everyClassSplit, SPLIT_CLASSES } from './test-support/refusal-plugins.js';

const CLASSES = SPLIT_CLASSES;
const split = everyClassSplit;

const dataset = (name: string, testPredictions?: Int32Array) =>
  defineDataset({
    name,
    summary: 'test dataset',
    options: z.strictObject({}),
    generate: (): Dataset => ({
      classes: CLASSES,
      inputWidth: 2,
      train: split(),
      validation: split(),
      test: split(),
      ...(testPredictions ? { reference: { name: 'rule', testPredictions } } : {}),
      info: {},
    }),
  });

const head = (name: string, build: () => unknown) =>
  // The plugin author's mistake is what is tested: build returns what the type does not allow.
  defineHead({ name, summary: 'test head', usesPrototypes: true, options: z.strictObject({}), build: build as never });

const goodHead = () => ({ outputUnits: 2, loss: h.mean(h.output()), scores: h.output(), scoresName: 'scores', constants: {} });

const strategy = (name: string, generate: (classes: number, dims: number) => unknown) =>
  definePrototypeStrategy({
    name,
    summary: 'test strategy',
    options: z.strictObject({}),
    generate: ((_ctx: unknown, { classes, dims }: { classes: number; dims: number }) => generate(classes, dims)) as never,
  });

const axes = (classes: number, dims: number) => {
  const m = createMatrix(classes, dims);
  for (let i = 0; i < classes; i++) m.data[i * dims + (i % dims)] = 1;
  return m;
};

const registry = createRegistry([
  dataset('blobs'),
  dataset('short-reference', new Int32Array(2)),
  head('good', goodHead),
  head('h-undef', () => undefined),
  head('h-zero-units', () => ({ ...goodHead(), outputUnits: 0 })),
  head('h-bad-constant', () => ({ ...goodHead(), constants: { prototypes: [[1, 0]] } })),
  strategy('axes', axes),
  strategy('p-array', (classes, dims) =>
    Array.from({ length: classes }, (_, i) => Array.from(axes(classes, dims).data.subarray(i * dims, (i + 1) * dims))),
  ),
  engineThatMustNotTrain(),
  emptyClassificationEvaluator,
]);

const run = (names: { dataset?: string; head?: string; strategy?: string }) =>
  runExperiment(registry, {
    dataset: { name: names.dataset ?? 'blobs' },
    head: { name: names.head ?? 'good' },
    prototypes: { strategy: names.strategy ?? 'axes', dims: 2 },
  });

const HINT = /^This is an error in the plugin /;

describe('plugin results checked where the pipeline receives them', () => {
  it('refuses a head whose build() returns undefined, naming the head, not the engine', async () => {
    await expect(run({ head: 'h-undef' })).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      pluginId: 'head:h-undef',
      message:
        'head:h-undef: build() returned undefined; expected a head definition (an object with outputUnits, loss, scores, scoresName, constants)',
      hint: expect.stringMatching(HINT),
    });
  });

  it('refuses a head definition with a field of the wrong kind, naming the field', async () => {
    await expect(run({ head: 'h-zero-units' })).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      pluginId: 'head:h-zero-units',
      message: 'head:h-zero-units: build() returned a head definition whose outputUnits is 0; expected a positive integer',
    });
    await expect(run({ head: 'h-bad-constant' })).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      message:
        'head:h-bad-constant: build() returned a head definition whose constant "prototypes" is an array of 1 item; expected a Matrix { rows, cols, data: Float32Array } (build one with createMatrix)',
    });
  });

  it('refuses a strategy that returns number[][] before comparing shapes', async () => {
    await expect(run({ strategy: 'p-array' })).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      pluginId: 'prototypes:p-array',
      message:
        'prototypes:p-array: generate() returned an array of 3 items; expected a Matrix { rows, cols, data: Float32Array } (build one with createMatrix)',
      hint: expect.stringMatching(HINT),
    });
  });

  it('refuses reference predictions of another length than the test split, naming the dataset', async () => {
    await expect(run({ dataset: 'short-reference' })).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      pluginId: 'dataset:short-reference',
      message: 'dataset:short-reference: reference.testPredictions has 2 values for 6 test rows; expected one per test row',
      hint: expect.stringMatching(HINT),
    });
  });

  it('passes well-formed results on to the engine', async () => {
    // The fake engine is reached, and its own failure is what comes back.
    await expect(run({})).rejects.toMatchObject({ code: ErrorCode.PluginFailed, pluginId: 'engine:fake' });
  });
});

describe('the checks themselves', () => {
  it('says what is wrong with a matrix', () => {
    expect(matrixProblem(createMatrix(2, 3))).toBeUndefined();
    expect(matrixProblem({ rows: 2, cols: 3, data: new Float64Array(6) })).toBe(
      'a matrix whose data is a Float64Array; expected a Float32Array',
    );
    expect(matrixProblem({ rows: 2, cols: 3, data: new Float32Array(5) })).toBe('a 2 x 3 matrix with 5 values; expected 2 x 3 = 6');
    expect(matrixProblem({ rows: 2.5, cols: 3, data: new Float32Array(6) })).toBe(
      'a matrix whose rows is 2.5; expected a non-negative integer',
    );
  });

  it('says what is wrong with a head definition', () => {
    expect(headDefinitionProblem(goodHead())).toBeUndefined();
    expect(headDefinitionProblem({ ...goodHead(), scoresName: 'class scores' })).toBe(
      'a head definition whose scoresName is "class scores"; expected an identifier such as "scores" (letters, digits, _)',
    );
    expect(headDefinitionProblem({ ...goodHead(), loss: undefined })).toBe(
      'a head definition whose loss is undefined; expected a head expression (h.* in @hyperproto/core)',
    );
    expect(headDefinitionProblem({ ...goodHead(), constants: undefined })).toBe(
      'a head definition whose constants is undefined; expected an object of named matrices ({} when there are none)',
    );
  });

  it('says what is wrong with reference predictions, and accepts none', () => {
    const test = split();
    expect(referencePredictionsProblem({ classes: CLASSES, test })).toBeUndefined();
    const of = (testPredictions: unknown) =>
      referencePredictionsProblem({ classes: CLASSES, test, reference: { name: 'r', testPredictions: testPredictions as Int32Array } });
    expect(of(new Int32Array(6))).toBeUndefined();
    expect(of([0, 1, 2, 0, 1, 2])).toBe(
      'reference.testPredictions is an array of 6 items; expected an Int32Array with one class index per test row',
    );
    expect(of(new Int32Array([0, 1, 2, 3, 1, 2]))).toBe('reference.testPredictions[3] is 3; expected a class in [0, 3)');
  });
});
