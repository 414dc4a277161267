import { createMatrix, ErrorCode, headParamWeights, HyperprotoError, type Matrix } from '@hyperproto/core';
import { createTrainedMlpModel, type TrainedMlp, type TrainedMlpParts } from '@hyperproto/mlp';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import { headParamTensors, type Tf } from './evaluate-head-expr.js';
import { forEachChunk, headConstantTensors, type InferenceParts, inferScores } from './mlp-inference.js';
import { disposeMlpTensors, mlpTensorsFromWeights } from './mlp-network.js';

export type { TrainedMlp, TrainedMlpParts } from '@hyperproto/mlp';

/**
 * A trained model whose weights, head constants and parameters are uploaded to tfjs at its first prediction and
 * disposed by `dispose`; `predict` and `predictLabels` compute the same scores chunk by chunk, the latter reading
 * back only their argmax.
 */
export function createTrainedMlp(tf: Tf, parts: TrainedMlpParts, source = 'model'): TrainedMlp {
  // A head whose parameters have no values (drawn starts never trained) is refused here, not at the first predict.
  headParamWeights(parts.head);
  return createTrainedMlpModel(
    parts,
    ({ shape, weights, batchNormEpsilon }) => {
      let uploaded: InferenceParts | undefined;
      const resident = (): InferenceParts =>
        // Constants first: the one upload that can refuse (a malformed constant), before anything is left to free.
        (uploaded ??= {
          constants: headConstantTensors(tf, parts.head),
          params: headParamTensors(tf, parts.head),
          net: mlpTensorsFromWeights(tf, shape, weights, false),
          head: parts.head,
          batchNormEpsilon,
        });
      /** Scores (when `withScores`) and labels of each chunk, in inference mode. */
      const eachChunk = (
        features: Matrix,
        withScores: boolean,
        use: (start: number, scores: Tensor2D, labels: Tensor) => Promise<void>,
      ) => {
        const inference = resident();
        return forEachChunk(features.rows, async (start, size) => {
          const [chunkScores, chunkLabels] = tf.tidy(() => {
            const x = tf.tensor2d(features.data.subarray(start * features.cols, (start + size) * features.cols), [size, features.cols]);
            const { scores } = inferScores(tf, inference, x);
            return [scores, tf.argMax(scores, 1)] as const;
          });
          try {
            if (withScores && chunkScores.shape[1] !== parts.classes) {
              throw new HyperprotoError(
                ErrorCode.InvalidInput,
                `the head's scores have ${chunkScores.shape[1]} columns, expected ${parts.classes} classes`,
              );
            }
            await use(start, chunkScores, chunkLabels);
          } finally {
            chunkScores.dispose();
            chunkLabels.dispose();
          }
        });
      };
      return {
        async predict(features) {
          const scores = createMatrix(features.rows, parts.classes);
          const labels = new Int32Array(features.rows);
          await eachChunk(features, true, async (start, chunkScores, chunkLabels) => {
            scores.data.set(await chunkScores.data(), start * parts.classes);
            labels.set(await chunkLabels.data(), start);
          });
          return { scores, labels };
        },
        async predictLabels(features) {
          const labels = new Int32Array(features.rows);
          await eachChunk(features, false, async (start, _, chunkLabels) => {
            const chunk = await chunkLabels.data();
            // The scores are not read back; a label past the classes is what a wrong width shows.
            if (chunk.some((label) => label >= parts.classes)) {
              throw new HyperprotoError(ErrorCode.InvalidInput, `the head's scores have more than the ${parts.classes} classes' columns`);
            }
            labels.set(chunk, start);
          });
          return labels;
        },
        release() {
          if (!uploaded) return;
          disposeMlpTensors(uploaded.net);
          for (const tensor of [...Object.values(uploaded.constants), ...Object.values(uploaded.params)]) tensor.dispose();
          uploaded = undefined;
        },
      };
    },
    source,
  );
}
