import { ErrorCode, HyperprotoError, isHyperprotoError } from '@hyperproto/core';
import { createSession, exportAgainHint, ModelAnswersError, type Prediction } from '@hyperproto/runtime-node';
import { sessionProviders, type ExecutionProviderFlags } from '../execution-provider-flags.js';
import { readFeatureFile } from '../feature-files.js';
import type { GlobalOptions } from '../main.js';
import { Output } from '../output.js';

export interface PredictOptions extends GlobalOptions, ExecutionProviderFlags {
  input: string;
  topK?: number;
  scores?: boolean;
  batchSize: number;
  threads?: number;
  placement?: boolean;
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
    const features = await readFeatureFile(options.input, session.inputWidth, session, (message) => output.info(message));
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
    };
    output.info(
      `${features.rows} rows from ${options.input} classified by ${session.source} on ${session.provider} in ${seconds.toFixed(3)} s`,
    );
    output.result(result, () => formatTable(predictions));
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
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  return new HyperprotoError(ErrorCode.InvalidInput, `onnxruntime cannot run the model ${model}: ${message}`, {
    cause: error,
    hint: hint ?? exportAgainHint(),
  });
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
