import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { createMatrix, createRng, ErrorCode, HyperprotoError, type TrainedModel } from '@hyperproto/core';
import { readClassNames } from '@hyperproto/data-files';
import { loadModel, MODEL_JSON } from '@hyperproto/engine-tfjs';
import { DEFAULT_OPSET, exportOnnx, type ExportMetadata } from '@hyperproto/onnx';
import { writeFileAtomic } from '@hyperproto/npy';
import { createSession } from '@hyperproto/runtime-node';
import type { GlobalOptions } from '../main.js';
import { trainedFeatureNames, trainedLabelColumn } from '../feature-files.js';
import { Output } from '../output.js';
import { modelRunFailure } from './predict.js';

export interface ExportOptions extends GlobalOptions {
  out: string;
  topK?: number;
  opset?: number;
  classNames?: string;
  force?: boolean;
  /** False with --no-verify. */
  verify: boolean;
}

/** Rows the exported file is checked on against the trained model before the command reports success. */
const VERIFY_ROWS = 256;
/** The parity contract of every export: scores within this absolute difference, labels equal. */
const SCORE_TOLERANCE = 1e-4;

/**
 * Exports the model of a run directory (written by `hyperproto train`) to ONNX, then runs the file with
 * onnxruntime on seeded random rows and checks it against the trained model before reporting success.
 */
export async function exportCommand(runDir: string, options: ExportOptions): Promise<void> {
  const output = new Output(options);
  const { modelDir, spec } = await locateRun(runDir);
  const modelJson = await readJson(join(modelDir, MODEL_JSON));
  const run = {
    spec: spec ?? (modelJson?.metadata as { spec?: RunSpec } | undefined)?.spec,
    metrics: existsSync(join(modelDir, '..', 'metrics.json')) ? await readJson(join(modelDir, '..', 'metrics.json')) : undefined,
  };
  const out = resolve(options.out);
  if (!options.force && existsSync(out)) {
    throw new HyperprotoError(ErrorCode.Io, `--out ${options.out} already exists`, {
      hint: 'Choose another --out, or pass --force to replace it.',
    });
  }
  // Checked against model.json before the trained model (and TensorFlow.js) loads, so a wrong flag fails at once.
  const classes = typeof modelJson?.classes === 'number' ? modelJson.classes : undefined;
  if (classes !== undefined && options.topK !== undefined && options.topK > classes) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `top-k must be an integer from 1 to the ${classes} classes, got ${options.topK}`);
  }
  const runClassNames = findClassNames(modelJson, run.metrics);
  // Read as training reads its `classNames` option, so the file a run trained with gives the same names here.
  const classNames = options.classNames
    ? (await readClassNames(options.classNames, { what: `--class-names ${options.classNames}` }))?.names
    : runClassNames;
  if (classes !== undefined && classNames && classNames.length !== classes) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${classNames.length} class names for ${classes} classes; give exactly one name per class`,
    );
  }
  if (options.classNames && classNames && runClassNames) {
    const renames = checkRenaming(runClassNames, classNames, options.classNames);
    if (renames) output.info(`warning: --class-names ${options.classNames} renames the run's classes: ${renames}`);
  }
  const model = await loadModel(modelDir);
  try {
    const columns = findColumns(modelJson, run, model.inputWidth, modelDir);
    const metadata = exportMetadata(run.spec, model);
    const bytes = exportOnnx(model, {
      metadata,
      ...columns,
      ...(options.topK === undefined ? {} : { topK: options.topK }),
      ...(options.opset === undefined ? {} : { opset: options.opset }),
      ...(classNames ? { classNames } : {}),
    });
    const verified = options.verify ? await verifyExport(model, bytes, runDir) : null;
    await writeFileAtomic(out, bytes, { what: `--out ${options.out}` });
    const result = {
      out,
      bytes: bytes.length,
      head: metadata.head,
      strategy: metadata.strategy ?? null,
      classes: model.classes,
      inputWidth: model.inputWidth,
      dims: model.head.outputUnits,
      opset: options.opset ?? DEFAULT_OPSET,
      input: { name: 'features', shape: ['N', model.inputWidth] },
      outputs: [model.head.scoresName, 'label', ...(options.topK ? ['topk_scores', 'topk_labels'] : [])],
      classNames: classNames ? classNames.length : 0,
      featureNames: columns.featureNames ? model.inputWidth : 0,
      labelColumn: columns.labelColumn ?? null,
      verified,
    };
    output.result(result, () =>
      [
        `exported ${runDir} (${metadata.head}${metadata.strategy ? `, ${metadata.strategy} prototypes` : ''}, ${model.classes} classes) to ${options.out}, ${(bytes.length / 1024).toFixed(1)} KiB`,
        `  input features [N, ${model.inputWidth}] -> outputs ${result.outputs.join(', ')}`,
        verified
          ? `  checked against the trained model on ${verified.rows} random rows: labels equal, largest score difference ${verified.maxScoreDifference.toExponential(2)}`
          : '  not checked against the trained model (--no-verify)',
      ].join('\n'),
    );
  } finally {
    model.dispose();
  }
}

