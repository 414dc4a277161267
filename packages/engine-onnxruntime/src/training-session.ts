import { availableParallelism } from 'node:os';
import { ErrorCode, headParamWeights, HyperprotoError, type NamedWeight } from '@hyperproto/core';
import { type MlpShape, orderedMlpWeights } from '@hyperproto/mlp';
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
  /**
   * [K, N, inputWidth], the batches' rows one after the other; or, with `featureRows`, any rows [R, inputWidth] (a
   * training split's features, handed to onnxruntime as they lie) that the batches read by index.
   */
  readonly features: Float32Array;
  /** [K, N]: the row of `features` that each row of the batches reads; absent when `features` are the batches' rows. */
  readonly featureRows?: Int32Array;
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
   * budget trains faster here, revisiting the choice as training goes on (see `ThreadTrial`). Off by default: a
   * session then runs exactly as it is told. After a first choice for good (`revisitThreadTrial: false`) on one
   * thread, runs of shapes not seen before are no longer checked against the budget.
   */
  readonly tryOneThread?: boolean;
  /** With `tryOneThread`, whether the trial revisits its first choice during training (default true). */
  readonly revisitThreadTrial?: boolean;
  /**
   * Milliseconds, read as each run of the thread trial starts and ends (the first, which runs both sides, aside):
   * `performance.now` by default. Tests drive the trial's choices with a clock of their own.
   */
  readonly trialClock?: () => number;
}

/**
 * Only runs of this many batches or more are timed for the thread trial: in smaller ones the run's own cost (handing
 * the state in and out) would weigh on the time per batch.
 */
const TRIAL_MIN_BATCHES = 4;
/** Timed runs of each side in a round of the trial (by each side's fastest: interference only slows a run down). */
const TRIAL_RUNS = 2;
/** One thread must be this much faster per batch to be kept by the first round: on a tie, the budget. */
const TRIAL_MARGIN = 0.97;
/**
 * A revisit changes sides only when the other side is this much faster per batch: a choice that a round has made
 * stands against the noise of two runs a side (hysteresis: going back needs the same lead the other way).
 */
const REVISIT_MARGIN = 0.9;
/**
 * The choice is revisited once the side in use has run this long (milliseconds, in runs) and this many runs since
 * the last round. Load that arrives during training (another training, a test suite) can make the budget's spinning
 * threads ~1.7x slower than one thread, for the rest of a training that may last hours: revisits find that out
 * within about half a minute of runs. A revisit costs TRIAL_RUNS runs on the other side, at worst ~1.8x as long as
 * runs of the side in use: about 1% of the time where a run takes a quarter of a second (the runs of models this
 * small), and the runs floor keeps it under a tenth of the runs however long they take.
 */
const REVISIT_AFTER_MS = 30_000;
const REVISIT_AFTER_RUNS = 20;
/**
 * Models whose state is larger than this (about 4,000 softmax classes on 300 hidden units) are not tried on one
 * thread: their products are large enough to need every thread, the trial's runs on one would cost seconds, and two
 * sessions would hold two sets of working memory.
 */
const TRIAL_MAX_STATE_BYTES = 16 * 2 ** 20;

/** The session a run goes to: the one on the thread budget, or the one on one onnxruntime thread. */
export type ThreadSide = 'budget' | 'one';

const otherSide = (side: ThreadSide): ThreadSide => (side === 'one' ? 'budget' : 'one');

/** Runs on each side, and the thread trial's revisits of its choice and changes of side (`TrainingSession.threadRuns`). */
export interface ThreadRuns {
  readonly budget: number;
  readonly one: number;
  readonly revisits: number;
  readonly switches: number;
}

/**
 * The training model on one onnxruntime thread beside the session on the thread budget. On machines where waking
 * onnxruntime's pool threads costs tens of microseconds (virtual machines, cores shared with other processes) a step
 * of small products and many element-wise operators was measured faster on one thread than on two (up to 40%), while
 * larger products still gain from the pool; and the budget's threads spin within a run, faster on idle cores and
 * 1.5-1.8x slower where other processes take them: only a trial on the machine itself, under its load of the moment,
 * tells. A round runs the two sides in turn on the large runs and keeps the faster; the first round decides at the
 * start of training, and further rounds revisit the choice every REVISIT_AFTER_MS of runs, as the load changes.
 * Both sessions run the same model on the same state, which the caller hands in at every run (neither holds any);
 * the first run of each shape (batches and rows) runs on both and checks that they give the same numbers, bit for
 * bit; a shape that does not always runs on the budget after it, so the choice changes the speed, never a result.
 * One check is not enough: kernels split their work by shape, and at some shapes (the short last batch of an epoch,
 * 4 to 33 rows for a 300 x 64 layer) one thread and two round differently where the full batches agree.
 */
