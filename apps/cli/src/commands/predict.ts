import { ErrorCode, HyperprotoError, isHyperprotoError } from '@hyperproto/core';
import { type ClassIndex, checkLabelCount, indexClasses, isDecimalNumber, type LabelValues, readLabelsFile } from '@hyperproto/data-files';
import { classificationMetrics, type ClassificationMetrics } from '@hyperproto/eval-classification';
import { inputFileSize } from '@hyperproto/npy';
import {
  createSession,
  errorMessage,
  exportAgainHint,
  ModelAnswersError,
  type ModelSession,
  type Prediction,
} from '@hyperproto/runtime-node';
import { sessionProviders, type ExecutionProviderFlags } from '../execution-provider-flags.js';
import { type FeatureRows, readFeatureFile } from '../feature-files.js';
import type { GlobalOptions } from '../main.js';
import { absentClassesNote, Output } from '../output.js';

export interface PredictOptions extends GlobalOptions, ExecutionProviderFlags {
  input: string;
  topK?: number;
  scores?: boolean;
  batchSize: number;
  threads?: number;
  placement?: boolean;
  /** The true label of each --input row: a .npy array or a text file with one label per line. */
  labels?: string;
  /** Also score each class, as the classification evaluator reports it; refused when no labels could come. */
  perClass?: boolean;
}

/** How well the predictions match the true labels (`--labels`, or the model's label column of a CSV or JSON lines). */
interface Evaluation extends ClassificationMetrics {
  readonly rows: number;
  /** Where the true labels came from: the --labels file, or the input's label column. */
  readonly labels: string;
  /** How the labels were read: as class names, or as class indices (positions in the class names, if any). */
  readonly labelsAs: ClassIndex['labelKind'];
  /** The model's classes, over which macro-F1 averages, and how many of them the labels hold. */
  readonly classes: number;
  readonly classesInLabels: number;
}

interface RowPrediction {
  label: number;
  score: number;
  className?: string;
  topK?: { label: number; score: number; className?: string }[];
  scores?: number[];
}

/** Classifies every row of a feature file with an exported model, in batches of --batch-size rows. */
export async function predictCommand(model: string, options: PredictOptions): Promise<void> {
  const output = new Output(options);
  const session = await createSession(model, {
    ...sessionProviders(options),
    ...(options.threads === undefined ? {} : { intraOpThreads: options.threads }),
    log: (message) => output.info(message),
  });
  try {
    // A CSV header is checked against the names the model was trained on (session.featureNames, labelColumn).
    const features = await readFeatureFile(options.input, session.inputWidth, session, (message) => output.info(message), {
      labelsFromColumn: options.labels === undefined,
    });
    // Read and checked before any inference: a wrong label fails at once, not after the whole file is classified.
    const { truth, unscored } = await trueLabels(model, session, options, features, (message) => output.info(message));
    const names = session.classNames;
    const predictions: RowPrediction[] = [];
    const started = performance.now();
    for (let start = 0; start < features.rows; start += options.batchSize) {
      const rows = Math.min(options.batchSize, features.rows - start);
      const batch = { rows, cols: features.cols, data: features.data.subarray(start * features.cols, (start + rows) * features.cols) };
      const prediction = await session
        .predict(batch, {
          ...(options.topK === undefined ? {} : { topK: options.topK }),
          scores: Boolean(options.scores),
          // Rows named in messages are counted in the file, from 1 as its other messages count them.
          firstRow: start + 1,
        })
        .catch((error: unknown) => {
          throw modelRunFailure(error, model);
        });
      appendRows(predictions, prediction, names);
      output.progress('predict', start + rows, features.rows);
    }
    const seconds = (performance.now() - started) / 1000;
    const placement = options.placement ? await session.placement() : undefined;
    const nodesByProvider: Record<string, number> = {};
    for (const node of placement ?? []) nodesByProvider[node.provider] = (nodesByProvider[node.provider] ?? 0) + 1;
    if (placement)
      output.info(
        `node placement: ${Object.entries(nodesByProvider)
          .map(([provider, n]) => `${n} on ${provider}`)
          .join(', ')}`,
      );
    const evaluation: Evaluation | undefined = truth && {
      rows: features.rows,
      labels: truth.source,
      labelsAs: truth.labelsAs,
      classes: session.classes,
      classesInLabels: new Set(truth.labels).size,
      ...classificationMetrics(
        session.classes,
        truth.labels,
        Int32Array.from(predictions, (p) => p.label),
        { perClass: Boolean(options.perClass) },
      ),
    };
    const result = {
      model: {
        source: session.source,
        head: session.metadata.head ?? null,
        strategy: session.metadata.strategy ?? null,
        classes: session.classes,
        scoresName: session.scoresName,
      },
      provider: session.provider,
      skipped: session.skipped,
      ...(placement ? { placement: { nodesByProvider, nodes: placement } } : {}),
      input: options.input,
      rows: features.rows,
      seconds,
      predictions,
      ...(evaluation ? { evaluation } : {}),
      // Why the input's label column scored nothing: stderr says it too, but --json silences stderr.
      ...(unscored === undefined ? {} : { unscored }),
    };
    output.info(
      `${features.rows} rows from ${options.input} classified by ${session.source} on ${session.provider} in ${seconds.toFixed(3)} s`,
    );
    output.result(result, () => formatTable(predictions));
    // After the table, on stderr: the table on stdout stays one line per row, for pipes.
    if (evaluation) for (const line of formatEvaluation(evaluation, names)) output.info(line);
  } finally {
    await session.release();
  }
}

