import { createTrainedMlpModel, type TrainedMlp, type TrainedMlpParts } from '@hyperproto/core';
import { InferenceSession } from './inference-session.js';

export type TrainedOnnxMlp = TrainedMlp;

export interface TrainedOnnxMlpParts extends TrainedMlpParts {
  readonly executionProviders?: readonly string[];
}

/** A trained model whose `predict` opens an onnxruntime session only for the length of the call. */
export function createTrainedOnnxMlp(parts: TrainedOnnxMlpParts, source = 'model'): TrainedOnnxMlp {
  return createTrainedMlpModel(
    parts,
    async ({ shape, weights }, features) => {
      const session = await InferenceSession.create(shape, parts.head, parts.classes, parts.executionProviders);
      try {
        return await session.predict(weights, features);
      } finally {
        await session.release();
      }
    },
    source,
  );
}
