import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classificationScores, createRng, runExperiment } from '@hyperproto/core';
import { exportOnnx } from '@hyperproto/onnx';
import { createSession } from '@hyperproto/runtime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { createBuiltinRegistry } from './index.js';

const CLASSES = ['setosa', 'versicolor', 'virginica'];
const FEATURES = ['sepal length', 'sepal width', 'petal length', 'petal width'];
const dir = mkdtempSync(join(tmpdir(), 'hyperproto-library-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 3 classes x 40 rows around separate centres, the label column between the features. */
function writeCsv(): string {
  const rng = createRng(7);
  const lines = [[FEATURES[0], FEATURES[1], 'species', FEATURES[2], FEATURES[3]].join(',')];
  for (let r = 0; r < 120; r++) {
    const c = r % CLASSES.length;
    const x = FEATURES.map((_, f) => (3 * (f === c ? 1 : 0) + rng.normal()).toFixed(4));
    lines.push([x[0], x[1], CLASSES[c], x[2], x[3]].join(','));
  }
  const path = join(dir, 'flowers.csv');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('exporting a library outcome', () => {
  it('keeps the named columns, class names and label column a runtime reads back, as the CLI export does', async () => {
    const outcome = await runExperiment(
      createBuiltinRegistry(),
      {
        seed: 3,
        dataset: { name: 'files', options: { data: writeCsv(), labelColumn: 'species' } },
        head: { name: 'softmax' },
        trainer: { hiddenUnits: 16, batchSize: 16, learningRate: 0.01, maxEpochs: 30, patience: 5 },
        engine: 'tfjs',
      },
      { threads: 1 },
    );
    try {
      const { classNames, featureNames } = outcome.dataset;
      expect(featureNames).toEqual(FEATURES);
      expect(new Set(classNames)).toEqual(new Set(CLASSES));
      const scores = classificationScores(outcome.metrics);
      expect(scores?.accuracy).toBeGreaterThan(0.5);

      const bytes = exportOnnx(outcome.training.model, {
        metadata: { head: outcome.spec.head.name, seed: String(outcome.spec.seed), dataset: outcome.spec.dataset.name },
        ...(classNames ? { classNames } : {}),
        ...(featureNames ? { featureNames } : {}),
        labelColumn: 'species',
      });
      const session = await createSession(bytes);
      try {
        expect(session.featureNames).toEqual(FEATURES);
        expect(session.classNames).toEqual(classNames);
        expect(session.labelColumn).toBe('species');
        expect(session.metadata).toMatchObject({ head: 'softmax', seed: '3', dataset: 'files' });
        const { labels } = await outcome.training.model.predict(outcome.dataset.test.features);
        expect(Array.from((await session.predict(outcome.dataset.test.features)).labels)).toEqual(Array.from(labels));
      } finally {
        await session.release();
      }
    } finally {
      outcome.training.model.dispose();
    }
  });
});
