import {
  bindHeadParams,
  constantsUsed,
  createMatrix,
  ErrorCode,
  formatIssues,
  HEAD_PARAM_WEIGHT_PREFIX,
  headConstant,
  type HeadDefinition,
  type HeadExpr,
  headParams,
  headParamWeights,
  HyperprotoError,
  type Matrix,
  type NamedWeight,
  type TrainedModel,
  TrainerSettingsSchema,
  z,
} from '@hyperproto/core';
import { BATCH_NORM_EPSILON } from '@hyperproto/mlp';
import { writeFileAtomic } from '@hyperproto/npy';
import { initTfjs } from '@hyperproto/tfjs-backend';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Tf } from './evaluate-head-expr.js';
import { parseHeadExpr } from './head-expr-json.js';
import { createTrainedMlp, type TrainedMlp } from './trained-mlp.js';

export const MODEL_FORMAT = 'hyperproto-mlp';
/**
 * 2: the head's trainable parameters travel in weights.bin as `head/param/<name>` in their own shapes (version 1
 * kept a scalar's trained value in the expression). A model whose head has no parameters is still written as 1.
 */
export const MODEL_FORMAT_VERSION = 2;
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
/** Head constants (e.g. prototypes) travel in weights.bin under this prefix. */
export const HEAD_CONSTANT_PREFIX = 'head/constant/';

/** One entry of TensorFlow.js' weights manifest (tf.io.WeightsManifestEntry), float32 only. */
export interface ManifestWeight {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: 'float32';
}

/** The layout of model.json. */
export interface ModelJson {
  readonly format: typeof MODEL_FORMAT;
  readonly formatVersion: number;
  readonly inputWidth: number;
  readonly classes: number;
  readonly trainer: TrainedModel['trainer'];
  readonly batchNormEpsilon: number;
  readonly head: { readonly loss: unknown; readonly scores: unknown; readonly scoresName: string; readonly outputUnits: number };
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Exactly TensorFlow.js' weights manifest, so tf.io.decodeWeights reads weights.bin. */
  readonly weightsManifest: readonly { readonly paths: string[]; readonly weights: ManifestWeight[] }[];
}

const positiveInt = z.number().int().min(1);
const ModelJsonSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  formatVersion: z.number().int(),
  inputWidth: positiveInt,
  classes: z.number().int().min(2),
  trainer: TrainerSettingsSchema,
  batchNormEpsilon: z.number().positive(),
  head: z.object({ loss: z.unknown(), scores: z.unknown(), scoresName: z.string().min(1), outputUnits: positiveInt }),
  metadata: z.record(z.string(), z.unknown()).default({}),
  weightsManifest: z
    .array(
      z.object({
        paths: z.array(z.string().min(1)).min(1),
        weights: z.array(z.object({ name: z.string().min(1), shape: z.array(z.number().int().min(0)), dtype: z.literal('float32') })),
      }),
    )
    .min(1),
});

/**
 * Writes `model.json` and `weights.bin` into `dir` (created if missing), each atomically: a reader never sees a
 * half-written file, and a failed save leaves any earlier files whole. weights.bin is written first, so a
 * model.json never points at weights that are not there yet.
 */
export async function saveModel(
  dir: string,
  model: TrainedModel,
  metadata: Readonly<Record<string, unknown>> = {},
): Promise<{ readonly modelJson: string; readonly weightsBin: string }> {
  // The network's weights, the head's constants, then its parameters at the values the model carries (trained).
  const params = headParamWeights(model.head);
  const weights: NamedWeight[] = model.weights.filter((w) => !w.name.startsWith(HEAD_PARAM_WEIGHT_PREFIX));
  for (const [name, matrix] of Object.entries(model.head.constants)) {
    weights.push({ name: `${HEAD_CONSTANT_PREFIX}${name}`, shape: [matrix.rows, matrix.cols], data: matrix.data });
  }
  weights.push(...params);
  const seen = new Set<string>();
  let bytes = 0;
  for (const weight of weights) {
    const size = weight.shape.reduce((a, b) => a * b, 1);
    if (seen.has(weight.name)) throw new HyperprotoError(ErrorCode.InvalidInput, `the model has two weights named "${weight.name}"`);
    if (size !== weight.data.length) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `weight "${weight.name}" has ${weight.data.length} values for shape [${weight.shape.join(', ')}]`,
      );
    }
    seen.add(weight.name);
    bytes += size * 4;
  }
  const buffer = new Uint8Array(bytes);
  let offset = 0;
  for (const weight of weights) {
    const data = weight.data instanceof Float32Array ? weight.data : Float32Array.from(weight.data);
    buffer.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    offset += data.byteLength;
  }
  const json: ModelJson = {
    format: MODEL_FORMAT,
    formatVersion: params.length ? MODEL_FORMAT_VERSION : 1,
    inputWidth: model.inputWidth,
    classes: model.classes,
    trainer: { ...model.trainer },
    batchNormEpsilon: (model as Partial<TrainedMlp>).batchNormEpsilon ?? BATCH_NORM_EPSILON,
    head: { loss: model.head.loss, scores: model.head.scores, scoresName: model.head.scoresName, outputUnits: model.head.outputUnits },
    metadata: { ...metadata },
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: 'float32' })) }],
  };
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw ioError(`cannot create the model directory ${dir}`, error);
  }
  const weightsBin = join(dir, WEIGHTS_BIN);
  const modelJson = join(dir, MODEL_JSON);
  await writeFileAtomic(weightsBin, buffer);
  await writeFileAtomic(modelJson, `${JSON.stringify(json, null, 2)}\n`);
  return { modelJson, weightsBin };
}