/**
 * A model that loads but fails inside onnxruntime, or whose answers break its own interface, is a problem with that
 * file, which the user gave, not a bug in hyperproto: E_INVALID_INPUT (exit 2). The runtime's message about broken
 * answers already names the file and the row; a failure inside onnxruntime is said to be one, naming `model`. The
 * session's own refusals (wrong width, non-finite rows) pass unchanged. `hint` replaces the runtime's.
 */
export function modelRunFailure(error: unknown, model: string, hint?: string): unknown {
  if (isHyperprotoError(error) && error.code !== ErrorCode.Internal) return error;
  if (error instanceof ModelAnswersError)
    return new HyperprotoError(ErrorCode.InvalidInput, error.message, { cause: error, hint: hint ?? error.hint ?? exportAgainHint() });
  return new HyperprotoError(ErrorCode.InvalidInput, `onnxruntime cannot run the model ${model}: ${errorMessage(error)}`, {
    cause: error,
    hint: hint ?? exportAgainHint(),
  });
}

/**
 * Each row's true class, from --labels or else the input's label column (undefined when neither gives labels). Labels
 * become classes by the files dataset's rules, with the model's class names as its `classNames`: a file of names is
 * looked up by name, a file of integers indexes into the names unless a name is itself a number; a model without
 * names takes its class indices 0..C-1.
 *
 * A --labels file that does not fit is refused. Labels the input's column gives unasked are a bonus: a row without
 * one, or one that is not a class of the model, leaves the rows classified and not scored; `unscored` and `log` say why.
 */
