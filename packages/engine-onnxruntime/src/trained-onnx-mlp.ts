import { headParamWeights } from '@hyperproto/core';
import { createTrainedMlpModel, type TrainedMlp, type TrainedMlpParts } from '@hyperproto/mlp';
import type { ComputeSessionOptions } from '@hyperproto/onnxruntime-session';
import { InferenceSession } from './inference-session.js';

export type TrainedOnnxMlp = TrainedMlp;

export interface TrainedOnnxMlpParts extends TrainedMlpParts {
  /** Execution providers and the thread budget of the model's inference session. */
  readonly session?: ComputeSessionOptions;
}

/**
 * A trained model with one onnxruntime inference session, opened at its first prediction and released by
 * `dispose`; `predict` and `predictLabels` run the same graph (the validation model of training) on it.
 */
export function createTrainedOnnxMlp(parts: TrainedOnnxMlpParts, source = 'model'): TrainedOnnxMlp {
  // A head whose parameters have no values (drawn starts never trained) is refused here, not at the first predict.
  const params = headParamWeights(parts.head);
  return createTrainedMlpModel(
    parts,
    ({ shape, weights }) => {
      // The head's parameters (as trained: the head carries their values) follow the network's weights.
      const inputs = [...weights, ...params];
      let opened: Promise<InferenceSession> | undefined;
      const session = () =>
        (opened ??= InferenceSession.create(shape, parts.head, parts.classes, parts.session).catch((error: unknown) => {
          // A session that failed to start (out of memory, say) is tried again by the next call.
          opened = undefined;
          throw error;
        }));
      return {
        predict: async (features) => (await session()).predict(inputs, features),
        predictLabels: async (features) => (await session()).predictLabels(inputs, features),
        async release() {
          const started = opened;
          opened = undefined;
          if (started) await (await started).release();
        },
      };
    },
    source,
  );
}
