import type { Matrix } from '@hyperproto/core';
import type { ModelSession, Prediction } from '@hyperproto/runtime-node';

export interface MicroBatcherOptions {
  /** Most rows in one inference; a request larger than this runs on its own. */
  readonly maxBatchRows: number;
  /**
   * Longest wait for more requests before running a batch. 0 runs what has arrived by the end of the current
   * event-loop turn: under load every request parsed in the same turn shares one inference, without adding a
   * timer's delay to each request.
   */
  readonly maxDelayMs: number;
  /**
   * Most rows waiting for an inference (not counting the one running); a request that would take the queue past
   * it is refused with QueueFullError, unless the queue is empty. Default: no limit.
   */
  readonly maxQueuedRows?: number;
}

/** The queue holds as many rows as it may: the caller should answer "overloaded" and let the client retry. */
export class QueueFullError extends Error {
  constructor(
    readonly rows: number,
    readonly queuedRows: number,
    readonly maxQueuedRows: number,
  ) {
    super(
      `${queuedRows} rows are waiting for an inference, and ${rows} more would pass the limit of ${maxQueuedRows}; send the request again in a moment`,
    );
    this.name = 'QueueFullError';
  }
}

/** The batcher was stopped (`MicroBatcher.stop`): the request was never sent to the session. */
export class BatcherStoppedError extends Error {
  constructor() {
    super('the server stopped before this request reached an inference');
    this.name = 'BatcherStoppedError';
  }
}

export interface BatchRequest {
  readonly features: Matrix;
  readonly topK?: number;
  readonly scores: boolean;
}

interface Pending extends BatchRequest {
  resolve(prediction: Prediction): void;
  reject(error: unknown): void;
}

export interface BatcherStats {
  readonly batches: number;
  readonly requests: number;
  readonly rows: number;
  readonly largestBatchRows: number;
}

/**
 * Collects the rows of concurrent requests into one session run and hands each request its own slice of the
 * result. One run at a time: requests that arrive while a batch runs wait for the next one, which is what lets
 * batches grow under load. A run of several requests that fails is run again one request at a time, so that a
 * failure stays with the request that caused it (with row numbers of its own) and the others are answered.
 */
export class MicroBatcher {
  private queue: Pending[] = [];
  private queuedRows = 0;
  private running = false;
  private stopped = false;
  /** Cancels the flush scheduled, if any. */
  private scheduled: (() => void) | undefined;
  private counts = { batches: 0, requests: 0, rows: 0, largestBatchRows: 0 };

  constructor(
    private readonly session: Pick<ModelSession, 'predict' | 'inputWidth' | 'classes'>,
    private readonly options: MicroBatcherOptions,
  ) {}

  get stats(): BatcherStats {
    return { ...this.counts };
  }

  /**
   * Rows must already be checked (width, finite values); see `toFeatureMatrix`. Rejects with QueueFullError when
   * the queue is full, so that memory and waiting time stay bounded under load.
   */
  submit(request: BatchRequest): Promise<Prediction> {
    if (this.stopped) return Promise.reject(new BatcherStoppedError());
    const limit = this.options.maxQueuedRows ?? Number.POSITIVE_INFINITY;
    const rows = request.features.rows;
    if (this.queue.length > 0 && this.queuedRows + rows > limit) return Promise.reject(new QueueFullError(rows, this.queuedRows, limit));
    return new Promise((resolve, reject) => {
      this.queue.push({ ...request, resolve, reject });
      this.queuedRows += rows;
      this.schedule();
    });
  }

  /**
   * Refuses with BatcherStoppedError every request not yet sent to the session, and every later one; the inference
   * running goes on, and its requests are answered. For a shutdown whose grace period is over: the clients of the
   * requests still queued are gone, and each batch run for them would delay the exit by an inference.
   */
  stop(): void {
    this.stopped = true;
    this.scheduled?.();
    this.scheduled = undefined;
    const queued = this.queue.splice(0);
    this.queuedRows = 0;
    for (const pending of queued) pending.reject(new BatcherStoppedError());
  }