class ThreadTrial {
  /** Milliseconds per batch of the current round's timed runs, by side. */
  private readonly perBatch: Record<ThreadSide, number[]> = { budget: [], one: [] };
  /** The side in use, once the first round has decided. */
  kept: ThreadSide | undefined;
  /** The shapes of run (`runShape`) whose first run has checked that both sides give the same bits. */
  readonly checked = new Set<string>();
  /** The shapes whose check found other bits on one thread: their runs stay on the budget, untimed. */
  readonly onBudget = new Set<string>();
  /** The side of the round's next timed run: a round starts with the side not in use. */
  private next: ThreadSide = 'one';
  /** Whether a round is on: the first, at the start, or a revisit. */
  private round = true;
  /** Runs, and their milliseconds, since the last round ended. */
  private sinceRound = { runs: 0, ms: 0 };
  constructor(
    readonly one: ort.InferenceSession,
    /** Whether rounds revisit the first choice; else the first decides for good. */
    readonly revisiting: boolean,
    /** The session's count of runs, revisits and switches, which the trial keeps up. */
    private readonly runs: { -readonly [K in keyof ThreadRuns]: number },
  ) {}

  /** The side a run of `count` batches goes to, starting a revisit when one is due. */
  sideFor(count: number): ThreadSide {
    if (this.kept && !this.round && this.revisiting && count >= TRIAL_MIN_BATCHES) {
      const { runs, ms } = this.sinceRound;
      if (runs >= REVISIT_AFTER_RUNS && ms >= REVISIT_AFTER_MS) {
        this.round = true;
        this.next = otherSide(this.kept);
        this.runs.revisits++;
      }
    }
    return this.round ? this.next : this.kept!;
  }

  /** Takes note of a run of `count` batches on `side` that took `ms` milliseconds. */
  ran(side: ThreadSide, count: number, ms: number): void {
    this.runs[side]++;
    if (!this.round) {
      this.sinceRound.runs++;
      this.sinceRound.ms += ms;
      return;
    }
    if (count < TRIAL_MIN_BATCHES) return;
    this.perBatch[side].push(ms / count);
    this.next = otherSide(side);
    const decision = this.decision();
    if (!decision) return;
    if (this.kept && decision !== this.kept) this.runs.switches++;
    this.kept = decision;
    this.round = false;
    this.perBatch.budget = [];
    this.perBatch.one = [];
    this.sinceRound = { runs: 0, ms: 0 };
  }

