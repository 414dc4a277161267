import { checkGrid, loadPreset, parseGrid } from '@hyperproto/experiments';
import { describe, expect, it } from 'vitest';
import { buildRegistry } from './registry-module.js';

// The shipped presets against the real built-in plugins: every name, option and prototype size checked, no run.
describe('the shipped presets against the built-in registry', () => {
  it('validates and plans the collapse preset: 546 runs, without running any', async () => {
    const { registry } = await buildRegistry({ cwd: process.cwd() });
    const runs = checkGrid(registry, await loadPreset('collapse'), 'preset collapse');
    expect(runs).toHaveLength(546);
    const wide = runs.find((r) => r.key === 'c1000-n200/cos-simplex-d1000-h1000-e200/s2')!;
    expect(wide.parsedSpec.trainer).toMatchObject({ hiddenUnits: 1000, patience: 200, maxEpochs: 200, dropout: 0.3 });
    expect(wide.parsedSpec.head.name).toBe('cosine-softmax');
    expect(runs.find((r) => r.key === 'c100/hpn-orthogonal-d100-h64-es/s0')!.parsedSpec.trainer.hiddenUnits).toBe(64);
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
