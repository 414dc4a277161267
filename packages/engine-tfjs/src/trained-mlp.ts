import { createMatrix, ErrorCode, headParamWeights, HyperprotoError } from '@hyperproto/core';
import { createTrainedMlpModel, type TrainedMlp, type TrainedMlpParts } from '@hyperproto/mlp';
import type { Tensor2D } from '@tensorflow/tfjs';
import { headParamTensors, type Tf } from './evaluate-head-expr.js';
import { forEachChunk, headConstantTensors, inferScores } from './mlp-inference.js';
import { disposeMlpTensors, mlpTensorsFromWeights } from './mlp-network.js';

export type { TrainedMlp, TrainedMlpParts } from '@hyperproto/mlp';

/** A trained model whose `predict` uploads the weights to tfjs only for the length of the call. */
export function createTrainedMlp(tf: Tf, parts: TrainedMlpParts, source = 'model'): TrainedMlp {
  // A head whose parameters have no values (drawn starts never trained) is refused here, not at the first predict.
  headParamWeights(parts.head);
  return createTrainedMlpModel(
    parts,
    async ({ shape, weights, batchNormEpsilon }, features) => {
      const scores = createMatrix(features.rows, parts.classes);
      const labels = new Int32Array(features.rows);
      const params = headParamTensors(tf, parts.head);
      const net = mlpTensorsFromWeights(tf, shape, weights, false);
      const constants = headConstantTensors(tf, parts.head);
      try {
        await forEachChunk(features.rows, async (start, size) => {
          const [chunkScores, chunkLabels] = tf.tidy(() => {
            const x = tf.tensor2d(features.data.subarray(start * features.cols, (start + size) * features.cols), [size, features.cols]);
            const { scores: s } = inferScores(tf, { net, head: parts.head, constants, params, batchNormEpsilon }, x);
            return [s, tf.argMax(s, 1)] as const;
          });
          try {
            if ((chunkScores as Tensor2D).shape[1] !== parts.classes) {
              throw new HyperprotoError(
                ErrorCode.InvalidInput,
                `the head's scores have ${chunkScores.shape[1]} columns, expected ${parts.classes} classes`,
              );
            }
            scores.data.set(await chunkScores.data(), start * parts.classes);
            labels.set(await chunkLabels.data(), start);
          } finally {
            chunkScores.dispose();
            chunkLabels.dispose();
          }
        });
      } finally {
        disposeMlpTensors(net);
        for (const tensor of [...Object.values(constants), ...Object.values(params)]) tensor.dispose();
      }
      return { scores, labels };
    },
    source,
  );
}
