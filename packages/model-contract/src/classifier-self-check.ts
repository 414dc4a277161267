import { MAX_INPUT_WIDTH } from './classifier-interface.js';
import { ContractErrorCode, exportAgainHint, exportInstructions, ModelAnswersError, ModelContractError } from './contract-error.js';
import type { FeatureMatrix } from './feature-batch.js';

/** Rows in the self-check: enough that a label output which is not the argmax shows, few enough to cost nothing. */
export const SELF_CHECK_ROWS = 8;

/** The fixed rows a runtime runs a model on when it opens it (values about ±1.5, different in every row and column). */
export function selfCheckBatch(inputWidth: number): FeatureMatrix {
  // resolveClassifierInterface refuses such a width first; this keeps a caller that skipped it from a RangeError.
  if (!Number.isInteger(inputWidth) || inputWidth < 1 || inputWidth > MAX_INPUT_WIDTH)
    throw new ModelContractError(
      ContractErrorCode.InvalidInput,
      `a model's input width must be an integer from 1 to ${MAX_INPUT_WIDTH}, got ${inputWidth}`,
      { hint: `Export the model again with ${exportInstructions()}.` },
    );
  const data = new Float32Array(SELF_CHECK_ROWS * inputWidth);
  for (let r = 0; r < SELF_CHECK_ROWS; r++)
    for (let c = 0; c < inputWidth; c++) data[r * inputWidth + c] = Math.sin(12.9898 * (r + 1) + 78.233 * (c + 1)) * 1.5;
  return { rows: SELF_CHECK_ROWS, cols: inputWidth, data };
}

/** One output of a run as the runtime read it: onnxruntime's dims and data (int64 outputs hold bigints). */
export interface OutputValues<T extends number | bigint = number | bigint> {
  readonly dims: readonly number[];
  readonly data: ArrayLike<T>;
  /** onnxruntime's element type (`float32`, `int64`, ...), when the runtime passes it on. */
  readonly type?: string;
}

/** What a model answered for a batch, as the runtime read its outputs. */
export interface ClassifierAnswers {
  readonly rows: number;
  /** The class count of the model's interface. */
  readonly classes: number;
  /** The score output [rows, classes]; absent when the runtime did not fetch it (then `topK` has its scores). */
  readonly scores?: OutputValues<number>;
  /** The label output [rows]; absent when the model has none (the runtime takes the argmax of the scores). */
  readonly labels?: OutputValues;
  /** The model's own top-k outputs [rows, k], when the runtime fetched them; their scores may be left out. */
  readonly topK?: { readonly k: number; readonly labels: OutputValues; readonly scores?: OutputValues<number> };
}

/** When the answers were given: the self-check at load, or a caller's batch. */
export type AnswerStage = 'self-check' | 'prediction';

/**
 * Checks a model's answers against its own interface, the one rule every runtime applies to every run, the
 * self-check at load and each prediction after it: outputs have the dims of the batch (scores [rows, classes],
 * label [rows], top-k [rows, k]); scores are float32; labels and top-k labels are class indices (0 to
 * classes - 1); a label picks the best score; top-k scores are those of their labels, best first. Of what a model
 * answered, only what the runtime fetched is checked: without the scores, the label must be the model's best top-k
 * class. It reads each score once.
 *
 * A file that breaks it at load is refused with E_INVALID_INPUT, and so are scores that are not finite: the
 * self-check's rows are fixed and moderate. At a prediction a break is E_INTERNAL, for the failure is the model's
 * (it passed the self-check, so only some inputs show it), not the caller's: a server answers 500. There, a row
 * whose scores are not finite (NaN, infinities) is let through as the model answered it: features far beyond the
 * training data's range (±3e38 is finite float32, and overflows a softmax) give them from an honest model, so
 * they are the input's doing. Such a row's label is still held to be a class index, but not to its scores, which
 * have no best; nor are its top-k scores checked (without the score output, a row whose top-k scores are not
 * finite is such a row). What it throws, at either stage, is a `ModelAnswersError`.
 *
 * `firstRow` is the number messages give row 0 of the batch: a caller predicting a larger input in chunks passes
 * the chunk's place in it.
 */
