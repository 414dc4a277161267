import { checkGrid, loadPreset } from '@hyperproto/experiments';
import { describe, expect, it } from 'vitest';
import { buildRegistry } from './registry-module.js';

// The many-classes preset against the real built-in plugins: every head, option and prototype size checked, no run.
describe('the many-classes preset', () => {
  it('validates and plans 66 runs: 3 seeds at 1,000 classes, 1 at 10,000 and 100,000', async () => {
    const { registry } = await buildRegistry({ cwd: process.cwd() });
    const runs = checkGrid(registry, await loadPreset('many-classes'), 'preset many-classes');
    const perDataset = (id: string) => runs.filter((r) => r.dataset === id).length;
    expect([runs.length, perDataset('c1000'), perDataset('c10000'), perDataset('c100000')]).toEqual([66, 45, 15, 6]);
    expect(runs.filter((r) => r.dataset === 'c1000' && r.model === 'softmax').map((r) => r.seed)).toEqual([0, 1, 2]);
  });

  it('keeps 10 training rows per class, every class in the test split, and 10,000 validation rows at each class count', async () => {
    const { registry } = await buildRegistry({ cwd: process.cwd() });
    const runs = checkGrid(registry, await loadPreset('many-classes'), 'preset many-classes');
    for (const id of ['c1000', 'c10000', 'c100000']) {
      const options = runs.find((r) => r.dataset === id)!.parsedSpec.dataset.options as Record<string, number>;
      expect(options.trainPerClass, id).toBe(10);
      expect(options.testPerClass, id).toBeGreaterThanOrEqual(1);
      expect(options.validationRows ?? options.classes! * options.validationPerClass!, id).toBe(10_000);
    }
  });

  it('runs sampled softmax as bottleneck-softmax with a 1% share, and only prototype sets that exist at their size', async () => {
    const { registry } = await buildRegistry({ cwd: process.cwd() });
    const runs = checkGrid(registry, await loadPreset('many-classes'), 'preset many-classes');
    const sampled = runs.find((r) => r.key === 'c10000/sampled-d300/s0')!.parsedSpec;
    expect(sampled.head).toEqual({ name: 'bottleneck-softmax', options: { dims: 300, sampledShare: 0.01 } });
    const simplex = runs.filter(
      (r) => r.parsedSpec.prototypes && 'strategy' in r.parsedSpec.prototypes && r.parsedSpec.prototypes.strategy === 'simplex',
    );
    expect(new Set(simplex.map((r) => r.dataset))).toEqual(new Set(['c1000']));
    // At 100,000 classes only the heads whose runs fit the budget: HPN and the sampled cosine-softmax.
    expect(new Set(runs.filter((r) => r.dataset === 'c100000').map((r) => r.parsedSpec.head.name))).toEqual(
      new Set(['hpn', 'cosine-softmax']),
    );
  });
});
