import {
  constantsUsed,
  createRng,
  evaluateHeadExpr,
  HEAD_PARAM_WEIGHT_PREFIX,
  type HeadDefinition,
  type HeadParamGiven,
  headDefinitionProblem,
  headParamWeights,
  type HeadPlugin,
  type HeadValue,
  type Matrix,
  missingHeadConstantProblem,
  startHeadParams,
} from '@hyperproto/core';
import type { ConformanceCase } from './conformance-case.js';
import { conformanceError, describeError } from './conformance-error.js';
import { headTestPrototypes } from './head-test-prototypes.js';
import { descendLoss } from './loss-descent.js';
import { callPlugin, DEFAULT_TIME_LIMIT_MS, parseOptions, pluginIdOf } from './plugin-calls.js';

export interface HeadConformanceOptions {
  /** Classes to build the head for (default 4). */
  readonly classes?: number;
  /** Prototype width for heads that use prototypes (default 3). */
  readonly dims?: number;
  /** The head's options, before its schema. */
  readonly options?: unknown;
  /** Prototypes to build with instead of the suite's (signed axes, or seeded random unit rows). */
  readonly prototypes?: Matrix;
}

/** Rows of the batch the loss and scores are evaluated on: small, so finite differences stay cheap. */
const BATCH_ROWS = 6;
const DESCENT_STEPS = 40;
const SEED = 1;

/**
 * What every head promises, checked with core's float64 reference interpreter of head expressions: a well-formed
 * definition, every constant it uses shipped, a finite scalar loss that ignores row order, [N, C] scores that
 * need no labels, and, the point of a head, a loss whose minimisation makes the scores predict the labels.
 */
