import { headParamWeights, type NamedWeight } from '@hyperproto/core';
import { orderedMlpWeights } from '@hyperproto/mlp';
import { type ComputeSessionOptions, openComputeSession } from '@hyperproto/onnxruntime-session';
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
  /** Execution providers and the thread budget. */
  readonly session?: ComputeSessionOptions;
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
    // The head's parameters start at their own values, after the network's weights.
    const ordered = [...orderedMlpWeights(spec.shape, spec.weights, 'the starting weights'), ...headParamWeights(spec.head)];
    // Allocations of the state (gigabytes for a 100,000-class softmax) fail like onnxruntime's, with the same advice.
    return runOrExplain('starting the training session', { outputUnits: spec.shape.outputUnits, rows: spec.batchSize ?? 0 }, async () => {
      // The session writes into its own state arrays, never into the caller's; Adam's moments start at zero.
      const initial = model.stateShapes.map((shape) => new Float32Array(shape.reduce((a, b) => a * b, 1)));
      model.placements.forEach((p, i) => initial[p.state]!.set(ordered[i]!.data, p.offset));
      const session = await openComputeSession(model.bytes, spec.session);
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
    return this.currentWeights().map((w) => ({ ...w, data: w.data.slice() }));
  }

  /** The network's current weights as views of the state itself: valid until the next `run`, which overwrites them. */
  currentWeights(): NamedWeight[] {
    const state = this.sets[this.current];
    return this.model.weights.map((w, i) => {
      const { state: index, offset, length } = this.model.placements[i]!;
      return { name: w.name, shape: w.shape, data: (state[index]!.data as Float32Array).subarray(offset, offset + length) };
    });
  }

  /** Writes onnxruntime's profile of the runs so far, for a session opened with `profileFilePrefix`. */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
