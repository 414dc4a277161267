import { ErrorCode, headParamWeights, HyperprotoError, type NamedWeight } from '@hyperproto/core';
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
  /** For a model with a class sample: [K, S] sampled classes and [K, N] the labels' positions among them. */
  readonly sample?: { readonly classes: Int32Array; readonly labels: Int32Array };
}

export interface TrainingSessionSpec extends TrainingStepSpec {
  /** Starting weights, by the names of `mlpWeightSpecs`; the head's parameters start at the values the head carries. */
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
  /** Two sets of state tensors: `current` is fed, the other receives the next state (none for the row states). */
  private readonly sets: [(ort.Tensor | undefined)[], (ort.Tensor | undefined)[]];
  private current: 0 | 1 = 0;
  /**
   * The whole of each row state (a row-sampled head parameter and its moments, see `TrainingStepModel.rowStates`),
   * kept here: a run hands in the rows of the classes it samples and writes them back.
   */
  private readonly tables = new Map<number, Float32Array>();
  private readonly rowSets = new RowSets();

  private constructor(
    private readonly outputUnits: number,
    readonly model: TrainingStepModel,
    private readonly session: ort.InferenceSession,
    initial: readonly Float32Array[],
  ) {
    for (const i of model.rowStates) {
      // Every page written once here (Adam's moments were never written), so that runs do not pay for first touches.
      const table = initial[i]!;
      for (let j = 0; j < table.length; j += 1024) table[j] = table[j]!;
      this.tables.set(i, table);
    }
    const tensors = (arrays: readonly Float32Array[]) =>
      arrays.map((data, i) => (this.tables.has(i) ? undefined : new ort.Tensor('float32', data, [...model.stateShapes[i]!])));
    this.sets = [tensors(initial), tensors(initial.map((a, i) => (this.tables.has(i) ? a : new Float32Array(a.length))))];
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

  /**
   * Bytes of state (weights and Adam's moments) that every run hands in and takes back; a row-sampled parameter and
   * its moments add only the rows a run samples.
   */
  get stateBytes(): number {
    return this.sets[0].reduce((sum, tensor) => sum + (tensor ? tensor.size * 4 : 0), 0);
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
    if (model.sample) {
      if (!batches.sample)
        throw new HyperprotoError(ErrorCode.Internal, 'the training model samples classes, but the batches have no class sample');
      feeds[model.sample.classes] = new ort.Tensor('int32', batches.sample.classes, [count, model.sample.size]);
      feeds[model.sample.labels] = new ort.Tensor('int32', batches.sample.labels, [count, rows]);
    }
    const handed = model.sample?.rows ? this.rowSets.handIn(this.tables, batches.sample!.classes, model) : undefined;
    if (handed) {
      feeds[model.sample!.rows!] = new ort.Tensor('int32', handed.rowOfSample, [count, model.sample!.size]);
      for (const [i, { input, output }] of handed.states) {
        feeds[model.stateInputs[i]!] = input;
        fetches[model.stateOutputs[i]!] = output;
      }
    }
    const out = await runOrExplain('a training step', { outputUnits: this.outputUnits, rows }, () => this.session.run(feeds, fetches));
    if (handed) this.rowSets.writeBack(this.tables, handed);
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
      const data = this.tables.get(index) ?? (state[index]!.data as Float32Array);
      return { name: w.name, shape: w.shape, data: data.subarray(offset, offset + length) };
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

/** The rows a run hands in: each row state's sampled rows (in and out), the classes they belong to, each sample's row. */
interface HandedRows {
  /** The run's sampled classes, each once, in order of first appearance: row r of every handed state is class classes[r]. */
  readonly classes: Int32Array;
  /** [K * S]: each sampled class's row among `classes`. */
  readonly rowOfSample: Int32Array;
  readonly states: Map<number, { readonly input: ort.Tensor; readonly output: ort.Tensor; readonly width: number }>;
}

/**
 * Gathers a run's sampled rows of the row states into buffers reused from run to run, and writes the updated rows
 * back: the work is proportional to the rows sampled, whatever the number of classes.
 */
class RowSets {
  private rowOfClass = new Int32Array(0);
  private readonly buffers = new Map<string, Float32Array>();

  private buffer(key: string, size: number): Float32Array {
    let buffer = this.buffers.get(key);
    if (!buffer || buffer.length < size) this.buffers.set(key, (buffer = new Float32Array(Math.max(size, 2 * (buffer?.length ?? 0)))));
    return buffer.subarray(0, size);
  }

  handIn(tables: ReadonlyMap<number, Float32Array>, sampled: Int32Array, model: TrainingStepModel): HandedRows {
    const classes = model.stateShapes[model.rowStates[0]!]![0]!;
    if (this.rowOfClass.length !== classes) this.rowOfClass = new Int32Array(classes).fill(-1);
    const rowOfClass = this.rowOfClass;
    const rowOfSample = new Int32Array(sampled.length);
    const used: number[] = [];
    for (let i = 0; i < sampled.length; i++) {
      const c = sampled[i]!;
      if (rowOfClass[c]! < 0) rowOfClass[c] = used.push(c) - 1;
      rowOfSample[i] = rowOfClass[c]!;
    }
    for (const c of used) rowOfClass[c] = -1;
    const states: HandedRows['states'] = new Map();
    for (const i of model.rowStates) {
      const shape = model.stateShapes[i]!;
      const width = shape.slice(1).reduce((a, b) => a * b, 1);
      const table = tables.get(i)!;
      const input = this.buffer(`in/${i}`, used.length * width);
      used.forEach((c, r) => input.set(table.subarray(c * width, (c + 1) * width), r * width));
      const dims = [used.length, ...shape.slice(1)];
      states.set(i, {
        input: new ort.Tensor('float32', input, dims),
        output: new ort.Tensor('float32', this.buffer(`out/${i}`, used.length * width), dims),
        width,
      });
    }
    return { classes: Int32Array.from(used), rowOfSample, states };
  }

  writeBack(tables: ReadonlyMap<number, Float32Array>, handed: HandedRows): void {
    for (const [i, { output, width }] of handed.states) {
      const table = tables.get(i)!;
      const rows = output.data as Float32Array;
      handed.classes.forEach((c, r) => table.set(rows.subarray(r * width, (r + 1) * width), c * width));
    }
  }
}