export function checkClassifierAnswers(answers: ClassifierAnswers, source: string, stage: AnswerStage = 'self-check', firstRow = 0): void {
  const { rows, classes, scores, labels, topK } = answers;
  const fail =
    stage === 'self-check'
      ? (why: string) =>
          new ModelAnswersError(ContractErrorCode.InvalidInput, `${source} is not a classifier this runtime can serve: ${why}`, {
            hint: `Export the model again with ${exportInstructions()}; its outputs must be scores [N, classes] and label [N] = their argmax.`,
          })
      : (why: string) =>
          new ModelAnswersError(ContractErrorCode.Internal, `${source} gave answers that break its own interface for this batch: ${why}`, {
            hint: `The file passed the checks at load, so only some inputs show it. ${exportAgainHint()}`,
          });
  const isClass = (value: number) => Number.isInteger(value) && value >= 0 && value < classes;
  const expectDims = (what: string, values: OutputValues, dims: readonly number[], expected: string) => {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.data.length !== count) throw fail(`its ${what} output gave ${values.data.length} ${expected}`);
    if (values.dims.length !== dims.length || values.dims.some((d, i) => d !== dims[i]))
      throw fail(`its ${what} output has dims [${values.dims.join(', ')}]; it should have [${dims.join(', ')}]`);
  };
  const k = topK?.k ?? 0;
  if (scores?.type !== undefined && scores.type !== 'float32') throw fail(`its score output holds ${scores.type} values, not float32`);
  if (labels) expectDims('label', labels, [rows], `labels for ${rows} rows`);
  if (scores) expectDims('score', scores, [rows, classes], `values for ${rows} rows of ${classes} classes`);
  if (topK) {
    expectDims('top-k label', topK.labels, [rows, k], `labels for ${rows} rows of the top ${k}`);
    if (topK.scores) expectDims('top-k score', topK.scores, [rows, k], `values for ${rows} rows of the top ${k}`);
  }

  const lenient = stage === 'prediction';
  for (let r = 0; r < rows; r++) {
    const row = `row ${firstRow + r}`;
    const label = labels ? index(labels.data[r]!) : undefined;
    if (label !== undefined && !isClass(label))
      throw fail(
        `its label output is not a class index: ${row} has label ${label}, but the model has ${classes} classes (0 to ${classes - 1})`,
      );
    let best = Number.NaN;
    let finite = true;
    if (scores) {
      const data = scores.data;
      best = bestOfRow(data, r * classes, classes);
      if (Number.isNaN(best)) {
        // Which value: or none, when values that are not float32 add up past float64's range.
        best = -Infinity;
        for (let c = r * classes, end = c + classes; c < end && finite; c++) {
          if (!Number.isFinite(data[c])) {
            if (!lenient) throw fail(`its score output holds ${data[c]} for ${row}`);
            finite = false;
          } else best = Math.max(best, data[c]!);
        }
      }
      if (finite && label !== undefined && below(data[r * classes + label]!, best))
        throw fail(
          `its label output is not the best-scoring class: ${row} has label ${label} (score ${data[r * classes + label]}) but the best score is ${best}`,
        );
    }
    const problem = topK && topKProblem(topK, r, row, classes, isClass, finite ? scores?.data : null, best, label, lenient);
    if (problem) throw fail(problem);
  }
}

/** A label as a number: int64 outputs hold bigints. */
const index = (value: number | bigint): number => (typeof value === 'bigint' ? Number(value) : value);

/** A relative tolerance: a label computed by the model's own ArgMax may pick a float32 near-tie differently. */
const below = (score: number, best: number): boolean => score < best - 1e-6 * Math.max(1, Math.abs(best));

/**
 * What is wrong with row `r` (named `row`) of a model's own top-k outputs, if anything: labels that are no class;
 * scores that are not finite, not best first, not the scores of their labels, or not led by the row's best score
 * `best` (when the scores were read); a `label` that is not among the best of them (when the scores were not).
 * `scores` is undefined when they were not read, and null when the row's are not finite (only when `lenient`):
 * then only the labels are checked, as they are when `lenient`, the scores were not read and the row's top-k scores
 * are not finite.
 */
function topKProblem(
  topK: NonNullable<ClassifierAnswers['topK']>,
  r: number,
  row: string,
  classes: number,
  isClass: (value: number) => boolean,
  scores: ArrayLike<number> | null | undefined,
  best: number,
  label: number | undefined,
  lenient: boolean,
): string | undefined {
  const { k } = topK;
  const start = r * k;
  for (let i = 0; i < k; i++) {
    const topLabel = index(topK.labels.data[start + i]!);
    if (!isClass(topLabel)) return `its top-k output is not a class index: ${row} has ${topLabel}, but the model has ${classes} classes`;
  }
  const topScores = topK.scores?.data;
  if (!topScores || scores === null) return undefined;
  for (let i = 0; i < k; i++) {
    const topScore = topScores[start + i]!;
    if (topScore - topScore === 0) continue;
    // With the row's scores read and finite, their top k are finite too: only a lie is not.
    if (lenient && scores === undefined) return undefined;
    return `its top-k score output holds ${topScore} for ${row}`;
  }
  let previous = Infinity;
  let labelAmongBest = label === undefined || scores !== undefined;
  for (let i = 0; i < k; i++) {
    const topLabel = index(topK.labels.data[start + i]!);
    const topScore = topScores[start + i]!;
    if (topScore > previous) return `its top-k scores of ${row} are not best first: ${previous} then ${topScore}`;
    previous = topScore;
    if (scores && topScore !== scores[r * classes + topLabel])
      return `its top-k output gives class ${topLabel} of ${row} the score ${topScore}, but its score output ${scores[r * classes + topLabel]}`;
    if (scores && i === 0 && below(topScore, best))
      return `its top-k output starts ${row} with class ${topLabel} (score ${topScore}) but the best score is ${best}`;
    if (topLabel === label && !below(topScore, topScores[start]!)) labelAmongBest = true;
  }
  return labelAmongBest
    ? undefined
    : `its label output is not the best-scoring class: ${row} has label ${label}, which is not its best top-k class`;
}

/**
 * The largest of `count` scores from `start`, or NaN when one of them is NaN or infinite. It runs over every score
 * of every batch, so it is kept small (V8 optimises it on its own) and tests finiteness once, on the row's sum: a
 * NaN or an infinity makes the sum one too, and float32 scores cannot add up past float64's range.
 */
function bestOfRow(data: ArrayLike<number>, start: number, count: number): number {
  let best = -Infinity;
  let sum = 0;
  for (let c = start, end = start + count; c < end; c++) {
    const value = data[c]!;
    sum += value;
    if (value > best) best = value;
  }
  return sum - sum === 0 ? best : Number.NaN;
}
