import { classificationScores, runExperiment } from '@hyperproto/core';
import { exportOnnx } from '@hyperproto/onnx';
import { createSession } from '@hyperproto/runtime-node';
import { describe, expect, it } from 'vitest';
import { builtinPlugins, createBuiltinRegistry } from './index.js';

describe('the library API, as the README shows it', () => {
  it('registers every built-in plugin once', () => {
    const registry = createBuiltinRegistry();
    expect(registry.list().length).toBe(builtinPlugins.length);
    expect(registry.list('dataset').map((p) => p.name)).toEqual(['gaussian', 'files']);
  });

  it('runs one experiment, evaluates it beside the class-mean baseline, exports it and runs the file', async () => {
    // The README's "Use it as a library" example, with smaller sizes.
    const registry = createBuiltinRegistry();
    const outcome = await runExperiment(registry, {
      seed: 1,
      dataset: { name: 'gaussian', options: { classes: 4, sigma: 1, trainPerClass: 60, validationPerClass: 20, testPerClass: 30 } },
      head: { name: 'hpn', options: {} },
      prototypes: { strategy: 'orthogonal', dims: 4 },
      trainer: { hiddenUnits: 32, maxEpochs: 40, patience: 5 },
    });
    const f1 = (metrics: Parameters<typeof classificationScores>[0]) => classificationScores(metrics)?.macroF1 ?? Number.NaN;
    expect(f1(outcome.metrics)).toBeGreaterThan(0.5);
    expect(f1(outcome.baselineMetrics)).toBeGreaterThan(0.5);
    expect(f1(outcome.referenceMetrics)).toBeGreaterThanOrEqual(f1(outcome.baselineMetrics) - 0.1);
    // The validation scores are the kept model's: the accuracy the engine measured at the best epoch, on the same split.
    const validation = classificationScores(outcome.validationMetrics);
    expect(validation?.accuracy).toBeCloseTo(outcome.training.history[outcome.training.bestEpoch - 1]!.validationAccuracy, 6);

    const bytes = exportOnnx(outcome.training.model, { metadata: { head: 'hpn', strategy: 'orthogonal' } });
    const session = await createSession(bytes);
    const { labels } = await outcome.training.model.predict(outcome.dataset.test.features);
    const predicted = await session.predict(outcome.dataset.test.features);
    expect(Array.from(predicted.labels)).toEqual(Array.from(labels));
    outcome.training.model.dispose();
  });
});
