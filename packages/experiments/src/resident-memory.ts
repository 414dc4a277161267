import type { RunMemory } from './run-record.js';

/** How often the process's resident set is sampled while a run executes, milliseconds. */
export const MEMORY_SAMPLE_MS = 100;

/** A run being watched: its memory so far. */
interface Watched {
  readonly start: number;
  peak: number;
  concurrent: number;
}

/** What a watched run ends with: its memory, measured up to this call (later calls give the same). */
export interface MemoryWatch {
  end(): RunMemory;
}

/**
 * Samples the resident set of this process while at least one run is watched, and keeps for each run the largest
 * value seen while it ran and the most runs watched at once meanwhile. It must live in a thread whose event loop is
 * free while the runs work (the main thread of a pool whose runs execute in worker threads): a thread busy with a
 * run's synchronous steps would take no sample until they returned. The timer runs only while a run is watched and
 * never keeps the process alive.
 */
export class ResidentMemorySampler {
  private readonly watched = new Set<Watched>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly sampleMilliseconds = MEMORY_SAMPLE_MS,
    private readonly read: () => number = () => process.memoryUsage.rss(),
  ) {}

  /** Whether the timer runs: a run is being watched. */
  get sampling(): boolean {
    return this.timer !== undefined;
  }

  /** Starts watching a run that starts now; its `end` must be called when it ends, however it ends. */
  watch(): MemoryWatch {
    const start = this.read();
    const run: Watched = { start, peak: start, concurrent: 0 };
    this.watched.add(run);
    for (const other of this.watched) other.concurrent = Math.max(other.concurrent, this.watched.size);
    if (!this.timer) {
      this.timer = setInterval(() => this.sample(), this.sampleMilliseconds);
      this.timer.unref();
    }
    let ended: RunMemory | undefined;
    return {
      end: () => {
        if (!ended) {
          this.sample();
          this.watched.delete(run);
          if (this.watched.size === 0) this.stop();
          ended = {
            peakResidentBytes: run.peak,
            startResidentBytes: run.start,
            concurrentRuns: run.concurrent,
            sampleMilliseconds: this.sampleMilliseconds,
          };
        }
        return ended;
      },
    };
  }

  private sample(): void {
    const resident = this.read();
    for (const run of this.watched) run.peak = Math.max(run.peak, resident);
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The sampler of this process: every run slot of the process reports to it, so `concurrentRuns` counts them all. */
export const processMemory = new ResidentMemorySampler();
