import { describe, expect, it } from 'vitest';
import { ErrorCode, parseExperimentSpec } from '@hyperproto/core';
import type { CheckedRun } from './grid-validation.js';
import { RunEstimates } from './run-estimates.js';
import type { RunRecord } from './run-record.js';
import { planSession, recordMismatch } from './session-plan.js';

/** Runs of two datasets x two models x two seeds, with the planned cost each cell would get. */
const cost: Record<string, number> = { 'c10/softmax': 1, 'c10/hpn': 2, 'c100/softmax': 10, 'c100/hpn': 20 };
const runs: CheckedRun[] = ['c10', 'c100'].flatMap((dataset, datasetIndex) =>
  [0, 1].flatMap((seed) =>
    ['softmax', 'hpn'].map((model, modelIndex) => {
      const spec = { seed, dataset: { name: 'blobs', options: { dataset } }, head: { name: model, options: {} } };
      return {
        key: `${dataset}/${model}/s${seed}`,
        dataset,
        model,
        seed,
        datasetIndex,
        modelIndex,
        spec,
        parsedSpec: parseExperimentSpec(spec),
        cost: cost[`${dataset}/${model}`]!,
      };
    }),
  ),
);
const record = (key: string, seconds: number, spec?: unknown): RunRecord => {
  const run = runs.find((r) => r.key === key)!;
  return {
    key,
    dataset: run.dataset,
    model: run.model,
    seed: run.seed,
    spec: spec ?? run.parsedSpec,
    seconds: { total: seconds },
  } as unknown as RunRecord;
};
const plan = (records: RunRecord[], only?: string[]) =>
  planSession({ runs, records, only, estimates: new RunEstimates(runs, records), source: 'results.jsonl' });

describe('planSession', () => {
  it('starts the most expensive runs first, keeping the grid order between equals', () => {
    const { pending, skipped, selected } = plan([]);
    expect(pending.map((r) => r.key)).toEqual([
      'c100/hpn/s0',
      'c100/hpn/s1',
      'c100/softmax/s0',
      'c100/softmax/s1',
      'c10/hpn/s0',
      'c10/hpn/s1',
      'c10/softmax/s0',
      'c10/softmax/s1',
    ]);
    expect(skipped).toBe(0);
    expect(selected).toHaveLength(8);
  });

  it('orders by the seconds finished runs of a cell took once there are any, and skips finished runs', () => {
    // c10/softmax took 50 s although planned cheapest: its other seed goes first now. Cells without a finished run
    // are scaled by the seconds per unit of cost seen so far (70 s / 21 units): c100/softmax 33 s, c10/hpn 7 s,
    // against the 20 s c100/hpn took.
    const { pending, skipped, finished } = plan([record('c10/softmax/s0', 50), record('c100/hpn/s0', 20)]);
    expect(pending.map((r) => r.key)).toEqual([
      'c10/softmax/s1',
      'c100/softmax/s0',
      'c100/softmax/s1',
      'c100/hpn/s1',
      'c10/hpn/s0',
      'c10/hpn/s1',
    ]);
    expect(skipped).toBe(2);
    expect([...finished.keys()]).toEqual(['c10/softmax/s0', 'c100/hpn/s0']);
  });

  it('selects with `only` and counts what of the selection is finished', () => {
    const { pending, skipped, selected } = plan([record('c10/hpn/s1', 3)], ['c10/*/s1']);
    expect(selected.map((r) => r.key)).toEqual(['c10/softmax/s1', 'c10/hpn/s1']);
    expect(pending.map((r) => r.key)).toEqual(['c10/softmax/s1']);
    expect(skipped).toBe(1);
    expect(() => plan([], ['c1000'])).toThrow(/--only c1000 matches no run of the grid/);
  });

  it('refuses records of runs the grid does not have, or made with another spec', () => {
    const stranger = { ...record('c10/hpn/s0', 1), key: 'c5/hpn/s0' } as RunRecord;
    expect(() => plan([stranger])).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: 'results.jsonl holds run c5/hpn/s0, which the grid does not have' }),
    );
    const changed = record('c10/hpn/s0', 1, { ...runs[1]!.parsedSpec, seed: 7 });
    expect(() => plan([changed])).toThrow(/results\.jsonl: run c10\/hpn\/s0 was made with a different spec \(seed: 7 there, 0 now\)/);
  });

  it('counts a record written before traceTest existed as the same run, and one without the trace as another', () => {
    const raw = { dataset: { name: 'gaussian', options: { classes: 10 } }, head: { name: 'softmax' }, trainer: { patience: 200 } };
    const older = parseExperimentSpec(raw);
    const run = { ...runs[0]!, parsedSpec: parseExperimentSpec(raw) };
    expect(recordMismatch(record(run.key, 1, JSON.parse(JSON.stringify(older))), run)).toBeUndefined();
    const traced = { ...run, parsedSpec: parseExperimentSpec({ ...raw, trainer: { patience: 200, traceTest: true } }) };
    expect(recordMismatch(record(run.key, 1, older), traced)).toMatch(/^trainer\.traceTest: undefined there, true now/);
  });

  it('reads a record written with an older form of the spec as what it means', () => {
    const raw = { dataset: { name: 'gaussian', options: { classes: 10 } }, head: { name: 'softmax' } };
    const run = { ...runs[0]!, parsedSpec: parseExperimentSpec({ ...raw, engine: { name: 'onnxruntime' } }) };
    // Records made before engines took options named the engine alone.
    expect(recordMismatch(record(run.key, 1, { ...run.parsedSpec, engine: 'onnxruntime' }), run)).toBeUndefined();
    expect(recordMismatch(record(run.key, 1, { ...run.parsedSpec, engine: 'tfjs' }), run)).toMatch(
      /^engine\.name: "tfjs" there, "onnxruntime" now/,
    );
  });
});
