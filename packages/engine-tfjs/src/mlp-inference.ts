import { ErrorCode, HyperprotoError, type HeadDefinition } from '@hyperproto/core';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import { evaluateHeadExpr, type Tf } from './evaluate-head-expr.js';
import { forwardMlp, type MlpTensors } from './mlp-network.js';

/** Rows per inference step: bounds the memory of the activations for large splits. */
export const INFERENCE_CHUNK_ROWS = 4096;

/** Each head constant as a 2-D tensor; the caller disposes them. */
export function headConstantTensors(tf: Tf, head: HeadDefinition): Record<string, Tensor2D> {
  const tensors: Record<string, Tensor2D> = {};
  for (const [name, matrix] of Object.entries(head.constants)) {
    if (matrix.data.length !== matrix.rows * matrix.cols) {
      for (const tensor of Object.values(tensors)) tensor.dispose();
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `head constant "${name}" has ${matrix.data.length} values for ${matrix.rows} x ${matrix.cols}`,
      );
    }
    tensors[name] = tf.tensor2d(matrix.data, [matrix.rows, matrix.cols], 'float32');
  }
  return tensors;
}

export interface InferenceParts {
  readonly net: MlpTensors;
  readonly head: HeadDefinition;
  readonly constants: Readonly<Record<string, Tensor2D>>;
  /** The head's parameters by name (`headParamTensors`, or a trainer's variables). */
  readonly params: Readonly<Record<string, Tensor>>;
  readonly batchNormEpsilon: number;
}

/**
 * The network in inference mode and the head's scores. Validation during training and `predict` both go through
 * here with the same chunking, so a restored model reproduces the recorded validation accuracy exactly.
 */
export function inferScores(tf: Tf, parts: InferenceParts, features: Tensor2D): { output: Tensor2D; scores: Tensor2D } {
  const { output } = forwardMlp(tf, parts.net, features, { training: false }, parts.batchNormEpsilon);
  const scores = evaluateHeadExpr(tf, parts.head.scores, { output, constants: parts.constants, params: parts.params }) as Tensor2D;
  return { output, scores };
}

/** Calls `step(start, size)` for consecutive chunks of at most INFERENCE_CHUNK_ROWS rows. */
export async function forEachChunk(rows: number, step: (start: number, size: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < rows; start += INFERENCE_CHUNK_ROWS) {
    await step(start, Math.min(INFERENCE_CHUNK_ROWS, rows - start));
  }
}
