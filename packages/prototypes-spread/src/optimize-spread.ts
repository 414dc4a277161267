import { createMatrix, type Matrix, type PluginContext, type PrototypeRequest } from '@hyperproto/core';
import { openComputeSession } from '@hyperproto/onnxruntime-session';
import { drawGaussianUnitRows, reportLargestCosine, throwIfAborted, toUnitRows } from '@hyperproto/prototype-steps';
import { SimilarityScanner } from '@hyperproto/similarity-scan';
import * as ort from 'onnxruntime-node';
import { ADAM, spreadStepsModel } from './spread-step-model.js';

export interface SpreadSettings {
  readonly steps: number;
  /** Neighbours per prototype that the smooth maximum runs over. */
  readonly neighbours: number;
  /** Steps between exact neighbour scans. */
  readonly refreshEvery: number;
  readonly temperature: number;
  readonly learningRate: number;
  /** The step size decays linearly from learningRate to learningRate x decayTo. */
  readonly decayTo: number;
  /** Rows to refine; random directions when absent. */
  readonly start?: Matrix;
}

const SOURCE = 'prototypes:spread';

/**
 * From normalised N(0, I) draws (or given rows), Adam on each prototype's smooth maximum cosine to its k nearest
 * neighbours, the lists refreshed by an exact blocked scan every `refreshEvery` steps (O(C^2 D), in tiles, never
 * the whole C x C matrix at once). A step costs O(C k D).
 */
export async function optimizeSpread(ctx: PluginContext, { classes, dims }: PrototypeRequest, settings: SpreadSettings): Promise<Matrix> {
  const { steps } = settings;
  const k = Math.min(settings.neighbours, classes - 1);
  let rows: Float32Array = settings.start
    ? toUnitRows(settings.start.data, classes, dims, `${SOURCE} start`).data
    : drawGaussianUnitRows(ctx.rng, classes, dims).data;
  let first: Float32Array = new Float32Array(classes * dims);
  let second: Float32Array = new Float32Array(classes * dims);
  const { stepSize, secondCorrection } = adamSchedule(settings);
  throwIfAborted(ctx, 0, steps);

  // The scans and the steps run on the thread budget this call was handed (every core when it was handed none).
  const scanner = new SimilarityScanner({ threads: ctx.threads });
  // Spinning pool threads, onnxruntime's default, as when the README's spread timings were measured.
  const session = await openComputeSession(spreadStepsModel(dims, k), { threads: ctx.threads, spinning: true });
  const shape = [classes, dims];
  try {
    for (let done = 0; done < steps; ) {
      throwIfAborted(ctx, done, steps);
      const lists = await scanner
        .nearestNeighbours(createMatrix(classes, dims, rows), k, { signal: ctx.signal, source: SOURCE })
        .catch((error: unknown) => {
          // An interrupted scan reports, like the steps, how far the optimisation got.
          throwIfAborted(ctx, done, steps);
          throw error;
        });
      throwIfAborted(ctx, done, steps);
      const trips = Math.min(settings.refreshEvery, steps - done);
      const out = await session.run({
        trips: new ort.Tensor('int64', BigInt64Array.of(BigInt(trips)), []),
        rows: new ort.Tensor('float32', rows, shape),
        first_moment: new ort.Tensor('float32', first, shape),
        second_moment: new ort.Tensor('float32', second, shape),
        neighbours: new ort.Tensor('int32', lists.indices, [classes, k]),
        step_size: new ort.Tensor('float32', stepSize.subarray(done, done + trips), [trips]),
        second_correction: new ort.Tensor('float32', secondCorrection.subarray(done, done + trips), [trips]),
        inverse_temperature: new ort.Tensor('float32', Float32Array.of(1 / settings.temperature), []),
      });
      rows = out.rows_final!.data as Float32Array;
      first = out.first_final!.data as Float32Array;
      second = out.second_final!.data as Float32Array;
      done += trips;
      // Right after the scan the first step sees every row's true nearest neighbour: its largest cosine is exact.
      await reportLargestCosine(ctx, SOURCE, (out.largest!.data as Float32Array)[0]!, done, steps);
    }
  } finally {
    await session.release();
    await scanner.release();
  }
  // Renormalise in double precision: the engine's float32 division leaves norms off by a few 1e-7.
  return toUnitRows(rows, classes, dims, SOURCE);
}

/** Per step t: the bias-corrected Adam step size lr_t / (1 - beta1^t) and 1 / (1 - beta2^t). */
function adamSchedule({ steps, learningRate, decayTo }: SpreadSettings): { stepSize: Float32Array; secondCorrection: Float32Array } {
  const stepSize = new Float32Array(steps);
  const secondCorrection = new Float32Array(steps);
  for (let t = 0; t < steps; t++) {
    const progress = steps === 1 ? 0 : t / (steps - 1);
    const rate = learningRate * (1 - (1 - decayTo) * progress);
    stepSize[t] = rate / (1 - ADAM.beta1 ** (t + 1));
    secondCorrection[t] = 1 / (1 - ADAM.beta2 ** (t + 1));
  }
  return { stepSize, secondCorrection };
}
