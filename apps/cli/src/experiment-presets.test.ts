import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkGrid,
  describeGridDifferences,
  loadGridFile,
  loadPreset,
  parseGrid,
  planSession,
  readResultsDirectory,
  recordMismatch,
  RunEstimates,
} from '@hyperproto/experiments';
import { describe, expect, it } from 'vitest';
import { buildRegistry } from './registry-module.js';

// The shipped presets against the real built-in plugins: every name, option and prototype size checked, no run.
describe('the shipped presets against the built-in registry', () => {
  it('validates and plans the collapse preset: 290 runs, without running any', async () => {
    const { registry } = await buildRegistry({ cwd: process.cwd() });
    const runs = checkGrid(registry, await loadPreset('collapse'), 'preset collapse');
    expect(runs).toHaveLength(290);
    const fixed = runs.find((r) => r.key === 'c1000-n20/cos-simplex-d1000-h300-e200/s2')!;
    expect(fixed.parsedSpec.trainer).toMatchObject({ hiddenUnits: 300, patience: 200, maxEpochs: 200, dropout: 0.3, traceTest: true });
    expect(fixed.parsedSpec.head.name).toBe('cosine-softmax');
    expect(runs.find((r) => r.key === 'c1000-n20/hpn-optimized-d1000-h1000-es/s2')!.parsedSpec.trainer.hiddenUnits).toBe(1000);
    expect(runs.find((r) => r.key === 'c100/hpn-orthogonal-d100-h64-es/s4')!.parsedSpec.trainer.hiddenUnits).toBe(64);
  });

  it('resumes docs/results/collapse: its grid is the preset, and every committed run stays finished with its spec', async () => {
    const { registry } = await buildRegistry({ cwd: process.cwd() });
    const preset = await loadPreset('collapse');
    const runs = checkGrid(registry, preset, 'preset collapse');
    const dir = fileURLToPath(new URL('../../../docs/results/collapse/', import.meta.url));
    const stored = await loadGridFile(join(dir, 'grid.json'));
    expect(describeGridDifferences(stored, preset, 'grid.json', 'preset collapse')).toEqual([]);
    const { records } = await readResultsDirectory(dir);
    expect(records.length).toBeGreaterThanOrEqual(39);
    // Records written before traceTest existed compare equal to the specs the preset makes now.
    for (const record of records) expect(recordMismatch(record, runs.find((r) => r.key === record.key)!)).toBeUndefined();
    const plan = planSession({ runs, records, estimates: new RunEstimates(runs, records), source: 'results.jsonl' });
    expect(plan.skipped).toBe(records.length);
    expect(plan.pending).toHaveLength(290 - records.length);
    expect(plan.pending.some((r) => r.key === 'c1000-n20/hpn-simplex-d1000-h300-es/s0')).toBe(false);
  });

  it('refuses orthogonal prototypes with D < C and simplex with D < C - 1, naming each cell', async () => {
    const { registry } = await buildRegistry({ cwd: process.cwd() });
    const grid = parseGrid({
      name: 'too-small',
      seeds: 1,
      datasets: [
        { id: 'c10', options: { classes: 10 } },
        { id: 'c100', options: { classes: 100 } },
      ],
      models: [
        { id: 'orthogonal-50', head: 'hpn', prototypes: { strategy: 'orthogonal', dims: 50 } },
        { id: 'simplex-99', head: 'hpn', prototypes: { strategy: 'simplex', dims: 99 } },
        { id: 'simplex-98', head: 'cosine-softmax', prototypes: { strategy: 'simplex', dims: 98 } },
      ],
    });
    let message = '';
    try {
      checkGrid(registry, grid, 'g.json');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/the grid has 2 problems/);
    expect(message).toMatch(
      /g\.json models\.0 "orthogonal-50" on datasets\.1 "c100": prototype strategy "orthogonal" cannot make 100 prototypes in 50 dimensions/,
    );
    expect(message).toMatch(
      /g\.json models\.2 "simplex-98" on datasets\.1 "c100": prototype strategy "simplex" cannot make 100 prototypes in 98 dimensions/,
    );
    // Simplex with D = C - 1 exists, and the 10-class cells fit.
    expect(message).not.toMatch(/simplex-99|datasets\.0/);
  });
});
