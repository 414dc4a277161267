import { defineEvaluator, z, type EvaluationInput, type EvaluatorPlugin, type Metrics } from '@hyperproto/core';
import { describe, it } from 'vitest';
import { conformanceExpectations } from './test-support/conformance-expectations.js';
import { evaluatorConformance } from './evaluator-conformance.js';

const { expectAllPass, expectFailure } = conformanceExpectations('evaluator');

/** Accuracy and recall per class; precision is NaN for a class never predicted unless guarded. */
function scores({ classes, labels, predictions }: EvaluationInput, guarded: boolean): Metrics {
  let correct = 0;
  const predicted = new Array<number>(classes).fill(0);
  const hits = new Array<number>(classes).fill(0);
  labels.forEach((label, i) => {
    predicted[predictions[i]!]!++;
    if (label === predictions[i]) {
      correct++;
      hits[label]!++;
    }
  });
  const precision = hits.map((hit, c) => (guarded && predicted[c] === 0 ? 0 : hit / predicted[c]!));
  return { accuracy: correct / labels.length, precision };
}

const evaluator = (name: string, evaluate: EvaluatorPlugin['evaluate']): EvaluatorPlugin =>
  defineEvaluator({ name, summary: 'test evaluator', options: z.strictObject({ digits: z.number().int().default(3) }), evaluate });

describe('evaluatorConformance', () => {
  it('passes an evaluator of plain finite metrics', async () => {
    await expectAllPass(evaluatorConformance(evaluator('accuracy', (input) => scores(input, true))));
    await expectAllPass(
      evaluatorConformance(
        evaluator('accuracy', (input) => scores(input, true)),
        { classes: 5, options: { digits: 2 } },
      ),
    );
  });

  it('fails NaN, which JSON turns into null', async () => {
    const unguarded = evaluator('unguarded', (input) => scores(input, false));
    await expectFailure(
      evaluatorConformance(unguarded),
      /constant prediction/,
      /evaluate on a constant prediction: metrics\.precision\[1\] is NaN, which JSON cannot hold \(it becomes null\); expected plain JSON/,
    );
  });

  it('fails values JSON would drop or change: undefined fields, typed arrays, dates, arrays at the top', async () => {
    const cases = [
      [
        evaluator('undefined-field', (input) => ({ ...scores(input, true), bestEpoch: input.bestEpoch })),
        /metrics\.bestEpoch is undefined, which JSON drops/,
      ],
      [evaluator('typed', (input) => ({ labels: input.labels })), /metrics\.labels is a Int32Array, not a plain object or array/],
      [evaluator('dated', () => ({ at: new Date(0) })), /metrics\.at is a Date/],
      [evaluator('listed', () => [1, 2] as unknown as Metrics), /returned an array; expected an object of named metrics/],
    ] as const;
    for (const [plugin, message] of cases) await expectFailure(evaluatorConformance(plugin), /perfect prediction/, message);
  });

  it('fails an evaluator that changes its input', async () => {
    const sorting = evaluator('sorting', (input) => {
      input.predictions.sort();
      return scores(input, true);
    });
    await expectFailure(
      evaluatorConformance(sorting),
      /leaves its inputs unchanged/,
      /evaluate on a perfect prediction changed its input \(labels, predictions or history\); expected it to leave them as given/,
    );
  });

  it('fails an evaluator whose output varies for the same input', async () => {
    let calls = 0;
    const counting = evaluator('counting', (input) => ({ ...scores(input, true), calls: ++calls }));
    await expectFailure(
      evaluatorConformance(counting),
      /same metrics for the same input/,
      /gave \{.*"calls":\d+\} and then \{.*\}; expected the same metrics/,
    );
  });
});