/**
 * Reads a model saved by `saveModel`. Missing or unreadable files are E_IO; files that do not parse, do not match
 * each other or are truncated are E_INVALID_INPUT; every message names the file.
 */
export async function loadModel(dir: string, tf?: Tf): Promise<TrainedMlp> {
  const modelPath = join(dir, MODEL_JSON);
  let text: string;
  try {
    text = await readFile(modelPath, 'utf8');
  } catch (error) {
    throw ioError(`cannot read ${modelPath}`, error, 'Point at a directory written by saveModel (it holds model.json and weights.bin).');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw invalid(`${modelPath} is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const version = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === 'number' && version > MODEL_FORMAT_VERSION) {
    throw new HyperprotoError(
      ErrorCode.Unsupported,
      `${modelPath} has format version ${version}; this hyperproto reads version ${MODEL_FORMAT_VERSION}`,
      {
        hint: 'Update @hyperproto/engine-tfjs to load it.',
      },
    );
  }
  const parsed = ModelJsonSchema.safeParse(raw);
  if (!parsed.success) throw invalid(`${modelPath} is not a hyperproto model file: ${formatIssues(parsed.error.issues)}`);
  const json = parsed.data;
  const loss = parseHeadExpr(json.head.loss, `${modelPath}: head.loss`);
  const scores = parseHeadExpr(json.head.scores, `${modelPath}: head.scores`);

  const weights: NamedWeight[] = [];
  const constants: Record<string, Matrix> = {};
  const params: Record<string, Float32Array> = {};
  for (const group of json.weightsManifest) {
    const data = await readWeightGroup(dir, group.paths);
    const expected = group.weights.reduce((sum, w) => sum + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
    const files = group.paths.join(', ');
    if (data.byteLength !== expected) {
      throw invalid(
        `${join(dir, files)} has ${data.byteLength} bytes, but ${modelPath} describes ${expected}: the file is ${data.byteLength < expected ? 'truncated' : 'longer than expected'} or belongs to another model`,
        'Save the model again; weights.bin and model.json must come from the same saveModel call.',
      );
    }
    let offset = 0;
    for (const spec of group.weights) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      // A copy: the file buffer may not be 4-byte aligned for a Float32Array view.
      const values = new Float32Array(data.buffer.slice(data.byteOffset + offset, data.byteOffset + offset + size * 4));
      offset += size * 4;
      if (spec.name.startsWith(HEAD_CONSTANT_PREFIX)) {
        if (spec.shape.length !== 2)
          throw invalid(`${modelPath}: head constant "${spec.name}" must be 2-D, has shape [${spec.shape.join(', ')}]`);
        constants[spec.name.slice(HEAD_CONSTANT_PREFIX.length)] = createMatrix(spec.shape[0]!, spec.shape[1]!, values);
      } else if (spec.name.startsWith(HEAD_PARAM_WEIGHT_PREFIX)) {
        params[spec.name.slice(HEAD_PARAM_WEIGHT_PREFIX.length)] = values;
        checkParamShape(modelPath, spec.name, spec.shape, loss, scores);
      } else {
        weights.push({ name: spec.name, shape: spec.shape, data: values });
      }
    }
  }
  for (const name of new Set([...constantsUsed(loss), ...constantsUsed(scores)])) {
    if (headConstant(constants, name) === undefined)
      throw invalid(`${modelPath}: the head uses constant "${name}", but the weights manifest has no "${HEAD_CONSTANT_PREFIX}${name}"`);
  }
  const unbound: HeadDefinition = { outputUnits: json.head.outputUnits, loss, scores, scoresName: json.head.scoresName, constants };
  let head: HeadDefinition;
  try {
    // Version 1 files have no parameter weights: a scalar's trained value is its `value` in the expression.
    head = bindHeadParams(unbound, params);
    headParamWeights(head);
  } catch (error) {
    throw invalid(`${modelPath}: ${error instanceof Error ? error.message : String(error)}`, 'Save the model again with saveModel.');
  }
  const runtime = tf ?? (await initTfjs()).tf;
  return createTrainedMlp(
    runtime,
    { inputWidth: json.inputWidth, classes: json.classes, trainer: json.trainer, head, weights, batchNormEpsilon: json.batchNormEpsilon },
    modelPath,
  );
}

async function readWeightGroup(dir: string, paths: readonly string[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const path of paths) {
    // Only files beside model.json: a model file must not make us read elsewhere on disk.
    if (basename(path) !== path || path === '.' || path === '..') {
      throw invalid(`${join(dir, MODEL_JSON)}: weight path "${path}" must be a file name in the model directory`);
    }
    const file = join(dir, path);
    try {
      parts.push(await readFile(file));
    } catch (error) {
      throw ioError(`cannot read ${file}`, error, 'weights.bin must sit beside model.json; copy both files together.');
    }
  }
  if (parts.length === 1) return parts[0]!;
  const joined = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}

/** A parameter weight in the shape the head gives that parameter; its name is checked when the head is bound. */
function checkParamShape(modelPath: string, weightName: string, shape: readonly number[], loss: HeadExpr, scores: HeadExpr): void {
  const spec = headParams({ loss, scores }).get(weightName.slice(HEAD_PARAM_WEIGHT_PREFIX.length));
  if (spec && spec.shape.join() !== shape.join()) {
    throw invalid(
      `${modelPath}: weight "${weightName}" has shape [${shape.join(', ')}], but the head's parameter has the shape [${spec.shape.join(', ')}]`,
      'Save the model again; weights.bin and model.json must come from the same saveModel call.',
    );
  }
}

function ioError(message: string, cause: unknown, hint?: string): HyperprotoError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new HyperprotoError(ErrorCode.Io, `${message}: ${reason}`, { cause, hint });
}

function invalid(message: string, hint?: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidInput, message, { hint });
}
