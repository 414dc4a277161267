// Plugins whose every output depends on every byte of their inputs, for the tests of the worker's input store: a
// dataset drawn from the seed, prototypes drawn from the seed, and an engine whose weights are the class means of the
// training rows and the prototypes it was given. With `scribble` the engine then overwrites the dataset and the
// prototypes it was handed after training, as a careless third-party plugin might.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createMatrix,
  createRegistry,
  defineDataset,
  defineEngine,
  defineHead,
  definePrototypeStrategy,
  h,
  type ExperimentOutcome,
  type Matrix,
  z,
} from '@hyperproto/core';
import type { BuiltRegistry } from '../registry-module.js';
import { buildRegistry as buildFakeRegistry, fakeHead } from './fake-registry.js';

export { versions } from './fake-registry.js';

/** How many times each plugin made something in this process, by plugin name. */
export const made: Record<string, number> = {};
const count = (name: string) => {
  made[name] = (made[name] ?? 0) + 1;
};

const WIDTH = 3;

const clusters = defineDataset({
  name: 'clusters',
  summary: 'Gaussian clusters drawn from the seed',
  options: z.strictObject({ classes: z.number().int().min(2), perClass: z.number().int().min(1).default(5) }),
  describe: ({ classes, perClass }) => ({ classes, trainRows: classes * perClass, inputWidth: WIDTH }),
  generate(ctx, { classes, perClass }) {
    count('clusters');
    const centres = ctx.rng.fillUniform(new Float32Array(classes * WIDTH), -3, 3);
    const split = () => {
      const labels = new Int32Array(classes * perClass).map((_, i) => i % classes);
      const features = createMatrix(labels.length, WIDTH);
      ctx.rng.fillNormal(features.data);
      labels.forEach((label, i) => {
        for (let k = 0; k < WIDTH; k++) features.data[i * WIDTH + k]! += centres[label * WIDTH + k]!;
      });
      return { features, labels };
    };
    const train = split();
    const validation = split();
    const test = split();
    const centreMatrix = createMatrix(classes, WIDTH, centres);
    return {
      classes,
      inputWidth: WIDTH,
      train,
      validation,
      test,
      reference: { name: 'nearest centre', testPredictions: nearestRows(centreMatrix, test.features) },
      info: { centre0: centres[0] },
    };
  },
});

const directions = definePrototypeStrategy({
  name: 'directions',
  summary: 'unit rows drawn from the seed',
  options: z.strictObject({}),
  generate(ctx, { classes, dims }) {
    count('directions');
    const m = createMatrix(classes, dims);
    ctx.rng.fillNormal(m.data);
    for (let i = 0; i < classes; i++) {
      const row = m.data.subarray(i * dims, (i + 1) * dims);
      const norm = Math.hypot(...row);
      for (let k = 0; k < dims; k++) row[k]! /= norm;
    }
    return m;
  },
});

/** Hands its prototypes to the engine as a constant, as the real prototype heads do. */
const prototypeHead = defineHead({
  name: 'hpn',
  summary: 'test head over prototypes',
  usesPrototypes: true,
  options: z.strictObject({}),
  build: ({ prototypes }) => ({
    outputUnits: prototypes!.cols,
    loss: h.mean(h.output()),
    scores: h.output(),
    scoresName: 'scores',
    constants: { prototypes: prototypes! },
  }),
});

/** `scribble`: after training, overwrite the dataset and prototypes it was handed. */
const classMeans = (name: string, scribble: boolean) =>
  defineEngine({
    name,
    summary: 'weights: the class means of the training rows, and the prototypes',
    priority: scribble ? 0 : 1,
    options: z.strictObject({}),
    async probe() {
      return { ok: true, backend: 'class-means/js', skipped: [] };
    },
    async train(_ctx, job) {
      const { dataset, head } = job;
      const means = createMatrix(dataset.classes, dataset.inputWidth);
      const counts = new Float64Array(dataset.classes);
      dataset.train.labels.forEach((label, i) => {
        counts[label]!++;
        for (let k = 0; k < dataset.inputWidth; k++)
          means.data[label * dataset.inputWidth + k]! += dataset.train.features.data[i * dataset.inputWidth + k]!;
      });
      for (let c = 0; c < dataset.classes; c++)
        for (let k = 0; k < dataset.inputWidth; k++) means.data[c * dataset.inputWidth + k]! /= counts[c]!;
      const prototypes = head.constants.prototypes;
      const weights = [
        { name: 'means', shape: [means.rows, means.cols], data: means.data },
        ...(prototypes ? [{ name: 'prototypes', shape: [prototypes.rows, prototypes.cols], data: prototypes.data.slice() }] : []),
      ];
      const validation = nearestRows(means, dataset.validation.features);
      const accuracy = validation.filter((p, i) => p === dataset.validation.labels[i]).length / validation.length;
      if (scribble) {
        // Still valid data (a later run would train without complaint), only not what was generated.
        dataset.train.features.data.forEach((x, i, data) => (data[i] = x + 1));
        dataset.validation.features.data.reverse();
        if (prototypes) for (let i = 0; i < prototypes.data.length; i++) prototypes.data[i] = -prototypes.data[i]!;
      }
      return {
        bestEpoch: 1,
        history: [{ epoch: 1, trainLoss: 1 - accuracy, validationLoss: 1 - accuracy, validationAccuracy: accuracy, seconds: 0 }],
        backend: 'class-means/js',
        model: {
          inputWidth: dataset.inputWidth,
          classes: dataset.classes,
          trainer: job.trainer,
          head,
          weights,
          async predict(features: Matrix) {
            return { scores: createMatrix(features.rows, dataset.classes), labels: nearestRows(means, features) };
          },
          dispose() {},
        },
      };
    },
  });

/** Index of the nearest row of `centres` (squared Euclidean distance) for every row of `rows`. */
function nearestRows(centres: Matrix, rows: Matrix): Int32Array {
  const out = new Int32Array(rows.rows);
  for (let i = 0; i < rows.rows; i++) {
    let best = Number.POSITIVE_INFINITY;
    for (let c = 0; c < centres.rows; c++) {
      let d = 0;
      for (let k = 0; k < rows.cols; k++) d += (rows.data[i * rows.cols + k]! - centres.data[c * centres.cols + k]!) ** 2;
      if (d < best) {
        best = d;
        out[i] = c;
      }
    }
  }
  return out;
}

export function buildRegistry(): BuiltRegistry {
  const fake = buildFakeRegistry();
  const registry = createRegistry([
    fakeHead('softmax', false),
    prototypeHead,
    ...fake.list('evaluator'),
    clusters,
    directions,
    classMeans('class-means', false),
    classMeans('class-means-scribbling', true),
  ]);
  return {
    registry,
    plugins: registry
      .list()
      .map(({ kind, name }) => ({ kind, name, package: '@hyperproto/test-plugins', version: '0.0.0', source: 'builtin' })),
  };
}

/** Writes the SHA-256 of the trained weights: what the store must leave unchanged. */
export async function writeRunDirectory(dir: string, outcome: ExperimentOutcome): Promise<void> {
  const hash = createHash('sha256');
  for (const weight of outcome.training.model.weights)
    hash.update(weight.name).update(new Uint8Array(weight.data.buffer, weight.data.byteOffset, weight.data.byteLength));
  await writeFile(join(dir, 'weights.sha256'), hash.digest('hex'));
}
