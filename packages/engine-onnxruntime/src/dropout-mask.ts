import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { ErrorCode, HyperprotoError, type Rng } from '@hyperproto/core';

/**
 * Fills `size` inverted-dropout mask values from `offset`: each unit kept with probability 1 - rate and scaled by
 * 1 / (1 - rate), so inference needs no rescaling. The draws come from a xoshiro128** stream whose state is four
 * draws from `rng`: seeded from the run's seed like everything else, but inlined, and each 32-bit draw serves two
 * units (16 bits each, so the keep probability is exact to 2^-16). Masks take as many draws per batch as the batch
 * has hidden activations; drawn through `rng` one by one they took as long as the training step itself.
 */
export function fillDropoutMask(rng: Rng, into: Float32Array, offset: number, size: number, rate: number): void {
  fillMaskFromSeeds(into, offset, size, rate, rng.uint32() | 0, rng.uint32() | 0, rng.uint32() | 0, rng.uint32() | 0);
}

/**
 * `fillDropoutMask` from its four seeds. Self-contained (it also runs on the worker of `DropoutMasks`, from its
 * source text): fewer values from the same seeds are a prefix of more.
 */
export function fillMaskFromSeeds(
  into: Float32Array,
  offset: number,
  size: number,
  rate: number,
  a: number,
  b: number,
  c: number,
  d: number,
): void {
  const threshold = Math.round((1 - rate) * 0x10000);
  // The kept value's bits, stored through an integer view: the keep test becomes a mask, with no branch to mispredict
  // on every unit (three times faster than choosing between two floats).
  const kept = new Int32Array(Float32Array.of(1 / (1 - rate)).buffer)[0]!;
  const bits = new Int32Array(into.buffer, into.byteOffset, into.length);
  if ((a | b | c | d) === 0) a = 1;
  const end = offset + size;
  for (let i = offset; i < end; i += 2) {
    const b5 = Math.imul(b, 5);
    const draw = Math.imul((b5 << 7) | (b5 >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    // (x - threshold) >> 31 is all ones when x < threshold (both below 2^16), else zero.
    bits[i] = kept & (((draw & 0xffff) - threshold) >> 31);
    if (i + 1 < end) bits[i + 1] = kept & (((draw >>> 16) - threshold) >> 31);
  }
}

/** What the mask worker is asked: fill `count` full batches from batch `first` of `buffers` (one per layer). */
interface MaskJob {
  readonly job: number;
  readonly buffers: ArrayBuffer[];
  readonly first: number;
  readonly count: number;
  /** Four seeds per batch and layer, batch by batch. */
  readonly seeds: Int32Array;
}

/** The mask worker's source: `fillMaskFromSeeds` and a loop over its jobs; it answers on `port`, then raises `done`. */
const workerSource = (fill: string) => `
const { workerData } = require('node:worker_threads');
const { port, done, layers, values, rate } = workerData;
const fill = ${fill};
// At the process's own priority: onnxruntime's threads may spin through a run (TrainingSession) and leave no
// core idle, and a worker below them was starved while the next run waited for its masks.
port.on('message', ({ job, buffers, first, count, seeds }) => {
  let error;
  try {
    const masks = buffers.map((buffer) => new Float32Array(buffer));
    for (let k = 0; k < count; k++) {
      for (let l = 0; l < layers; l++) {
        const s = (k * layers + l) * 4;
        fill(masks[l], (first + k) * values, values, rate, seeds[s], seeds[s + 1], seeds[s + 2], seeds[s + 3]);
      }
    }
  } catch (caught) {
    error = String(caught && caught.message ? caught.message : caught);
  }
  port.postMessage({ job, buffers, error }, buffers);
  Atomics.store(done, 0, job);
  Atomics.notify(done, 0);
});
`;

/** How long `take` waits for the worker before it gives up on it. */
const WORKER_PATIENCE_MS = 60_000;

/**
 * The dropout masks of a training's batches, in order: each run takes the masks of its batches ([count, size, units]
 * per hidden layer), and the masks of the batches after them are drawn ahead on a worker thread while onnxruntime
 * trains on those (a run holds the main thread, which would otherwise draw them between runs). The same draws from
 * `rng` and the same masks as `fillDropoutMask` called batch by batch and layer by layer: every batch's seeds are
 * drawn on the main thread in order, only their expansion into masks moves. Full batches are drawn ahead; a shorter
 * batch takes the prefix of its stream, as `fillDropoutMask` would draw it.
 */
export class DropoutMasks {
  private readonly worker: Worker | undefined;
  private readonly port: MessagePort | undefined;
  private readonly done = new Int32Array(new SharedArrayBuffer(4));
  private readonly values: number;
  /** Batches each set holds. */
  private capacity: number;
  /** The set the last `take` handed out: onnxruntime reads it until the next `take`. */
  private handed: ArrayBuffer[];
  /** The other set: `ready` batches at its start, then the `pending` ones the worker is drawing (it holds the set). */
  private front: ArrayBuffer[] | undefined;
  private ready = 0;
  private pending = 0;
  private job = 0;

  constructor(
    private readonly rng: Rng,
    private readonly layers: number,
    units: number,
    private readonly batchSize: number,
    private readonly rate: number,
    /** Batches of the largest run expected. */
    capacity: number,
  ) {
    this.values = batchSize * units;
    this.capacity = Math.max(1, capacity);
    this.handed = this.allocate();
    this.front = this.allocate();
    try {
      const { port1, port2 } = new MessageChannel();
      this.worker = new Worker(workerSource(fillMaskFromSeeds.toString()), {
        eval: true,
        workerData: { port: port2, done: this.done, layers, values: this.values, rate },
        transferList: [port2],
      });
      this.worker.unref();
      port1.unref();
      this.port = port1;
    } catch {
      // No worker thread here: every mask is drawn on the main thread, the same masks.
      this.worker = undefined;
      this.port = undefined;
    }
  }

  /** Whether masks are drawn ahead on a worker thread (else all on the main thread: the same masks). */
  get drawsAhead(): boolean {
    return this.worker !== undefined;
  }

  /**
   * The masks of the next `count` batches of `size` rows (`size` below the batch size only for a run of one batch):
   * one [count, size, units] array per layer, valid until the next `take`.
   */
  take(count: number, size: number): Float32Array[] {
    this.collect();
    let front = this.front!;
    if (count > this.capacity) {
      // A run larger than expected: larger sets, the batches drawn so far kept.
      this.capacity = count;
      const larger = this.allocate();
      larger.forEach((buffer, l) => new Float32Array(buffer).set(new Float32Array(front[l]!, 0, this.ready * this.values)));
      front = larger;
      this.handed = this.allocate();
    }
    const masks = front.map((buffer) => new Float32Array(buffer));
    for (let k = this.ready; k < count; k++) {
      for (const mask of masks) fillDropoutMask(this.rng, mask, k * this.values, this.values, this.rate);
    }
    this.ready = Math.max(this.ready, count);
    // Batches drawn ahead beyond this run move to the start of the set the previous run has finished with.
    const leftover = this.ready - count;
    if (leftover) {
      this.handed.forEach((buffer, l) => new Float32Array(buffer).set(masks[l]!.subarray(count * this.values, this.ready * this.values)));
    }
    this.front = this.handed;
    this.handed = front;
    this.ready = leftover;
    return masks.map((mask) => mask.subarray(0, count * size * (this.values / this.batchSize)));
  }

  /** Starts drawing, on the worker, the masks of up to `count` full batches after those drawn so far. */
  prefetch(count: number): void {
    if (!this.worker || this.pending || !this.front) return;
    const batches = Math.min(count, this.capacity - this.ready);
    if (batches <= 0) return;
    const seeds = new Int32Array(batches * this.layers * 4);
    for (let i = 0; i < seeds.length; i++) seeds[i] = this.rng.uint32() | 0;
    const job: MaskJob = { job: ++this.job, buffers: this.front, first: this.ready, count: batches, seeds };
    this.port!.postMessage(job, [...this.front, seeds.buffer]);
    this.front = undefined;
    this.pending = batches;
  }

  /** Stops the worker; the masks taken so far stay valid. */
  async close(): Promise<void> {
    await this.worker?.terminate();
  }

  /** Waits for the worker's job, if any, and takes its set back. */
  private collect(): void {
    if (!this.pending) return;
    const started = Date.now();
    while (Atomics.load(this.done, 0) !== this.job) {
      if (Date.now() - started > WORKER_PATIENCE_MS) {
        throw new HyperprotoError(ErrorCode.Internal, 'the dropout mask worker stopped answering');
      }
      Atomics.wait(this.done, 0, Atomics.load(this.done, 0), 1000);
    }
    const answer = receiveMessageOnPort(this.port!)?.message as { buffers: ArrayBuffer[]; error?: string } | undefined;
    if (!answer || answer.error) {
      throw new HyperprotoError(ErrorCode.Internal, `the dropout mask worker failed: ${answer?.error ?? 'no answer'}`);
    }
    this.front = answer.buffers;
    this.ready += this.pending;
    this.pending = 0;
  }

  private allocate(): ArrayBuffer[] {
    return Array.from({ length: this.layers }, () => new ArrayBuffer(this.capacity * this.values * 4));
  }
}
