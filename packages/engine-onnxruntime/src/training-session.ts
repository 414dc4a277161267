import { computeThreads, type NamedWeight, orderedMlpWeights } from '@hyperproto/core';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { runOrExplain } from './run-failures.js';
import { buildTrainingStepModel, type TrainingStepModel, type TrainingStepSpec } from './training-step-graph.js';

/** K mini-batches of N rows each, laid out for one run of the training model. */
export interface PackedBatches {
  /** K. */
  readonly count: number;
  /** N. */
  readonly rows: number;
  /** [K, N, inputWidth]. */
  readonly features: Float32Array;
  /** [K, N]. */
  readonly labels: Int32Array;
  /** One [K, N, hiddenUnits] array per hidden layer; empty when dropout is off. */
  readonly dropoutMasks: readonly Float32Array[];
}

export interface TrainingSessionSpec extends TrainingStepSpec {
  /** Starting weights, by the names of `mlpWeightSpecs`. */
  readonly weights: readonly NamedWeight[];
  readonly executionProviders?: readonly string[];
  /** Rows per batch, for the advice when memory runs out. */
  readonly batchSize?: number;
}

/**
 * The training model in an onnxruntime session, with the network's weights and Adam's state held between runs.
 * Each `run` trains on K batches. The state lives in two sets of arrays, fed from one and written into the other
 * (outputs preallocated), so that runs allocate no new memory for it; `weights()` hands out copies.
 */
export class TrainingSession {
  /** Two sets of state tensors: `current` is fed, the other receives the next state. */
  private readonly sets: [ort.Tensor[], ort.Tensor[]];
  private current: 0 | 1 = 0;

  private constructor(
    private readonly outputUnits: number,
    readonly model: TrainingStepModel,
    private readonly session: ort.InferenceSession,
    initial: readonly Float32Array[],
  ) {
    const tensors = (arrays: readonly Float32Array[]) =>
      arrays.map((data, i) => new ort.Tensor('float32', data, [...model.stateShapes[i]!]));
    this.sets = [tensors(initial), tensors(initial.map((a) => new Float32Array(a.length)))];
  }

  static async create(spec: TrainingSessionSpec): Promise<TrainingSession> {
    const model = buildTrainingStepModel(spec);
    const ordered = orderedMlpWeights(spec.shape, spec.weights, 'the starting weights');
    // Allocations of the state (gigabytes for a 100,000-class softmax) fail like onnxruntime's, with the same advice.
    return runOrExplain('starting the training session', { outputUnits: spec.shape.outputUnits, rows: spec.batchSize ?? 0 }, async () => {
      // Copies: the session writes into its state arrays, never into the caller's.
      const initial = model.stateShapes.map((shape, i) => ordered[i]?.data.slice() ?? new Float32Array(shape.reduce((a, b) => a * b, 1)));
      const session = await ort.InferenceSession.create(model.bytes, sessionOptions(spec.executionProviders));
      try {
        return new TrainingSession(spec.shape.outputUnits, model, session, initial);
      } catch (error) {
        await session.release();
        throw error;
      }
    });
  }

  /** Bytes of state (weights and Adam's moments) that every run hands in and takes back. */
  get stateBytes(): number {
    return this.sets[0].reduce((sum, tensor) => sum + tensor.size * 4, 0);
  }

  /** Adam steps taken so far. */
  get steps(): number {
    const state = this.sets[this.current];
    return (state[state.length - 1]!.data as Float32Array)[0]!;
  }

  async run(batches: PackedBatches): Promise<{ losses: Float32Array; statistics: Float32Array }> {
    const { model } = this;
    const { count, rows } = batches;
    const feeds: Record<string, ort.Tensor> = {};
    const fetches: Record<string, ort.Tensor | null> = { [model.losses]: null, [model.statistics]: null };
    const [from, to] = [this.sets[this.current], this.sets[this.current === 0 ? 1 : 0]];
    model.stateInputs.forEach((name, i) => (feeds[name] = from[i]!));
    model.stateOutputs.forEach((name, i) => (fetches[name] = to[i]!));
    feeds[model.features] = new ort.Tensor('float32', batches.features, [count, rows, batches.features.length / (count * rows)]);
    feeds[model.labels] = new ort.Tensor('int32', batches.labels, [count, rows]);
    model.dropoutMasks.forEach((name, i) => {
      const mask = batches.dropoutMasks[i]!;
      feeds[name] = new ort.Tensor('float32', mask, [count, rows, mask.length / (count * rows)]);
    });
    const out = await runOrExplain('a training step', { outputUnits: this.outputUnits, rows }, () => this.session.run(feeds, fetches));
    this.current = this.current === 0 ? 1 : 0;
    return { losses: out[model.losses]!.data as Float32Array, statistics: out[model.statistics]!.data as Float32Array };
  }

  /** A copy of the network's current weights. */
  weights(): NamedWeight[] {
    const state = this.sets[this.current];
    return this.model.weights.map((w, i) => ({ name: w.name, shape: w.shape, data: (state[i]!.data as Float32Array).slice() }));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Session options of every session the engine opens. */
export function sessionOptions(executionProviders: readonly string[] = ['cpu']): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [...executionProviders] as ort.InferenceSession.SessionOptions['executionProviders'],
    graphOptimizationLevel: 'all',
    // The cores this process may use (its CPU affinity, or its share under the experiment runner), where
    // onnxruntime would count the machine's physical cores.
    intraOpNumThreads: computeThreads(availableParallelism()),
    // Idle pool threads sleep instead of spinning: between runs the training loop works in JavaScript, and on a
    // machine of two cores spinning threads took the cores from it (and from every other process), which made
    // training steps about twice as slow there.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    // Quiet: onnxruntime warns about every unused initializer and copy it plans.
    logSeverityLevel: 3,
  };
}
