import { describe, expect, it } from 'vitest';
import type { CheckedRun } from './grid-validation.js';
import { ProgressTracker, type GridProgress } from './progress-tracker.js';
import { RunEstimates } from './run-estimates.js';
import type { RunRecord } from './run-record.js';

const run = (key: string, cost: number): CheckedRun => {
  const [dataset, model, seed] = key.split('/') as [string, string, string];
  return {
    key,
    dataset,
    model,
    seed: Number(seed.slice(1)),
    datasetIndex: 0,
    modelIndex: 0,
    spec: {},
    parsedSpec: {},
    cost,
  } as unknown as CheckedRun;
};
const record = (key: string, seconds: number) =>
  ({ key, dataset: key.split('/')[0], model: key.split('/')[1], seconds: { total: seconds } }) as RunRecord;

describe('ProgressTracker', () => {
  it('counts done and failed runs of the session and estimates what is left over the parallel slots', () => {
    const pending = [run('c1/a/s0', 1), run('c1/a/s1', 1), run('c1/b/s0', 3), run('c2/a/s0', 1)];
    const estimates = new RunEstimates(pending, []);
    const reports: GridProgress[] = [];
    let slots = 2;
    const tracker = new ProgressTracker({
      total: 5,
      skipped: 1,
      pending,
      estimates,
      parallel: () => slots,
      onProgress: (p) => reports.push(p),
      startedAt: performance.now(),
    });

    tracker.started('c1/a/s0');
    expect(reports.at(-1)).toMatchObject({
      total: 5,
      done: 1,
      skipped: 1,
      failed: 0,
      running: [{ key: 'c1/a/s0', stage: 'starting' }],
      etaSeconds: null,
    });
    tracker.stage('c1/a/s0', 'training', 3, 10);
    expect(reports.at(-1)!.running).toEqual([expect.objectContaining({ key: 'c1/a/s0', stage: 'training', done: 3, total: 10 })]);

    estimates.add(pending[0]!, 4);
    tracker.finish(record('c1/a/s0', 4));
    // Left: c1/a/s1 (4 s, its cell's mean), c1/b/s0 (cost 3 at 4 s per unit: 12 s), c2/a/s0 (4 s): 20 s on 2 slots.
    expect(reports.at(-1)).toMatchObject({ done: 2, running: [], etaSeconds: 10, event: { type: 'finished' } });
    slots = 4;
    tracker.report();
    expect(reports.at(-1)!.etaSeconds).toBe(5);

    tracker.started('c1/b/s0');
    tracker.fail('c1/b/s0', { code: 'E_TRAINING_FAILED', message: 'diverged' });
    expect(reports.at(-1)).toMatchObject({ done: 2, failed: 1, event: { type: 'failed', key: 'c1/b/s0' } });
    expect(tracker.failed).toEqual([{ key: 'c1/b/s0', failure: { code: 'E_TRAINING_FAILED', message: 'diverged' } }]);

    // A run that stopped without an outcome waits again; a record of a run outside the session is not counted.
    tracker.started('c2/a/s0');
    tracker.released('c2/a/s0');
    tracker.finish(record('c9/z/s0', 1));
    expect(reports.at(-1)).toMatchObject({ done: 2, running: [], etaSeconds: 2 });
    expect(tracker.ran).toBe(1);
  });
});
