import { ErrorCode, HyperprotoError } from './errors.js';
import type { Matrix } from './matrix.js';
import type { TrainedModel } from './plugins.js';

/**
 * Most scores one `predict` call may return when labels are predicted through it: 2^22 float32 values (16 MiB),
 * the bound the built-in engines keep their own chunks near.
 */
export const MAX_SCORES_PER_PREDICT = 2 ** 22;

/**
 * The model's predicted labels for `features` without ever holding N x C scores: its own `predictLabels` when it
 * has one, else `predict` over consecutive row chunks of at most `maxScores / C` rows (at least one), keeping only
 * the labels. A model's prediction of a row must not depend on the rows predicted with it, so both give
 * `predict(features).labels`. Labels of the wrong count are the model's bug, reported as E_INVALID_PLUGIN.
 */
export async function predictModelLabels(
  model: Pick<TrainedModel, 'classes' | 'predict' | 'predictLabels'>,
  features: Matrix,
  { maxScores = MAX_SCORES_PER_PREDICT }: { readonly maxScores?: number } = {},
): Promise<Int32Array> {
  if (model.predictLabels) return checkedCount(await model.predictLabels(features), features.rows, 'predictLabels');
  const labels = new Int32Array(features.rows);
  const chunk = Math.max(1, Math.floor(maxScores / Math.max(1, model.classes)));
  for (let start = 0; start < features.rows; start += chunk) {
    const size = Math.min(chunk, features.rows - start);
    const rows: Matrix = {
      rows: size,
      cols: features.cols,
      data: features.data.subarray(start * features.cols, (start + size) * features.cols),
    };
    labels.set(checkedCount((await model.predict(rows)).labels, size, 'predict'), start);
  }
  return labels;
}

function checkedCount(labels: Int32Array, rows: number, call: string): Int32Array {
  if (labels.length !== rows) {
    throw new HyperprotoError(ErrorCode.InvalidPlugin, `the trained model's ${call} gave ${labels.length} labels for ${rows} rows`, {
      hint: 'This is a bug of the engine that trained the model: it must give one label per row.',
    });
  }
  return labels;
}
