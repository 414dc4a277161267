import { availableParallelism } from 'node:os';
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
  /**
   * Also try the model on one onnxruntime thread during the first runs, and keep whichever of it and the thread
   * budget trains faster here (see `ThreadTrial`). Off by default: a session then runs exactly as it is told.
   */
  readonly tryOneThread?: boolean;
}

/**
 * Only runs of this many batches or more are timed for the thread trial: in smaller ones the run's own cost (handing
 * the state in and out) would weigh on the time per batch.
 */
const TRIAL_MIN_BATCHES = 4;
/** Timed runs of each side before the trial decides (by each side's fastest: interference only slows a run down). */
const TRIAL_RUNS = 2;
/** One thread must be this much faster per batch to be kept: on a tie, the budget. */
const TRIAL_MARGIN = 0.97;
/**
 * Models whose state is larger than this (about 4,000 softmax classes on 300 hidden units) are not tried on one
 * thread: their products are large enough to need every thread, the trial's runs on one would cost seconds, and two
 * sessions would hold two sets of working memory.
 */
const TRIAL_MAX_STATE_BYTES = 16 * 2 ** 20;

/**
 * The training model on one onnxruntime thread beside the session on the thread budget, run in turn on the first
 * large runs. On machines where waking onnxruntime's pool threads costs tens of microseconds (virtual machines, cores
 * shared with other processes) a step of small products and many element-wise operators was measured faster on one
 * thread than on two (up to 40%), while larger products still gain from the pool: only a trial on the machine
 * itself tells. Both sessions run the same model on the same state; the trial's first run checks that they give
 * the same numbers, bit for bit, and the trial ends there if not, so the choice changes the speed, never a result.
 */
class ThreadTrial {
  readonly perBatch: { budget: number[]; one: number[] } = { budget: [], one: [] };
  next: 'budget' | 'one' = 'one';
  checked = false;
  constructor(readonly one: ort.InferenceSession) {}

  /** The faster side once both have been timed enough, else undefined. */
  decision(): 'budget' | 'one' | undefined {
    const { budget, one } = this.perBatch;
    if (budget.length < TRIAL_RUNS || one.length < TRIAL_RUNS) return undefined;
    return Math.min(...one) < TRIAL_MARGIN * Math.min(...budget) ? 'one' : 'budget';
  }
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
  private trial: ThreadTrial | undefined;

  private constructor(
    private readonly outputUnits: number,
    readonly model: TrainingStepModel,
    private session: ort.InferenceSession,
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
      const budget = spec.session?.threads ?? availableParallelism();
      // Threads matter to the CPU provider only: another (CUDA) would hold two copies of the model's memory for nothing.
      const onCpu = (spec.session?.providers ?? ['cpu']).every((p) => (typeof p === 'string' ? p : p.name) === 'cpu');
      const stateBytes = initial.reduce((sum, array) => sum + array.byteLength, 0);
      const trial =
        spec.tryOneThread &&
        onCpu &&
        budget > 1 &&
        !model.rowStates.length &&
        !spec.session?.profileFilePrefix &&
        stateBytes <= TRIAL_MAX_STATE_BYTES;
      // The budget's threads spin within runs only where the trial can fall back to one thread: on cores that other
      // work already takes, spinning is slower than one thread (ComputeSessionOptions.spinning).
      const session = await openComputeSession(model.bytes, { ...spec.session, spinning: spec.session?.spinning ?? trial });
      let one: ort.InferenceSession | undefined;
      try {
        const training = new TrainingSession(spec.shape.outputUnits, model, session, initial);
        if (trial) {
          one = await openComputeSession(model.bytes, { ...spec.session, threads: 1 });
          training.trial = new ThreadTrial(one);
        }
        return training;
      } catch (error) {
        await one?.release();
        await session.release();
        throw error;
      }
    });
  }

  /**
   * The thread trial (`tryOneThread`): `off` (not asked for, or not for this model or budget), `trying`, or which
   * side it kept, `budget` or `one` (one onnxruntime thread).
   */
  get threadTrial(): 'off' | 'trying' | 'budget' | 'one' {
    return this.trial ? 'trying' : this.trialOutcome;
  }
  private trialOutcome: 'off' | 'budget' | 'one' = 'off';

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
    const out = this.trial
      ? await this.runInTrial(this.trial, feeds, fetches, count, rows)
      : await this.runOn(this.session, feeds, fetches, rows);
    if (handed) this.rowSets.writeBack(this.tables, handed);
    this.current = this.current === 0 ? 1 : 0;
    return { losses: out[model.losses]!.data as Float32Array, statistics: out[model.statistics]!.data as Float32Array };
  }

  private runOn(
    session: ort.InferenceSession,
    feeds: Record<string, ort.Tensor>,
    fetches: Record<string, ort.Tensor | null>,
    rows: number,
  ): Promise<ort.InferenceSession.OnnxValueMapType> {
    return runOrExplain('a training step', { outputUnits: this.outputUnits, rows }, () => session.run(feeds, fetches));
  }

  /** A run during the thread trial: on one side or the other in turn, timed when large enough. */
  private async runInTrial(
    trial: ThreadTrial,
    feeds: Record<string, ort.Tensor>,
    fetches: Record<string, ort.Tensor | null>,
    count: number,
    rows: number,
  ): Promise<ort.InferenceSession.OnnxValueMapType> {
    if (!trial.checked) {
      // The same run on both sides from the same state: the budget's result is kept, one thread's compared with it.
      const aside = Object.fromEntries(
        Object.entries(fetches).map(([name, tensor]) => [
          name,
          tensor && new ort.Tensor('float32', new Float32Array(tensor.size), tensor.dims),
        ]),
      );
      const fromOne = await this.runOn(trial.one, feeds, aside, rows);
      const out = await this.runOn(this.session, feeds, fetches, rows);
      trial.checked = true;
      const same = Object.keys(out).every((name) => sameBits(out[name]!.data as Float32Array, fromOne[name]!.data as Float32Array));
      if (!same) await this.endTrial('budget');
      return out;
    }
    const side = trial.next;
    const started = performance.now();
    const out = await this.runOn(side === 'one' ? trial.one : this.session, feeds, fetches, rows);
    if (count >= TRIAL_MIN_BATCHES) {
      trial.perBatch[side].push((performance.now() - started) / count);
      trial.next = side === 'one' ? 'budget' : 'one';
      const decision = trial.decision();
      if (decision) await this.endTrial(decision);
    }
    return out;
  }

  private async endTrial(keep: 'budget' | 'one'): Promise<void> {
    const trial = this.trial!;
    this.trial = undefined;
    if (keep === 'one') {
      const budget = this.session;
      this.session = trial.one;
      await budget.release();
    } else {
      await trial.one.release();
    }
    this.trialOutcome = keep;
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
    await this.trial?.one.release();
    this.trial = undefined;
    await this.session.release();
  }
}

/** Whether two float arrays hold the same bits (NaNs included). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Int32Array(a.buffer, a.byteOffset, a.length);
  const y = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
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
