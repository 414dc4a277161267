import {
  createMatrix,
  type DatasetSplit,
  ErrorCode,
  type HeadDefinition,
  HyperprotoError,
  type Matrix,
  type NamedWeight,
} from '@hyperproto/core';
import type { MlpShape } from '@hyperproto/mlp';
import { type ComputeSessionOptions, openComputeSession } from '@hyperproto/onnxruntime-session';
import * as ort from 'onnxruntime-node';
import { buildInferenceModel, type InferenceModel } from './inference-graph.js';
import { runOrExplain } from './run-failures.js';

/**
 * Rows per inference run: at most 4,096 (as the tfjs engine), fewer when there are many classes, so that the
 * [rows, classes] scores stay near 16 MiB.
 */
export function inferenceChunkRows(classes: number): number {
  return Math.max(64, Math.min(4096, Math.floor(2 ** 22 / Math.max(1, classes))));
}

/** The inference model in an onnxruntime session; weights are fed on every call. */
export class InferenceSession {
  private constructor(
    private readonly model: InferenceModel,
    private readonly session: ort.InferenceSession,
    private readonly shape: MlpShape,
    private readonly classes: number,
  ) {}

  static async create(shape: MlpShape, head: HeadDefinition, classes: number, options?: ComputeSessionOptions): Promise<InferenceSession> {
    const model = buildInferenceModel(shape, head);
    const session = await runOrExplain('starting the inference session', { ...shape, classes, rows: inferenceChunkRows(classes) }, () =>
      openComputeSession(model.bytes, options),
    );
    return new InferenceSession(model, session, shape, classes);
  }

  /** The head's loss (row-weighted mean of the chunk losses), the accuracy of the argmax and the argmax over a split. */
  async evaluate(
    weights: readonly NamedWeight[],
    split: DatasetSplit,
  ): Promise<{ loss: number; accuracy: number; predictions: Int32Array }> {
    let lossSum = 0;
    let correct = 0;
    const rows = split.labels.length;
    const predictions = new Int32Array(rows);
    const fetches = [this.model.loss, this.model.correct, this.model.predictions];
    await this.forEachChunk(weights, split.features, split.labels, fetches, (out, start, size) => {
      lossSum += (out[this.model.loss]!.data as Float32Array)[0]! * size;
      correct += (out[this.model.correct]!.data as Float32Array)[0]!;
      const predicted = out[this.model.predictions]!.data as BigInt64Array;
      for (let i = 0; i < predicted.length; i++) predictions[start + i] = Number(predicted[i]);
    });
    return { loss: lossSum / rows, accuracy: correct / rows, predictions };
  }

  async predict(weights: readonly NamedWeight[], features: Matrix): Promise<{ scores: Matrix; labels: Int32Array }> {
    const scores = createMatrix(features.rows, this.classes);
    const labels = new Int32Array(features.rows);
    await this.forEachChunk(weights, features, undefined, [this.model.scores, this.model.predictions], (out, start) => {
      const chunkScores = out[this.model.scores]!;
      if (chunkScores.dims[1] !== this.classes) {
        throw new HyperprotoError(
          ErrorCode.InvalidInput,
          `the head's scores have ${chunkScores.dims[1]} columns, expected ${this.classes} classes`,
        );
      }
      scores.data.set(chunkScores.data as Float32Array, start * this.classes);
      const predicted = out[this.model.predictions]!.data as BigInt64Array;
      for (let i = 0; i < predicted.length; i++) labels[start + i] = Number(predicted[i]);
    });
    return { scores, labels };
  }

  /**
   * `predict`'s labels alone: the same graph and chunks, fetching only the argmax, so that the scores of a chunk
   * never leave onnxruntime and memory stays bounded by the chunk whatever the number of rows.
   */
  async predictLabels(weights: readonly NamedWeight[], features: Matrix): Promise<Int32Array> {
    const labels = new Int32Array(features.rows);
    await this.forEachChunk(weights, features, undefined, [this.model.predictions], (out, start) => {
      const predicted = out[this.model.predictions]!.data as BigInt64Array;
      for (let i = 0; i < predicted.length; i++) {
        const label = Number(predicted[i]);
        // The scores' width is not fetched; a label past the classes is what a wrong width shows.
        if (label >= this.classes) {
          throw new HyperprotoError(ErrorCode.InvalidInput, `the head's scores have more than the ${this.classes} classes' columns`);
        }
        labels[start + i] = label;
      }
    });
    return labels;
  }

  private async forEachChunk(
    weights: readonly NamedWeight[],
    features: Matrix,
    labels: Int32Array | undefined,
    fetches: readonly string[],
    use: (out: ort.InferenceSession.OnnxValueMapType, start: number, size: number) => void,
  ): Promise<void> {
    const feeds: Record<string, ort.Tensor> = {};
    weights.forEach((w, i) => (feeds[this.model.weightInputs[i]!] = new ort.Tensor('float32', w.data, [...w.shape])));
    const chunk = inferenceChunkRows(this.classes);
    for (let start = 0; start < features.rows; start += chunk) {
      const size = Math.min(chunk, features.rows - start);
      feeds[this.model.features] = new ort.Tensor(
        'float32',
        features.data.subarray(start * features.cols, (start + size) * features.cols),
        [size, features.cols],
      );
      // Predictions need no labels; the loss they would feed is not fetched.
      feeds[this.model.labels] = new ort.Tensor('int32', labels ? labels.subarray(start, start + size) : new Int32Array(size), [size]);
      const out = await runOrExplain('inference', { ...this.shape, classes: this.classes, rows: size }, () =>
        this.session.run(feeds, [...fetches]),
      );
      use(out, start, size);
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
