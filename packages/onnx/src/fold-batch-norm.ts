import { ErrorCode, HyperprotoError } from '@hyperproto/core';

/** A dense layer ready for Gemm: kernel [in, out] and bias [out]. */
export interface DenseLayer {
  readonly kernel: Float32Array;
  readonly bias: Float32Array;
  readonly inputs: number;
  readonly units: number;
}

export interface BatchNorm {
  readonly gamma: Float32Array;
  readonly beta: Float32Array;
  readonly movingMean: Float32Array;
  readonly movingVariance: Float32Array;
  readonly epsilon: number;
}

/**
 * Folds inference-mode batch normalisation into the bias-free dense layer before it:
 * gamma * (x W - mean) / sqrt(var + eps) + beta = x (W * s) + (beta - mean * s), with s = gamma / sqrt(var + eps).
 * Computed in float64 and rounded once, so the folded layer is as close to the unfolded one as float32 allows.
 */
export function foldBatchNorm(kernel: Float32Array, inputs: number, units: number, norm: BatchNorm, layer = 'batch norm'): DenseLayer {
  const folded = new Float32Array(inputs * units);
  const bias = new Float32Array(units);
  const scale = new Float64Array(units);
  for (let j = 0; j < units; j++) {
    scale[j] = norm.gamma[j]! / Math.sqrt(norm.movingVariance[j]! + norm.epsilon);
    if (!Number.isFinite(scale[j]!)) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `${layer} unit ${j}: moving variance ${norm.movingVariance[j]} with epsilon ${norm.epsilon} gives no finite scale`,
      );
    }
    bias[j] = norm.beta[j]! - norm.movingMean[j]! * scale[j]!;
  }
  for (let i = 0; i < inputs; i++) {
    const row = i * units;
    for (let j = 0; j < units; j++) folded[row + j] = kernel[row + j]! * scale[j]!;
  }
  return { kernel: folded, bias, inputs, units };
}
