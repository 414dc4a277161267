import { createRng, ErrorCode, nearestClassMeanPredictions, resolveOptions, type DatasetSplit } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { generateGaussianDataset, REFERENCE_SCAN_FROM } from './gaussian-clusters.js';
import { nearestCentre } from './nearest-centre.js';
import { gaussianDataset } from './gaussian-dataset.js';
import { GaussianOptionsSchema, type GaussianOptionsInput } from './gaussian-options.js';

const small: GaussianOptionsInput = { classes: 4, sigma: 0.5, inputWidth: 6, trainPerClass: 5, validationPerClass: 3, testPerClass: 2 };

function generate(seed: number, raw: GaussianOptionsInput) {
  return generateGaussianDataset(createRng(seed), GaussianOptionsSchema.parse(raw));
}

function bytes(split: DatasetSplit): Buffer {
  const { data } = split.features;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function accuracy(labels: Int32Array, predictions: Int32Array): number {
  let same = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === predictions[i]) same++;
  return same / labels.length;
}

describe('generateGaussianDataset', () => {
  it('has the promised shapes, interleaved labels and info', async () => {
    const dataset = await generate(1, small);
    expect(dataset.classes).toBe(4);
    expect(dataset.inputWidth).toBe(6);
    for (const [split, perClass] of [
      [dataset.train, 5],
      [dataset.validation, 3],
      [dataset.test, 2],
    ] as const) {
      expect(split.features.rows).toBe(4 * perClass);
      expect(split.features.cols).toBe(6);
      expect(split.features.data.length).toBe(4 * perClass * 6);
      expect(Array.from(split.labels)).toEqual(Array.from({ length: 4 * perClass }, (_, i) => i % 4));
    }
    expect([dataset.centres.rows, dataset.centres.cols]).toEqual([4, 6]);
    expect(dataset.reference.name).toBe('bayes-optimal');
    expect(dataset.reference.testPredictions.length).toBe(8);
    expect(dataset.info).toEqual({
      generator: 'gaussian',
      sigma: 0.5,
      sigmaSource: 'options',
      perClass: { train: 5, validation: 3, test: 2 },
      rows: { train: 20, validation: 12, test: 8 },
    });
  });

  it("uses the seed's sigma when none is given", async () => {
    const dataset = await generate(1, { classes: 10, inputWidth: 2, trainPerClass: 1, validationPerClass: 1, testPerClass: 1 });
    expect(dataset.info).toMatchObject({ sigma: 3, sigmaSource: 'seed table 1' });
  });

  it('gives the same bytes for the same seed and different bytes for another seed', async () => {
    const a = await generate(42, small);
    const b = await generate(42, small);
    const c = await generate(43, small);
    for (const name of ['train', 'validation', 'test'] as const) {
      expect(bytes(a[name]).equals(bytes(b[name])), name).toBe(true);
      expect(bytes(a[name]).equals(bytes(c[name])), name).toBe(false);
    }
    expect(Array.from(a.reference.testPredictions)).toEqual(Array.from(b.reference.testPredictions));
    expect(Array.from(a.centres.data)).not.toEqual(Array.from(c.centres.data));
  });

  it('keeps the centres and the other splits when one split changes size', async () => {
    const base = await generate(5, small);
    const moreTrain = await generate(5, { ...small, trainPerClass: 9 });
    const moreTest = await generate(5, { ...small, testPerClass: 7, validationPerClass: 1 });
    expect(Array.from(moreTrain.centres.data)).toEqual(Array.from(base.centres.data));
    expect(bytes(moreTrain.validation).equals(bytes(base.validation))).toBe(true);
    expect(bytes(moreTrain.test).equals(bytes(base.test))).toBe(true);
    expect(bytes(moreTest.train).equals(bytes(base.train))).toBe(true);
    // A split's own stream is sequential, so growing it appends rows and keeps the ones before.
    const prefix = bytes(moreTrain.train).subarray(0, bytes(base.train).length);
    expect(prefix.equals(bytes(base.train))).toBe(true);
    expect(bytes(moreTest.validation).equals(bytes(base.validation).subarray(0, bytes(moreTest.validation).length))).toBe(true);
  });

  it('draws centres uniformly from [-1, 1]', async () => {
    const { centres } = await generate(11, {
      classes: 50,
      sigma: 1,
      inputWidth: 200,
      trainPerClass: 1,
      validationPerClass: 1,
      testPerClass: 1,
    });
    let sum = 0;
    let sumSquares = 0;
    for (const value of centres.data) {
      expect(value).toBeGreaterThanOrEqual(-1);
      expect(value).toBeLessThanOrEqual(1);
      sum += value;
      sumSquares += value * value;
    }
    const n = centres.data.length;
    // U(-1, 1): mean 0, variance 1/3. With 10,000 draws the standard errors are ~0.006 and ~0.003.
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(sumSquares / n).toBeCloseTo(1 / 3, 1);
  });

  it('puts each class around its centre with standard deviation sigma', async () => {
    const sigma = 2.5;
    const perClass = 400;
    const width = 20;
    const dataset = await generate(3, {
      classes: 3,
      sigma,
      inputWidth: width,
      trainPerClass: perClass,
      validationPerClass: 1,
      testPerClass: 1,
    });
    const { features, labels } = dataset.train;
    for (let label = 0; label < 3; label++) {
      const mean = new Float64Array(width);
      let squares = 0;
      let count = 0;
      for (let row = 0; row < features.rows; row++) {
        if (labels[row] !== label) continue;
        count++;
        for (let k = 0; k < width; k++) {
          const value = features.data[row * width + k]!;
          mean[k]! += value;
          squares += (value - dataset.centres.data[label * width + k]!) ** 2;
        }
      }
      expect(count).toBe(perClass);
      let meanError = 0;
      for (let k = 0; k < width; k++) meanError += (mean[k]! / perClass - dataset.centres.data[label * width + k]!) ** 2;
      // Each coordinate's mean has standard error sigma / sqrt(n) = 0.125; its RMS error over 20 coordinates
      // stays well inside twice that. The noise std over 8000 draws has a relative standard error below 1%.
      expect(Math.sqrt(meanError / width)).toBeLessThan((2 * sigma) / Math.sqrt(perClass));
      expect(Math.sqrt(squares / (perClass * width))).toBeGreaterThan(sigma * 0.97);
      expect(Math.sqrt(squares / (perClass * width))).toBeLessThan(sigma * 1.03);
    }
  });

  it('makes the reference perfect when the clusters barely overlap', async () => {
    const dataset = await generate(8, {
      classes: 7,
      sigma: 0.01,
      inputWidth: 10,
      trainPerClass: 1,
      validationPerClass: 1,
      testPerClass: 20,
    });
    expect(accuracy(dataset.test.labels, dataset.reference.testPredictions)).toBe(1);
  });

  it("gives a Bayes accuracy of about 0.93-0.96 for 10 classes, sigma 3, 300 dims (the seed's setting)", async () => {
    for (const seed of [0, 1]) {
      const dataset = await generate(seed, { classes: 10, inputWidth: 300, trainPerClass: 1, validationPerClass: 1, testPerClass: 300 });
      const bayes = accuracy(dataset.test.labels, dataset.reference.testPredictions);
      expect(bayes, `seed ${seed}`).toBeGreaterThan(0.93);
      expect(bayes, `seed ${seed}`).toBeLessThan(0.96);
    }
  });

  it('sizes the validation split by validationRows, cycling through the classes, and leaves the other splits alone', async () => {
    const base = await generate(6, small);
    const fewer = await generate(6, { ...small, validationRows: 3 });
    const more = await generate(6, { ...small, validationRows: 13 });
    expect(Array.from(fewer.validation.labels)).toEqual([0, 1, 2]);
    expect(Array.from(more.validation.labels)).toEqual(Array.from({ length: 13 }, (_, i) => i % 4));
    // validationPerClass no longer counts; the rows are the first of the same stream.
    expect(bytes(fewer.validation).equals(bytes(base.validation).subarray(0, 3 * 6 * 4))).toBe(true);
    expect(bytes(fewer.train).equals(bytes(base.train))).toBe(true);
    expect(bytes(fewer.test).equals(bytes(base.test))).toBe(true);
    expect(fewer.info).toMatchObject({ perClass: { train: 5, validation: 0.75, test: 2 }, rows: { train: 20, validation: 3, test: 8 } });
  });

  it('computes the reference on onnxruntime for large data, with the same predictions as the plain loop', async () => {
    const options = { classes: 2_000, sigma: 2.5, inputWidth: 300, trainPerClass: 1, validationRows: 1, testPerClass: 2 };
    expect(options.classes * options.testPerClass * options.classes * options.inputWidth).toBeGreaterThanOrEqual(REFERENCE_SCAN_FROM);
    const dataset = await generate(4, options);
    expect(dataset.reference.testPredictions).toEqual(nearestCentre(dataset.test.features, dataset.centres));
    const bayes = accuracy(dataset.test.labels, dataset.reference.testPredictions);
    expect(bayes).toBeGreaterThan(0.5);
    expect(bayes).toBeLessThan(1);
  });

  it('refuses class centres too large to allocate as a usage error, like a split, before drawing anything', async () => {
    const progress: number[] = [];
    const run = generateGaussianDataset(createRng(0), GaussianOptionsSchema.parse({ classes: 100_000_000, sigma: 1 }), {
      progress: (done) => progress.push(done),
    });
    await expect(run).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message:
        'the class centres of 100000000 rows x 300 columns (111.8 GiB) cannot be allocated; lower the number of classes or the input width',
    });
    expect(progress).toEqual([]);
  });

  it('refuses a split too large to allocate before any split is generated', async () => {
    const progress: number[] = [];
    const options = GaussianOptionsSchema.parse({ ...small, inputWidth: 300, testPerClass: 2 ** 30 });
    await expect(generateGaussianDataset(createRng(0), options, { progress: (done) => progress.push(done) })).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message:
        'a split of 4294967296 rows x 300 columns (4800.0 GiB) cannot be allocated; lower the per-class size (or validationRows) or the input width',
    });
    expect(progress).toEqual([]);
  });

  it('makes the task harder as sigma grows', async () => {
    const at = async (sigma: number) => {
      const dataset = await generate(2, { classes: 10, sigma, inputWidth: 50, trainPerClass: 1, validationPerClass: 1, testPerClass: 200 });
      return accuracy(dataset.test.labels, dataset.reference.testPredictions);
    };
    const [low, mid, high] = [await at(0.5), await at(2), await at(5)];
    expect(low).toBeGreaterThan(mid);
    expect(mid).toBeGreaterThan(high);
    expect(high).toBeGreaterThan(0.1); // still better than chance
  });
});