interface RunSpec {
  seed?: number;
  dataset?: { name?: string; options?: unknown };
  head?: { name?: string };
  prototypes?: { strategy?: string; dims?: number; file?: string };
}

/** A run directory (holding model/ and spec.json) or a model directory itself (holding model.json). */
async function locateRun(runDir: string): Promise<{ modelDir: string; spec: RunSpec | undefined }> {
  const info = await stat(runDir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new HyperprotoError(ErrorCode.Io, `${runDir} is not a directory`, {
      hint: 'Give the directory `hyperproto train --out` wrote (it holds model/ and spec.json).',
    });
  }
  if (existsSync(join(runDir, MODEL_JSON))) return { modelDir: runDir, spec: undefined };
  const modelDir = join(runDir, 'model');
  if (!existsSync(join(modelDir, MODEL_JSON))) {
    throw new HyperprotoError(ErrorCode.Io, `${runDir} holds no trained model (no model/${MODEL_JSON})`, {
      hint: 'Give the directory `hyperproto train --out` wrote; an unfinished run leaves no model.',
    });
  }
  const specPath = join(runDir, 'spec.json');
  return { modelDir, spec: existsSync(specPath) ? ((await readJson(specPath)) as RunSpec | undefined) : undefined };
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new HyperprotoError(ErrorCode.Io, `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new HyperprotoError(ErrorCode.InvalidInput, `${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function exportMetadata(spec: RunSpec | undefined, model: TrainedModel): ExportMetadata {
  const head =
    spec?.head?.name ?? (model.head.scoresName === 'probabilities' ? 'softmax' : model.head.scoresName === 'scores' ? 'hpn' : 'unknown');
  const prototypes = spec?.prototypes;
  return {
    head,
    ...(prototypes?.strategy
      ? { strategy: prototypes.strategy }
      : prototypes?.file
        ? { strategy: 'file', prototypesFile: basename(prototypes.file) }
        : {}),
    ...(spec?.seed === undefined ? {} : { seed: String(spec.seed) }),
    ...(spec?.dataset?.name ? { dataset: spec.dataset.name } : {}),
  };
}

/** Class names saved with the model or the run's dataset facts, when the dataset had them. */
function findClassNames(
  modelJson: Record<string, unknown> | undefined,
  metrics: Record<string, unknown> | undefined,
): string[] | undefined {
  const candidates = [
    (modelJson?.metadata as { classNames?: unknown } | undefined)?.classNames,
    (metrics?.dataset as { classNames?: unknown } | undefined)?.classNames,
  ];
  return candidates.find(isNameList);
}

/** Renames shown in export's warning; the rest are counted. */
const RENAMES_SHOWN = 3;

/**
 * --class-names may rename the run's classes but not reorder them: the model's outputs follow the run's order, so a
 * run's name at another position would put that name on another class's predictions. Returns the renames for the
 * warning (`0: "1" -> "setosa", ...`), or undefined when the names are the run's own.
 */
function checkRenaming(runNames: readonly string[], givenNames: readonly string[], file: string): string | undefined {
  const moved = givenNames.findIndex((name, i) => name !== runNames[i] && runNames.includes(name));
  if (moved >= 0) {
    const name = givenNames[moved]!;
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `--class-names ${file} puts a class name of the run at another position: position ${moved} is ${JSON.stringify(runNames[moved])} in the run but ${JSON.stringify(name)} in ${file} (the run's position ${runNames.indexOf(name)}); the model's outputs are in the run's order, so these names would mislabel its predictions`,
      {
        hint: `Leave out --class-names: the model keeps the run's names. For another order, train again with the classNames dataset option (--dataset-option classNames=${file}).`,
      },
    );
  }
  const renamed = runNames.flatMap((name, i) =>
    name === givenNames[i] ? [] : [`${i}: ${JSON.stringify(name)} -> ${JSON.stringify(givenNames[i])}`],
  );
  if (!renamed.length) return undefined;
  const more = renamed.length - RENAMES_SHOWN;
  return [...renamed.slice(0, RENAMES_SHOWN), ...(more > 0 ? [`and ${more} more`] : [])].join(', ');
}

/**
 * The training data's columns, for exportOnnx's `featureNames` and `labelColumn`: as saved with the model, else as
 * the run's dataset facts and spec record them (runs saved before the model kept them).
 */
function findColumns(
  modelJson: Record<string, unknown> | undefined,
  run: { spec: RunSpec | undefined; metrics: Record<string, unknown> | undefined },
  inputWidth: number,
  modelDir: string,
): { featureNames?: readonly string[]; labelColumn?: string } {
  const saved = modelJson?.metadata as { featureNames?: unknown; labelColumn?: unknown } | undefined;
  const featureNames = isNameList(saved?.featureNames)
    ? saved.featureNames
    : trainedFeatureNames(run.metrics?.dataset as Record<string, unknown> | undefined, inputWidth);
  if (featureNames && featureNames.length !== inputWidth) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${join(modelDir, MODEL_JSON)} has ${featureNames.length} feature names for ${inputWidth} input features`,
      { hint: 'The run directory is damaged: train the model again.' },
    );
  }
  const labelColumn = typeof saved?.labelColumn === 'string' ? saved.labelColumn : trainedLabelColumn(run.spec?.dataset);
  return {
    ...(featureNames ? { featureNames } : {}),
    ...(labelColumn === undefined ? {} : { labelColumn }),
  };
}

function isNameList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((name) => typeof name === 'string');
}

/**
 * Runs the exported bytes and the trained model on the same seeded random rows. Labels may differ only where the
 * trained model's own top two scores tie within the tolerance; anything else means the export is wrong.
 */
async function verifyExport(model: TrainedModel, bytes: Uint8Array, source: string): Promise<{ rows: number; maxScoreDifference: number }> {
  const features = createMatrix(
    VERIFY_ROWS,
    model.inputWidth,
    createRng(0).fillNormal(new Float32Array(VERIFY_ROWS * model.inputWidth), 0, 2),
  );
  const expected = await model.predict(features);
  const session = await createSession(bytes, { source: 'the exported model' });
  try {
    const got = await session.predict(features).catch((error: unknown) => {
      throw modelRunFailure(
        error,
        `exported from ${source}`,
        'The run directory may be damaged (train it again), or pass --no-verify to write the file unchecked.',
      );
    });
    let maxScoreDifference = 0;
    for (let i = 0; i < expected.scores.data.length; i++)
      maxScoreDifference = Math.max(maxScoreDifference, Math.abs(got.scores![i]! - expected.scores.data[i]!));
    const C = model.classes;
    const wrongLabels = [...got.labels.keys()].filter((r) => {
      const a = got.labels[r]!;
      const b = expected.labels[r]!;
      return a !== b && Math.abs(expected.scores.data[r * C + a]! - expected.scores.data[r * C + b]!) > SCORE_TOLERANCE;
    });
    if (maxScoreDifference > SCORE_TOLERANCE || wrongLabels.length) {
      throw new HyperprotoError(
        ErrorCode.Internal,
        `the exported model disagrees with the trained model: largest score difference ${maxScoreDifference.toExponential(2)}, ${wrongLabels.length} of ${VERIFY_ROWS} labels differ`,
      );
    }
    return { rows: VERIFY_ROWS, maxScoreDifference };
  } finally {
    await session.release();
  }
}
