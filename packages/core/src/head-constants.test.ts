import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode } from './errors.js';
import { h, type HeadDefinition, headConstant, missingConstantText } from './head-graph.js';
import { evaluateHeadExpr } from './head-reference.js';
import { createMatrix } from './matrix.js';
import { runExperiment } from './pipeline.js';
import { headDefinitionProblem, missingHeadConstantProblem } from './plugin-results.js';
import { type Dataset, defineDataset, defineHead } from './plugins.js';
import { createRegistry } from './registry.js';
import { emptyClassificationEvaluator, engineThatMustNotTrain, everyClassSplit, SPLIT_CLASSES } from './test-support/refusal-plugins.js';

const CLASSES = SPLIT_CLASSES;
const split = everyClassSplit;

/** Scores against a constant matrix of class weights [C, U], as a prototype head has them. */
const scores = (name: string) => h.matmulTransposed(h.output(), h.constant(name));
const loss = (name: string) => h.mean(h.neg(h.pickPerRow(h.logSoftmax(scores(name)), h.labels())));
const weights = () => createMatrix(CLASSES, 2, Float32Array.of(1, 0, 0, 1, -1, -1));

const head = (name: string, build: () => HeadDefinition) =>
  defineHead({ name, summary: 'test head', usesPrototypes: false, options: z.strictObject({}), build });

let trained = 0;
const registry = createRegistry([
  defineDataset({
    name: 'blobs',
    summary: 'test dataset',
    options: z.strictObject({}),
    generate: (): Dataset => ({ classes: CLASSES, inputWidth: 2, train: split(), validation: split(), test: split(), info: {} }),
  }),
  head('complete', () => ({ outputUnits: 2, loss: loss('w'), scores: scores('w'), scoresName: 'scores', constants: { w: weights() } })),
  head('no-constants', () => ({ outputUnits: 2, loss: loss('w'), scores: scores('w'), scoresName: 'scores', constants: {} })),
  // The loss has its constant; the scores name one the head never ships.
  head('misnamed', () => ({
    outputUnits: 2,
    loss: loss('w'),
    scores: scores('weights'),
    scoresName: 'scores',
    constants: { w: weights() },
  })),
  // `constructor` is a field of every object, not a constant of this head.
  head('inherited', () => ({
    outputUnits: 2,
    loss: h.mean(h.output()),
    scores: scores('constructor'),
    scoresName: 'scores',
    constants: {},
  })),
  engineThatMustNotTrain(() => trained++),
  emptyClassificationEvaluator,
]);

const run = (name: string) => runExperiment(registry, { dataset: { name: 'blobs' }, head: { name } });

const EXPECTED = 'expected constants to hold every matrix its loss and scores use';

describe('constants a head uses but lacks, refused when the head is built', () => {
  it('refuses the head before training, naming the head, the expression and the constant', async () => {
    const before = trained;
    await expect(run('no-constants')).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      pluginId: 'head:no-constants',
      message: `head:no-constants: build() returned a head definition whose loss expression uses constant "w", which the head does not provide (has: none); ${EXPECTED}`,
      hint: 'This is an error in the plugin head:no-constants: fix what it returns (its conformance suite in @hyperproto/plugin-testing checks it).',
    });
    await expect(run('misnamed')).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      pluginId: 'head:misnamed',
      message: `head:misnamed: build() returned a head definition whose scores expression uses constant "weights", which the head does not provide (has: w); ${EXPECTED}`,
    });
    await expect(run('inherited')).rejects.toMatchObject({
      code: ErrorCode.InvalidPlugin,
      message: expect.stringContaining('scores expression uses constant "constructor", which the head does not provide (has: none)'),
    });
    expect(trained).toBe(before);
  });

  it('passes a head that ships its constants on to the engine', async () => {
    await expect(run('complete')).rejects.toMatchObject({ code: ErrorCode.PluginFailed, pluginId: 'engine:fake' });
  });

  it('says the same in the check itself, and nothing for a complete head', () => {
    const complete = { outputUnits: 2, loss: loss('w'), scores: scores('w'), scoresName: 'scores', constants: { w: weights() } };
    expect(missingHeadConstantProblem(complete)).toBeUndefined();
    expect(headDefinitionProblem(complete)).toBeUndefined();
    expect(missingHeadConstantProblem({ ...complete, constants: { v: weights() } })).toBe(
      `loss expression uses constant "w", which the head does not provide (has: v); ${EXPECTED}`,
    );
  });

  it('gives the reference evaluator the same wording, and no inherited field as a constant', () => {
    const output = createMatrix(1, 2, Float32Array.of(1, 2));
    expect(() => evaluateHeadExpr(scores('w'), { output, constants: { v: weights() } })).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidInput,
        message: 'the head expression uses constant "w", which the head does not provide (has: v)',
      }),
    );
    expect(() => evaluateHeadExpr(scores('toString'), { output, constants: {} })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('constant "toString", which the head does not provide (has: none)') }),
    );
    expect(headConstant({ w: 1 }, 'w')).toBe(1);
    expect(headConstant({}, 'hasOwnProperty')).toBeUndefined();
    expect(missingConstantText('p', { a: 0, b: 1 })).toBe('constant "p", which the head does not provide (has: a, b)');
  });
});
