import { headParamWeights } from '@hyperproto/core';
import { createTrainedMlpModel, type TrainedMlp, type TrainedMlpParts } from '@hyperproto/mlp';
import type { ComputeSessionOptions } from '@hyperproto/onnxruntime-session';
import { InferenceSession } from './inference-session.js';

export type TrainedOnnxMlp = TrainedMlp;

export interface TrainedOnnxMlpParts extends TrainedMlpParts {
  /** Execution providers and the thread budget of the sessions `predict` opens. */
  readonly session?: ComputeSessionOptions;
}

/** A trained model whose `predict` opens an onnxruntime session only for the length of the call. */
export function createTrainedOnnxMlp(parts: TrainedOnnxMlpParts, source = 'model'): TrainedOnnxMlp {
  // A head whose parameters have no values (drawn starts never trained) is refused here, not at the first predict.
  const params = headParamWeights(parts.head);
  return createTrainedMlpModel(
    parts,
    async ({ shape, weights }, features) => {
      const session = await InferenceSession.create(shape, parts.head, parts.classes, parts.session);
      try {
        // The head's parameters (as trained: the head carries their values) follow the network's weights.
        return await session.predict([...weights, ...params], features);
      } finally {
        await session.release();
      }
    },
    source,
  );
}