  private schedule(): void {
    if (this.running || this.scheduled || this.stopped) return;
    if (this.queuedRows < this.options.maxBatchRows && this.options.maxDelayMs > 0) {
      const timer = setTimeout(() => this.flush(), this.options.maxDelayMs);
      this.scheduled = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(() => this.flush());
      this.scheduled = () => clearImmediate(immediate);
    }
  }

  private async flush(): Promise<void> {
    this.scheduled = undefined;
    if (this.running || this.stopped || this.queue.length === 0) return;
    const batch = this.take();
    this.running = true;
    try {
      await this.run(batch);
    } finally {
      this.running = false;
      if (this.queue.length) this.schedule();
    }
  }

  /** The longest prefix of the queue within maxBatchRows (at least one request). */
  private take(): Pending[] {
    let rows = 0;
    let count = 0;
    while (count < this.queue.length && (count === 0 || rows + this.queue[count]!.features.rows <= this.options.maxBatchRows)) {
      rows += this.queue[count]!.features.rows;
      count++;
    }
    const batch = this.queue.splice(0, count);
    this.queuedRows -= rows;
    return batch;
  }

  private async run(batch: Pending[]): Promise<void> {
    const width = this.session.inputWidth;
    const rows = batch.reduce((sum, p) => sum + p.features.rows, 0);
    let features: Matrix;
    if (batch.length === 1) {
      features = batch[0]!.features;
    } else {
      const data = new Float32Array(rows * width);
      let offset = 0;
      for (const pending of batch) {
        data.set(pending.features.data, offset);
        offset += pending.features.data.length;
      }
      features = { rows, cols: width, data };
    }
    const topK = batch.reduce<number | undefined>((k, p) => (p.topK === undefined ? k : Math.max(k ?? 0, p.topK)), undefined);
    const scores = batch.some((p) => p.scores);
    let prediction: Prediction;
    try {
      prediction = await this.session.predict(features, { ...(topK === undefined ? {} : { topK }), scores });
    } catch (error) {
      // The session fails a batch as a whole (e.g. a model that lies on some rows): one client's rows must not
      // fail the others' requests. Run alone, each gets its own answer or its own error; still one run at a time.
      if (batch.length === 1) batch[0]!.reject(error);
      else
        for (const pending of batch) {
          if (this.stopped) pending.reject(new BatcherStoppedError());
          else await this.run([pending]);
        }
      return;
    }
    this.counts.batches++;
    this.counts.requests += batch.length;
    this.counts.rows += rows;
    this.counts.largestBatchRows = Math.max(this.counts.largestBatchRows, rows);
    let start = 0;
    for (const pending of batch) {
      pending.resolve(slicePrediction(prediction, start, pending.features.rows, pending));
      start += pending.features.rows;
    }
  }
}

/** Rows [start, start + rows) of a batch result, with top-k narrowed to what the request asked for. */
function slicePrediction(p: Prediction, start: number, rows: number, request: BatchRequest): Prediction {
  if (start === 0 && rows === p.rows && request.topK === p.topK?.k && request.scores === (p.scores !== undefined)) return p;
  const classes = p.classes;
  let topK: Prediction['topK'];
  if (request.topK !== undefined && p.topK) {
    const from = p.topK.k;
    const k = request.topK;
    const labels = new Int32Array(rows * k);
    const scores = new Float32Array(rows * k);
    for (let r = 0; r < rows; r++) {
      const at = (start + r) * from;
      labels.set(p.topK.labels.subarray(at, at + k), r * k);
      scores.set(p.topK.scores.subarray(at, at + k), r * k);
    }
    topK = { k, labels, scores };
  }
  return {
    rows,
    classes,
    labels: p.labels.subarray(start, start + rows),
    labelScores: p.labelScores.subarray(start, start + rows),
    ...(request.scores && p.scores ? { scores: p.scores.subarray(start * classes, (start + rows) * classes) } : {}),
    ...(topK ? { topK } : {}),
  };
}
