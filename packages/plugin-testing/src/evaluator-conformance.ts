import type { EpochRecord, EvaluationInput, EvaluatorPlugin } from '@hyperproto/core';
import type { ConformanceCase } from './conformance-case.js';
import { conformanceError } from './conformance-error.js';
import { jsonProblem } from './json-problem.js';
import { callPlugin, DEFAULT_TIME_LIMIT_MS, parseOptions, pluginIdOf } from './plugin-calls.js';

export interface EvaluatorConformanceOptions {
  /** The evaluator's options, before its schema. */
  readonly options?: unknown;
  /** Classes of the small label set evaluated (default 3). */
  readonly classes?: number;
}

interface NamedInput {
  readonly name: string;
  readonly make: (classes: number) => EvaluationInput;
}

/** Every class a few times, in an order that is not sorted. */
const labelsFor = (classes: number) => Int32Array.from({ length: 3 * classes + 1 }, (_, i) => (i * 7 + 1) % classes);

const history = (): EpochRecord[] => [
  { epoch: 1, trainLoss: 1.2, validationLoss: 1.1, validationAccuracy: 0.5, seconds: 0.25 },
  { epoch: 2, trainLoss: 0.7, validationLoss: 0.8, validationAccuracy: 0.75, seconds: 0.25 },
  { epoch: 3, trainLoss: 0.5, validationLoss: 0.9, validationAccuracy: 0.7, seconds: 0.5 },
];

const INPUTS: readonly NamedInput[] = [
  { name: 'a perfect prediction', make: (classes) => ({ classes, labels: labelsFor(classes), predictions: labelsFor(classes) }) },
  {
    name: 'a constant prediction',
    make: (classes) => ({ classes, labels: labelsFor(classes), predictions: new Int32Array(labelsFor(classes).length) }),
  },
  {
    name: 'a prediction with a training history',
    make: (classes) => ({
      classes,
      labels: labelsFor(classes),
      predictions: labelsFor(classes).map((label) => (label + 1) % classes),
      history: history(),
      bestEpoch: 2,
    }),
  },
];

/**
 * What every evaluator promises: plain JSON metrics (finite numbers, no class instances, nothing JSON would drop
 * or change) for a perfect and a constant prediction, its inputs left untouched, and the same output for the
 * same input.
 */
export function evaluatorConformance(evaluator: EvaluatorPlugin, options: EvaluatorConformanceOptions = {}): ConformanceCase[] {
  const id = pluginIdOf(evaluator);
  const classes = options.classes ?? 3;
  const evaluate = (input: NamedInput) => {
    const parsed = parseOptions(evaluator, options.options);
    return callPlugin(id, `evaluate on ${input.name}`, () => evaluator.evaluate(input.make(classes), parsed), DEFAULT_TIME_LIMIT_MS);
  };

  const cases: ConformanceCase[] = INPUTS.map((input) => ({
    name: `returns plain JSON metrics with finite numbers for ${input.name}`,
    run: async () => {
      const metrics: unknown = await evaluate(input);
      if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
        throw conformanceError(
          id,
          `evaluate on ${input.name} returned ${Array.isArray(metrics) ? 'an array' : String(metrics)}; expected an object of named metrics`,
        );
      }
      const problem = jsonProblem(metrics, 'metrics');
      if (problem)
        throw conformanceError(
          id,
          `evaluate on ${input.name}: ${problem}; expected plain JSON (finite numbers, strings, booleans, null, arrays, plain objects)`,
        );
    },
  }));

  cases.push(
    {
      name: 'leaves its inputs unchanged',
      run: async () => {
        const parsed = parseOptions(evaluator, options.options);
        for (const named of INPUTS) {
          const input = named.make(classes);
          const before = snapshot(input);
          await callPlugin(id, `evaluate on ${named.name}`, () => evaluator.evaluate(input, parsed), DEFAULT_TIME_LIMIT_MS);
          if (snapshot(input) !== before)
            throw conformanceError(
              id,
              `evaluate on ${named.name} changed its input (labels, predictions or history); expected it to leave them as given`,
            );
        }
      },
    },
    {
      name: 'gives the same metrics for the same input',
      run: async () => {
        for (const input of INPUTS) {
          const [a, b] = [JSON.stringify(await evaluate(input)), JSON.stringify(await evaluate(input))];
          if (a !== b)
            throw conformanceError(id, `evaluate on ${input.name} gave ${a} and then ${b}; expected the same metrics for the same input`);
        }
      },
    },
  );
  return cases;
}

function snapshot(input: EvaluationInput): string {
  return JSON.stringify({ ...input, labels: [...input.labels], predictions: [...input.predictions] });
}