async function trueLabels(
  model: string,
  session: ModelSession,
  options: PredictOptions,
  features: FeatureRows,
  log: (message: string) => void,
): Promise<{ truth?: TrueLabels; unscored?: string }> {
  if (options.labels !== undefined) {
    // A pipe or a device is refused before anything is read, as for --input.
    await inputFileSize(options.labels, {
      what: `--labels ${options.labels}`,
      expected: 'a .npy file of labels or a text file with one label per line',
    });
    const values = await readLabelsFile(options.labels);
    // Counted against the rows as the files dataset counts a labels file against its data, message for message.
    checkLabelCount(values, features);
    return { truth: modelClasses(values, model, session, log) };
  }
  let unscored = features.unlabelled;
  if (features.labels) {
    try {
      return { truth: modelClasses(features.labels, model, session, log) };
    } catch (error) {
      if (!isHyperprotoError(error) || error.code !== ErrorCode.InvalidInput) throw error;
      unscored = error.message;
    }
  }
  if (unscored !== undefined) log(`${options.input}: classified, not scored: ${unscored}`);
  if (options.perClass) {
    // Asked for scores that no labels could ever give: refused. A label column that gave none this time: said.
    if (unscored !== undefined)
      log(
        `--per-class: nothing to score: the label column of ${options.input} gave no usable labels (said above); fix it, or give --labels FILE`,
      );
    else throw noLabelsForPerClass(model, session, options.input, features.format);
  }
  return unscored === undefined ? {} : { unscored };
}

const LABELS_PAIR = 'Labels pair with the --input rows in order, one each';

interface TrueLabels {
  readonly source: string;
  readonly labels: Int32Array;
  readonly labelsAs: ClassIndex['labelKind'];
}

/**
 * The labels as the model's class indices; a label that is not a class is refused (E_INVALID_INPUT), naming it.
 * Integers read as positions in the model's class names are said (`log`): a file of 0-based indices and one of
 * names in another order both score, and only this line tells the reading apart from a poor model.
 */
function modelClasses(values: LabelValues, model: string, session: ModelSession, log: (message: string) => void): TrueLabels {
  if (!session.classNames) checkClassIndices(values, model, session.classes);
  const names = session.classNames ?? Array.from({ length: session.classes }, (_, c) => String(c));
  try {
    const index = indexClasses([values], { names, source: `the classes of ${model}` });
    if (session.classNames && index.labelKind === 'indices') {
      const shown = names.slice(0, 2).map((name, c) => `${c} = ${JSON.stringify(name)}`);
      log(
        `note: ${values.source} holds integers: read as positions in the class names of ${model} (${shown.join(', ')}${names.length > 2 ? ', ...' : ''})`,
      );
    }
    return { source: values.source, labels: index.labels[0]!, labelsAs: session.classNames ? index.labelKind : 'indices' };
  } catch (error) {
    // The files dataset's message names the file, the line and the label, and its hint what the file may hold.
    if (!isHyperprotoError(error) || error.code !== ErrorCode.InvalidInput) throw error;
    throw new HyperprotoError(ErrorCode.InvalidInput, error.message, { cause: error, hint: `${LABELS_PAIR}. ${error.hint ?? ''}` });
  }
}

/**
 * A model without class names has for labels its class indices 0..C-1, written plainly: any other label is refused,
 * saying that the model has no names (rather than listing "0", "1", ... as if it had), and, for labels 1..C, that
 * they look counted from 1.
 */
function checkClassIndices(values: LabelValues, model: string, classes: number): void {
  const indices = new Set(Array.from({ length: classes }, (_, c) => String(c)));
  const code = values.distinct.findIndex((text) => !indices.has(text));
  if (code < 0) return;
  const text = values.distinct[code]!;
  const range = `0..${classes - 1}`;
  const oneBased = values.distinct.every((label) => /^[1-9]\d*$/.test(label) && Number(label) <= classes);
  const fix = oneBased
    ? `these labels run 1..${classes}, so they look counted from 1: subtract 1 from each`
    : isDecimalNumber(text)
      ? `write each label as one of ${range}`
      : `to score labels by name, export the run again with --class-names FILE (its class names, in class order), or give the labels as integers ${range}`;
  throw new HyperprotoError(
    ErrorCode.InvalidInput,
    `${values.where(code)}: label ${isDecimalNumber(text) ? text : JSON.stringify(text)} is not a class of ${model}: it has no class names, so its labels are the class indices ${range}; ${fix}`,
    { hint: `${LABELS_PAIR}.` },
  );
}

