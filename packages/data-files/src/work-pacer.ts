import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';

// Ctrl-C aborts the signal from an event-loop callback, so a long synchronous loop would never see it:
// hand the loop back this often, then look at the signal.
const SLICE_MS = 50;

/** Keeps long loops interruptible: they ask `due()` every few hundred rows and `await pause()` when it says so. */
export class WorkPacer {
  private last = performance.now();

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly what: string,
  ) {}

  /** Whether a slice of work has passed since the last pause. Cheap: one clock read. */
  due(): boolean {
    return performance.now() - this.last >= SLICE_MS;
  }

  /** Lets other callbacks (the Ctrl-C handler) run, then throws E_ABORTED if the work was interrupted. */
  async pause(): Promise<void> {
    await nextMacrotask();
    this.last = performance.now();
    this.check();
  }

  check(): void {
    if (this.signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, `interrupted while ${this.what}`);
  }
}
