import { evaluateHeadExpr, type HeadDefinition, type HeadParamGiven } from '@hyperproto/core';

/** What a built head gives on output rows: its scores, and its loss when the rows have labels. */
export interface HeadValues {
  /** A scalar by contract (shape []); only when labels were given. */
  readonly loss?: { readonly shape: readonly number[]; readonly value: number };
  /** [N, C], row-major. */
  readonly scores: { readonly shape: readonly number[]; readonly data: number[] };
}

/**
 * A built head's loss and scores on output rows typed in a test, by core's float64 reference interpreter: what a
 * head's tests compare with values worked out by hand.
 */
export function headValues(
  head: HeadDefinition,
  rows: readonly (readonly number[])[],
  labels?: readonly number[],
  params?: Readonly<Record<string, HeadParamGiven>>,
): HeadValues {
  const output = { rows: rows.length, cols: rows[0]?.length ?? 0, data: Float64Array.from(rows.flat()) };
  // Values given here, else those the head carries (bound), else each parameter's starting value.
  const inputs = { output, constants: head.constants, params: { ...head.params, ...params } };
  const scores = evaluateHeadExpr(head.scores, inputs);
  const loss = labels && evaluateHeadExpr(head.loss, { ...inputs, labels: Int32Array.from(labels) });
  return {
    ...(loss ? { loss: { shape: loss.shape, value: loss.data[0]! } } : {}),
    scores: { shape: scores.shape, data: [...scores.data] },
  };
}
