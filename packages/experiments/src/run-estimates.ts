import type { PlannedRun } from './grid-expansion.js';
import type { RunRecord } from './run-record.js';

const cellOf = (run: { dataset: string; model: string }) => `${run.dataset}/${run.model}`;

/**
 * Seconds a run will take, for the ETA: the mean of finished runs of the same cell (other seeds), else the
 * planned cost scaled by the seconds per unit of cost seen so far. Runs differ by orders of magnitude (10 vs 1,000
 * classes), so counting runs alone would mislead.
 */
export class RunEstimates {
  private readonly byCell = new Map<string, number[]>();
  private readonly costOfCell = new Map<string, number>();
  private seconds = 0;
  private cost = 0;

  constructor(runs: readonly PlannedRun[], records: readonly RunRecord[]) {
    for (const run of runs) this.costOfCell.set(cellOf(run), run.cost);
    for (const record of records) {
      const cost = this.costOfCell.get(cellOf(record));
      if (cost !== undefined) this.note(cellOf(record), cost, record.seconds.total);
    }
  }

  add(run: PlannedRun, seconds: number): void {
    this.note(cellOf(run), run.cost, seconds);
  }

  estimate(run: PlannedRun): number | undefined {
    const seen = this.byCell.get(cellOf(run));
    if (seen?.length) return seen.reduce((a, b) => a + b, 0) / seen.length;
    return this.cost > 0 ? (this.seconds / this.cost) * run.cost : undefined;
  }

  /** Seconds until the queue and the running runs are done on `slots` parallel slots; null when unknown. */
  remainingSeconds(
    queue: readonly PlannedRun[],
    running: readonly { key: string; seconds: number }[],
    slots: number,
    runsByKey?: ReadonlyMap<string, PlannedRun>,
  ): number | null {
    if (this.cost === 0) return queue.length === 0 && running.length === 0 ? 0 : null;
    let total = 0;
    for (const run of queue) total += this.estimate(run) ?? 0;
    for (const active of running) {
      const run = runsByKey?.get(active.key);
      const expected = run ? (this.estimate(run) ?? 0) : 0;
      total += Math.max(0, expected - active.seconds);
    }
    return total / Math.max(1, slots);
  }

  private note(cell: string, cost: number, seconds: number): void {
    const list = this.byCell.get(cell) ?? [];
    list.push(seconds);
    this.byCell.set(cell, list);
    this.seconds += seconds;
    this.cost += cost;
  }
}
