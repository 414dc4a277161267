import { planExperiment, type ExperimentSpec, type Registry } from '@hyperproto/core';
import type { RunRecord } from './run-record.js';

/** What the estimates need of a run: its cell and its planned cost ({@link plannedRunCost}). */
export interface CostedRun {
  readonly dataset: string;
  readonly model: string;
  readonly cost: number;
}

const cellOf = (run: { dataset: string; model: string }) => `${run.dataset}/${run.model}`;

/** What a run counts for a size its dataset cannot say without reading data: the seed's 10-class defaults. */
export const UNDESCRIBED_DATASET = { classes: 10, trainRows: 5_000, inputWidth: 300 } as const;

/** Epochs a run is expected to take before early stopping ends it (at most the trainer's `maxEpochs`). */
const EXPECTED_EPOCHS = 50;

/**
 * A run's relative cost in multiply-adds, for ordering runs and for the ETA before any run of its cell has finished:
 * forward and backward through input -> hidden (x hiddenLayers) -> outputs for every train row and expected epoch,
 * plus, for a prototype strategy with `steps`, a comparison of every pair of prototypes per step. The sizes come from
 * the dataset's `describe`; what it leaves out counts as {@link UNDESCRIBED_DATASET}.
 */
export function plannedRunCost(registry: Registry, spec: ExperimentSpec): number {
  const plan = planExperiment(registry, spec);
  const { described } = plan;
  const classes = described.classes ?? UNDESCRIBED_DATASET.classes;
  const trainRows = described.trainRows ?? UNDESCRIBED_DATASET.trainRows;
  const inputWidth = described.inputWidth ?? UNDESCRIBED_DATASET.inputWidth;
  const { hiddenUnits: hidden, hiddenLayers, maxEpochs } = spec.trainer;
  const dims = spec.prototypes && 'dims' in spec.prototypes ? spec.prototypes.dims : undefined;
  const outputs = dims ?? classes;
  const perRow = inputWidth * hidden + (hiddenLayers - 1) * hidden * hidden + hidden * outputs;
  const training = 3 * Math.min(EXPECTED_EPOCHS, maxEpochs) * trainRows * perRow;
  const steps = (plan.strategyOptions as { steps?: unknown } | undefined)?.steps;
  const prototypes = typeof steps === 'number' ? 3 * steps * classes * classes * (dims ?? classes) : 0;
  return training + prototypes;
}

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

  constructor(runs: readonly CostedRun[], records: readonly RunRecord[]) {
    for (const run of runs) this.costOfCell.set(cellOf(run), run.cost);
    for (const record of records) {
      const cost = this.costOfCell.get(cellOf(record));
      if (cost !== undefined) this.note(cellOf(record), cost, record.seconds.total);
    }
  }

  add(run: CostedRun, seconds: number): void {
    this.note(cellOf(run), run.cost, seconds);
  }

  estimate(run: CostedRun): number | undefined {
    const seen = this.byCell.get(cellOf(run));
    if (seen?.length) return seen.reduce((a, b) => a + b, 0) / seen.length;
    return this.cost > 0 ? (this.seconds / this.cost) * run.cost : undefined;
  }

  /** Seconds until the queue and the running runs are done on `slots` parallel slots; null when unknown. */
  remainingSeconds(
    queue: readonly CostedRun[],
    running: readonly { key: string; seconds: number }[],
    slots: number,
    runsByKey?: ReadonlyMap<string, CostedRun>,
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