describe('gaussian dataset plugin', () => {
  it('generates from validated options with the context rng, reporting progress', async () => {
    const options = resolveOptions(gaussianDataset, {
      classes: 10,
      inputWidth: 8,
      trainPerClass: 3,
      validationPerClass: 2,
      testPerClass: 2,
    });
    const seen: number[] = [];
    const dataset = await gaussianDataset.generate(
      { seed: 9, rng: createRng(9), progress: (done, total) => seen.push(done / total) },
      options,
    );
    const again = await gaussianDataset.generate({ seed: 9, rng: createRng(9) }, options);
    expect(gaussianDataset.kind).toBe('dataset');
    expect(gaussianDataset.name).toBe('gaussian');
    expect(dataset.train.features.rows).toBe(30);
    expect(bytes(dataset.test).equals(bytes(again.test))).toBe(true);
    expect(seen.at(-1)).toBe(1);
    expect(seen.every((fraction, i) => i === 0 || fraction >= seen[i - 1]!)).toBe(true);
  });

  it("gives the core class-mean baseline's predictions, on onnxruntime for large data", async () => {
    const options = resolveOptions(gaussianDataset, { classes: 2_000, sigma: 2, trainPerClass: 3, validationRows: 1, testPerClass: 2 });
    const ctx = { seed: 2, rng: createRng(2), threads: 1 };
    const dataset = await gaussianDataset.generate(ctx, options);
    const { train, test } = dataset;
    expect(test.labels.length * 2_000 * 300).toBeGreaterThanOrEqual(REFERENCE_SCAN_FROM);
    const plain = nearestClassMeanPredictions(train, test.features, 2_000);
    expect(await gaussianDataset.classMeanPredictions!(ctx, train, test.features, 2_000)).toEqual(plain);
    const small = test.features.rows / 8;
    const few = { ...test.features, rows: small, data: test.features.data.subarray(0, small * 300) };
    expect(await gaussianDataset.classMeanPredictions!(ctx, train, few, 2_000)).toEqual(plain.subarray(0, small));
    const correct = test.labels.filter((label, i) => label === plain[i]).length;
    expect(correct).toBeGreaterThan(0);
    expect(correct).toBeLessThan(test.labels.length);
  });

  it('stops with E_ABORTED when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const options = resolveOptions(gaussianDataset, { classes: 10 });
    await expect(async () =>
      gaussianDataset.generate({ seed: 0, rng: createRng(0), signal: controller.signal }, options),
    ).rejects.toMatchObject({
      code: ErrorCode.Aborted,
    });
  });

  it('refuses options that skipped validation and lack a usable sigma', async () => {
    await expect(
      generateGaussianDataset(createRng(0), { classes: 37, inputWidth: 2, trainPerClass: 1, validationPerClass: 1, testPerClass: 1 }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidOptions, message: expect.stringMatching(/pass sigma/) });
  });
});