export function headConformance(head: HeadPlugin, options: HeadConformanceOptions = {}): ConformanceCase[] {
  const id = pluginIdOf(head);
  const classes = options.classes ?? 4;
  const dims = options.dims ?? 3;

  const build = async (): Promise<HeadDefinition> => {
    const parsed = parseOptions(head, options.options);
    const prototypes = head.usesPrototypes ? (options.prototypes ?? headTestPrototypes(classes, dims, SEED)) : undefined;
    const what = `build for ${classes} classes${prototypes ? ` with ${prototypes.rows} x ${prototypes.cols} prototypes` : ''}`;
    const definition = await callPlugin(
      id,
      what,
      () => head.build(prototypes ? { classes, prototypes } : { classes }, parsed),
      DEFAULT_TIME_LIMIT_MS,
    );
    if (typeof definition !== 'object' || definition === null)
      throw conformanceError(id, `${what} returned ${String(definition)}; expected a HeadDefinition`);
    return definition;
  };

  /** The built head with its parameters at the values training starts from, drawn as the engines draw them. */
  const started = async (): Promise<HeadDefinition> => {
    const definition = await build();
    try {
      return startHeadParams(definition, createRng(SEED).fork('head-params'));
    } catch (error) {
      throw conformanceError(id, `its parameters cannot start: ${describeError(error)}`, error);
    }
  };

  /** A seeded batch: random output [N, U] and labels that cover the classes in shuffled order. */
  const batch = (definition: HeadDefinition) => {
    const rng = createRng(SEED).fork('batch');
    const output = new Float64Array(BATCH_ROWS * definition.outputUnits).map(() => rng.normal());
    const labels = rng.shuffle(Int32Array.from({ length: BATCH_ROWS }, (_, i) => i % classes));
    return { output, labels };
  };

  const evaluate = (
    definition: HeadDefinition,
    which: 'loss' | 'scores',
    output: Float64Array,
    labels?: Int32Array,
    params?: Record<string, HeadParamGiven>,
  ): HeadValue => {
    const inputs = {
      output: { rows: output.length / definition.outputUnits, cols: definition.outputUnits, data: output },
      constants: definition.constants,
      params: { ...definition.params, ...params },
    };
    try {
      return evaluateHeadExpr(definition[which], labels ? { ...inputs, labels } : inputs);
    } catch (error) {
      const why = which === 'scores' ? '; expected scores that need only the output and constants (an exported model has no labels)' : '';
      throw conformanceError(id, `its ${which} cannot be evaluated: ${describeError(error)}${why}`, error);
    }
  };

  const scalarLoss = (
    definition: HeadDefinition,
    output: Float64Array,
    labels: Int32Array,
    params?: Record<string, HeadParamGiven>,
  ): number => {
    const value = evaluate(definition, 'loss', output, labels, params);
    if (value.shape.length !== 0)
      throw conformanceError(id, `its loss has shape [${value.shape.join(', ')}]; expected a scalar (shape [], e.g. h.mean over rows)`);
    return value.data[0]!;
  };

  return [
    {
      name: `builds for ${classes} classes with a positive integer outputUnits and an identifier as scoresName`,
      run: async () => {
        const definition = await build();
        // The check core makes of every head it runs, so that the suite and a real run refuse the same heads.
        const problem = headDefinitionProblem(definition);
        if (problem) throw conformanceError(id, `build for ${classes} classes returned ${problem}`);
      },
    },
    {
      name: 'ships every constant its loss and scores use, as finite matrices',
      run: async () => {
        const definition = await build();
        const constants = definition.constants ?? {};
        // The check core makes of every head it runs.
        const missing = missingHeadConstantProblem({ ...definition, constants });
        if (missing) throw conformanceError(id, `its ${missing}`);
        for (const name of constantsUsed(definition.scores, constantsUsed(definition.loss))) {
          const matrix = constants[name]!;
          if (!(matrix.data instanceof Float32Array) || matrix.data.length !== matrix.rows * matrix.cols) {
            throw conformanceError(
              id,
              `constant "${name}" is not a ${matrix.rows} x ${matrix.cols} float32 matrix; expected { rows, cols, data: Float32Array(rows * cols) }`,
            );
          }
          const bad = matrix.data.findIndex((value) => !Number.isFinite(value));
          if (bad >= 0)
            throw conformanceError(
              id,
              `constant "${name}" has the non-finite value ${matrix.data[bad]} at index ${bad}; expected finite values`,
            );
        }
      },
    },
    {
      name: `gives a finite scalar loss and finite [${BATCH_ROWS}, ${classes}] scores on random output`,
      run: async () => {
        const definition = await started();
        const { output, labels } = batch(definition);
        const loss = scalarLoss(definition, output, labels);
        if (!Number.isFinite(loss)) throw conformanceError(id, `its loss on random output is ${loss}; expected a finite number`);
        const scores = evaluate(definition, 'scores', output);
        if (scores.shape.length !== 2 || scores.shape[0] !== BATCH_ROWS || scores.shape[1] !== classes) {
          throw conformanceError(
            id,
            `its scores have shape [${scores.shape.join(', ')}] for ${BATCH_ROWS} rows; expected [${BATCH_ROWS}, ${classes}] (one score per class)`,
          );
        }
        const bad = scores.data.findIndex((value) => !Number.isFinite(value));
        if (bad >= 0)
          throw conformanceError(id, `its scores on random output have the non-finite value ${scores.data[bad]}; expected finite scores`);
      },
    },
    {
      name: 'starts every trainable parameter at finite values, and its loss depends on each',
      run: async () => {
        const definition = await started();
        const { output, labels } = batch(definition);
        const start = scalarLoss(definition, output, labels);
        for (const weight of headParamWeights(definition)) {
          const name = weight.name.slice(HEAD_PARAM_WEIGHT_PREFIX.length);
          const bad = weight.data.findIndex((value) => !Number.isFinite(value));
          if (bad >= 0)
            throw conformanceError(id, `parameter "${name}" starts at ${weight.data[bad]} at index ${bad}; expected finite values`);
          // The first element moved by 0.5 (all of them would leave a softmax bias, say, without effect).
          const values = Float64Array.from(weight.data);
          values[0] = values[0]! + 0.5;
          const moved = scalarLoss(definition, output, labels, { [name]: values });
          if (!Number.isFinite(moved) || moved === start) {
            const where = weight.shape.length
              ? `at its start and ${moved} with its first element moved by 0.5`
              : `at ${weight.data[0]} and ${moved} at ${values[0]}`;
            throw conformanceError(
              id,
              `its loss is ${start} with parameter "${name}" ${where}; expected a parameter the loss depends on (an engine trains it)`,
            );
          }
        }
      },
    },
    {
      name: 'gives the same loss for the rows in another order',
      run: async () => {
        const definition = await started();
        const { output, labels } = batch(definition);
        const units = definition.outputUnits;
        const order = createRng(SEED)
          .fork('order')
          .shuffle(Array.from({ length: BATCH_ROWS }, (_, i) => BATCH_ROWS - 1 - i));
        const permuted = new Float64Array(output.length);
        order.forEach((from, to) => permuted.set(output.subarray(from * units, (from + 1) * units), to * units));
        const before = scalarLoss(definition, output, labels);
        const after = scalarLoss(
          definition,
          permuted,
          Int32Array.from(order, (from) => labels[from]!),
        );
        if (!(Math.abs(before - after) <= 1e-9 * Math.max(1, Math.abs(before)))) {
          throw conformanceError(
            id,
            `its loss is ${before} for a batch and ${after} for the same rows and labels reordered; expected the same loss (within 1e-9)`,
          );
        }
      },
    },
    {
      name: 'gradient descent on the output lowers the loss and makes argmax(scores) equal the labels',
      run: async () => {
        const definition = await started();
        const { output, labels } = batch(definition);
        const result = descendLoss((values) => scalarLoss(definition, values, labels), output, DESCENT_STEPS);
        const route = `gradient descent on the output (${result.steps} of at most ${DESCENT_STEPS} steps, loss ${result.startLoss.toPrecision(6)} -> ${result.endLoss.toPrecision(6)})`;
        if (!Number.isFinite(result.startLoss) || !(result.endLoss < result.startLoss)) {
          throw conformanceError(id, `${route} did not lower the loss; expected a loss that depends smoothly on the output`);
        }
        const scores = evaluate(definition, 'scores', result.output);
        const predictions = Array.from({ length: BATCH_ROWS }, (_, row) =>
          argmax(scores.data.subarray(row * classes, (row + 1) * classes)),
        );
        if (predictions.some((prediction, row) => prediction !== labels[row])) {
          throw conformanceError(
            id,
            `after ${route}, argmax(scores) is [${predictions.join(', ')}] for labels [${labels.join(', ')}]; ` +
              'expected the scores to rank first the class the loss pulls each row toward (loss and scores disagree)',
          );
        }
      },
    },
  ];
}

/** Index of the strictly largest value, or -1 on a tie for the top (a tie is no prediction). */
function argmax(values: Float64Array): number {
  let best = 0;
  let tie = false;
  for (let i = 1; i < values.length; i++) {
    if (values[i]! > values[best]!) {
      best = i;
      tie = false;
    } else if (values[i] === values[best]) tie = true;
  }
  return tie ? -1 : best;
}