  /** The faster side once the round has timed both enough, else undefined. */
  private decision(): ThreadSide | undefined {
    const { budget, one } = this.perBatch;
    if (budget.length < TRIAL_RUNS || one.length < TRIAL_RUNS) return undefined;
    const fastest = { budget: Math.min(...budget), one: Math.min(...one) };
    if (!this.kept) return fastest.one < TRIAL_MARGIN * fastest.budget ? 'one' : 'budget';
    const other = otherSide(this.kept);
    return fastest[other] < REVISIT_MARGIN * fastest[this.kept] ? other : this.kept;
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
  private trialClock: () => number = () => performance.now();
  /** The side of the latest run (or the one in progress). */
  private side: ThreadSide = 'budget';
  /** The side of `session`: one thread once a trial that decides for good has kept it. */
  private sessionSide: ThreadSide = 'budget';

  private constructor(
    private readonly shape: MlpShape,
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
    return runOrExplain('starting the training session', { ...spec.shape, rows: spec.batchSize ?? 0 }, async () => {
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
        const training = new TrainingSession(spec.shape, model, session, initial);
        if (trial) {
          one = await openComputeSession(model.bytes, { ...spec.session, threads: 1 });
          training.trial = new ThreadTrial(one, spec.revisitThreadTrial ?? true, training.runs);
          if (spec.trialClock) training.trialClock = spec.trialClock;
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
   * The thread trial (`tryOneThread`): `off` (not asked for, or not for this model or budget), `trying` (its first
   * round), or the side in use since its latest round, `budget` or `one` (one onnxruntime thread); for good without
   * revisits (`revisitThreadTrial: false`), and `budget` for good when the two sides did not give the same numbers.
   */
  get threadTrial(): 'off' | 'trying' | ThreadSide {
    return this.trial ? (this.trial.kept ?? 'trying') : this.trialOutcome;
  }
  private trialOutcome: 'off' | ThreadSide = 'off';

  /**
   * The side of the latest run, or of the one in progress (`budget` for a trial's first run of a shape, which runs
   * both).
   */
  get threadSide(): ThreadSide {
    return this.side;
  }

  /**
   * Runs so far on each side (the trial's first run of each shape counts on both), the rounds that revisited the
   * trial's choice, and how many of them changed sides. Every run is on `budget` without a trial.
   */
  get threadRuns(): ThreadRuns {
    return { ...this.runs };
  }
  private readonly runs = { budget: 0, one: 0, revisits: 0, switches: 0 };

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
    const width = this.shape.inputWidth;
    feeds[model.features] = new ort.Tensor('float32', batches.features, [batches.features.length / width, width]);
    feeds[model.featureRows] = new ort.Tensor('int32', batches.featureRows ?? this.inOrder(count * rows), [count, rows]);
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
    const out = this.trial ? await this.runInTrial(this.trial, feeds, fetches, count, rows) : await this.runAlone(feeds, fetches, rows);
    if (handed) this.rowSets.writeBack(this.tables, handed);
    this.current = this.current === 0 ? 1 : 0;
    return { losses: out[model.losses]!.data as Float32Array, statistics: out[model.statistics]!.data as Float32Array };
  }

  /** 0, 1, ..., count - 1: the rows of packed batches, in their order (kept for the next run of as many rows). */
  private inOrder(count: number): Int32Array {
    if (this.identityRows.length !== count) this.identityRows = Int32Array.from({ length: count }, (_, i) => i);
    return this.identityRows;
  }
  private identityRows = new Int32Array(0);

  /** A run without a trial (none asked for, or it has ended). */
  private runAlone(
    feeds: Record<string, ort.Tensor>,
    fetches: Record<string, ort.Tensor | null>,
    rows: number,
  ): Promise<ort.InferenceSession.OnnxValueMapType> {
    this.side = this.sessionSide;
    this.runs[this.sessionSide]++;
    return this.runOn(this.session, feeds, fetches, rows);
  }

  private runOn(
    session: ort.InferenceSession,
    feeds: Record<string, ort.Tensor>,
    fetches: Record<string, ort.Tensor | null>,
    rows: number,
  ): Promise<ort.InferenceSession.OnnxValueMapType> {
    return runOrExplain('a training step', { ...this.shape, rows }, () => session.run(feeds, fetches));
  }

  /** A run with the thread trial on: on the side it chooses, timed. */
  private async runInTrial(
    trial: ThreadTrial,
    feeds: Record<string, ort.Tensor>,
    fetches: Record<string, ort.Tensor | null>,
    count: number,
    rows: number,
  ): Promise<ort.InferenceSession.OnnxValueMapType> {
    const shape = runShape(count, rows);
    if (!trial.checked.has(shape)) {
      // The same run on both sides from the same state: the budget's result is kept, one thread's compared with it.
      const aside = Object.fromEntries(
        Object.entries(fetches).map(([name, tensor]) => [
          name,
          tensor && new ort.Tensor('float32', new Float32Array(tensor.size), tensor.dims),
        ]),
      );
      this.side = 'budget';
      const fromOne = await this.runOn(trial.one, feeds, aside, rows);
      const out = await this.runOn(this.session, feeds, fetches, rows);
      trial.checked.add(shape);
      this.runs.budget++;
      this.runs.one++;
      const same = Object.keys(out).every((name) => sameBits(out[name]!.data as Float32Array, fromOne[name]!.data as Float32Array));
      if (!same) trial.onBudget.add(shape);
      return out;
    }
    // A shape that rounds otherwise on one thread (an epoch's short last batch, say) runs as a budget-only session
    // would, while the shapes that agree follow the trial: the numbers are those of the budget alone either way.
    if (trial.onBudget.has(shape)) {
      this.side = 'budget';
      this.runs.budget++;
      return this.runOn(this.session, feeds, fetches, rows);
    }
    const side = trial.sideFor(count);
    this.side = side;
    const started = this.trialClock();
    const out = await this.runOn(side === 'one' ? trial.one : this.session, feeds, fetches, rows);
    trial.ran(side, count, this.trialClock() - started);
    // Decided for good: one thread only if no shape needs the budget, whose session would be released.
    if (trial.kept && !trial.revisiting) await this.endTrial(trial.onBudget.size > 0 ? 'budget' : trial.kept);
    return out;
  }

  /**
   * Ends the trial for good on `keep` and releases the other side's session, when the first round decides for good
   * (on the budget when some shape gives other numbers on one thread).
   */
  private async endTrial(keep: ThreadSide): Promise<void> {
    const trial = this.trial!;
    this.trial = undefined;
    if (keep === 'one') {
      const budget = this.session;
      this.session = trial.one;
      this.sessionSide = 'one';
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
    // What the trial kept stays told.
    if (this.trial?.kept) this.trialOutcome = this.trial.kept;
    await this.trial?.one.release();
    this.trial = undefined;
    await this.session.release();
  }
}

/** A run's shape, `count` batches of `rows` rows, as the thread trial's checks key it. */
const runShape = (count: number, rows: number) => `${count}x${rows}`;

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