/** --per-class without --labels, on an input that has no label column of the model: nothing could be scored. */
function noLabelsForPerClass(model: string, session: ModelSession, input: string, format: FeatureRows['format']): HyperprotoError {
  const column = session.labelColumn;
  const why =
    column === undefined
      ? `${model} was trained without a label column`
      : format === 'npy'
        ? 'a .npy file holds features only'
        : format === 'csv'
          ? `its header has no column ${JSON.stringify(column)}, the label column of ${model}`
          : `its first row has no key ${JSON.stringify(column)}, the label column of ${model}`;
  return new HyperprotoError(
    ErrorCode.InvalidOptions,
    `--per-class has nothing to score: no --labels, and ${input} has no labels (${why})`,
    {
      hint: 'Give --labels FILE with the true label of each --input row (a .npy file, or text with one label per line), or leave out --per-class.',
    },
  );
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** One summary line, and with --per-class a line per class, named as in the table. */
function formatEvaluation(evaluation: Evaluation, names: readonly string[] | undefined): string[] {
  const summary = `accuracy ${percent(evaluation.accuracy)}, macro-F1 ${percent(evaluation.macroF1)} on ${evaluation.rows} rows (labels: ${evaluation.labels})`;
  return [
    summary,
    ...[absentClassesNote('the labels hold', evaluation.classesInLabels, evaluation.classes)].flatMap((note) =>
      note ? [`  ${note}`] : [],
    ),
    ...(evaluation.perClass ?? []).map(
      (c) =>
        // Quoted: a class name may hold any character, a newline too.
        `  class ${names ? JSON.stringify(names[c.class]) : c.class}: precision ${percent(c.precision)}, recall ${percent(c.recall)}, F1 ${percent(c.f1)}, support ${c.support}`,
    ),
  ];
}

function appendRows(into: RowPrediction[], p: Prediction, names: readonly string[] | undefined): void {
  for (let r = 0; r < p.rows; r++) {
    const label = p.labels[r]!;
    const row: RowPrediction = { label, score: p.labelScores[r]! };
    if (names) row.className = names[label]!;
    if (p.topK) {
      const { k } = p.topK;
      row.topK = Array.from({ length: k }, (_, i) => {
        const top = p.topK!.labels[r * k + i]!;
        return { label: top, score: p.topK!.scores[r * k + i]!, ...(names ? { className: names[top]! } : {}) };
      });
    }
    if (p.scores) row.scores = Array.from(p.scores.subarray(r * p.classes, (r + 1) * p.classes));
    into.push(row);
  }
}

/**
 * Tab-separated, one line per input row, with a header: easy to read and to pipe. Each of the top k is a column of
 * its own (`name:score`), and class names are escaped as in PostgreSQL's text format (`\t`, `\n`, `\r`, `\\`), so
 * a name with a tab, a newline or spaces never shifts a column; other control characters are escaped as every
 * printed result is (`terminalText`).
 */
function formatTable(rows: readonly RowPrediction[]): string {
  const named = rows.some((r) => r.className !== undefined);
  const header = [
    'row',
    'label',
    ...(named ? ['class'] : []),
    'score',
    ...Array.from({ length: rows[0]?.topK?.length ?? 0 }, (_, i) => `top${i + 1}`),
    ...(rows[0]?.scores ? ['scores'] : []),
  ];
  const lines = rows.map((r, i) =>
    [
      String(i),
      String(r.label),
      ...(named ? [tsvText(r.className ?? '')] : []),
      r.score.toPrecision(6),
      ...(r.topK ?? []).map((t) => `${t.className === undefined ? t.label : tsvText(t.className)}:${t.score.toPrecision(4)}`),
      ...(r.scores ? [r.scores.map((s) => s.toPrecision(6)).join(' ')] : []),
    ].join('\t'),
  );
  return [header.join('\t'), ...lines].join('\n');
}

const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function tsvText(text: string): string {
  return text.replace(/[\\\t\n\r]/g, (c) => TSV_ESCAPES[c]!);
}
