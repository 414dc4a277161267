import { describe, expect, it } from 'vitest';
import {
  checkSampledShare,
  ClassSampler,
  headClassSampleSize,
  rowSampledParams,
  sampledClassCount,
  usesClassSample,
} from './class-sampling.js';
import { ErrorCode } from './errors.js';
import { h, type HeadExpr } from './head-graph.js';
import { createMatrix } from './matrix.js';
import { createRng } from './rng.js';

const invalid = (message: RegExp) => expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });

describe('the sampled share and the sample size', () => {
  it('takes a share in (0, 1] and refuses anything else, naming the value', () => {
    expect(checkSampledShare(0.1)).toBe(0.1);
    expect(checkSampledShare(1)).toBe(1);
    for (const share of [0, -0.5, 1.01, Number.NaN, '0.5', undefined]) {
      expect(() => checkSampledShare(share, 'head:bottleneck-softmax')).toThrow(
        invalid(new RegExp(`^head:bottleneck-softmax asks for a sampled share of ${String(share)}, which is outside \\(0, 1\\]$`)),
      );
    }
  });

  it('samples ceil(share x C) classes, at least a batch and at most C', () => {
    expect(sampledClassCount(100_000, 0.01, 128)).toBe(1000);
    expect(sampledClassCount(10_000, 0.1, 128)).toBe(1000);
    expect(sampledClassCount(10_001, 0.1, 128)).toBe(1001);
    // 1% of 10,000 is 100, fewer than a batch's 128 labels can need.
    expect(sampledClassCount(10_000, 0.01, 128)).toBe(128);
    expect(sampledClassCount(50, 0.5, 128)).toBe(50);
    expect(sampledClassCount(50, 1, 8)).toBe(50);
  });
});

describe('which heads sample', () => {
  const classifier = h.param('w', { shape: [10, 3], init: 'glorotUniform' });
  const bias = h.param('b', { shape: [10], init: 'zeros' });
  const sampledLoss = h.mean(
    h.neg(
      h.pickPerRow(h.logSoftmax(h.add(h.matmulTransposed(h.output(), h.sampledRows(classifier)), h.sampledRows(bias))), h.sampledLabels()),
    ),
  );
  const plainLoss = h.mean(h.neg(h.pickPerRow(h.logSoftmax(h.matmulTransposed(h.output(), classifier)), h.labels())));
  const head = (loss: HeadExpr, sampledShare?: number) => ({
    loss,
    constants: {},
    ...(sampledShare === undefined ? {} : { sampledShare }),
  });

  it('a share below 1 with a loss that reads the sample; not a share of 1, none, or a loss without a sample', () => {
    expect(usesClassSample(sampledLoss)).toBe(true);
    expect(usesClassSample(plainLoss)).toBe(false);
    expect(headClassSampleSize(head(sampledLoss, 0.5), 10, 2)).toBe(5);
    expect(headClassSampleSize(head(sampledLoss, 1), 10, 2)).toBeUndefined();
    expect(headClassSampleSize(head(sampledLoss), 10, 2)).toBeUndefined();
    expect(headClassSampleSize(head(plainLoss, 0.5), 10, 2)).toBeUndefined();
    // A batch as large as the classes: every class, no sample.
    expect(headClassSampleSize(head(sampledLoss, 0.5), 10, 16)).toBeUndefined();
  });

  it('refuses a share outside (0, 1] and sampled rows that are not one per class', () => {
    expect(() => headClassSampleSize(head(sampledLoss, 1.5), 10, 2)).toThrow(invalid(/sampled share of 1\.5, which is outside \(0, 1\]/));
    expect(() => headClassSampleSize(head(sampledLoss, 0.5), 12, 2)).toThrow(
      invalid(/samples rows of parameter "w", which has 10 rows for 12 classes/),
    );
    const prototypes = { loss: h.mean(h.sampledRows(h.constant('p'))), constants: { p: createMatrix(3, 2) }, sampledShare: 0.5 };
    expect(() => headClassSampleSize(prototypes, 4, 1)).toThrow(invalid(/samples rows of constant "p", which has 3 rows for 4 classes/));
  });

  it('finds the parameters read only through their sampled rows (whose other rows a step leaves alone)', () => {
    expect(rowSampledParams(sampledLoss)).toEqual(new Set(['w', 'b']));
    expect(rowSampledParams(plainLoss)).toEqual(new Set());
    // Read whole somewhere else too: every row gets a gradient.
    expect(rowSampledParams(h.add(sampledLoss, h.mean(bias)))).toEqual(new Set(['w']));
  });
});

describe('ClassSampler', () => {
  const draws = (seed: number, batches: readonly (readonly number[])[], classes = 50, size = 10) => {
    const sampler = new ClassSampler(classes, size, createRng(seed).fork('class-sample'));
    return batches.map((labels) => {
      const sampled = new Int32Array(size);
      const positions = new Int32Array(labels.length);
      sampler.draw(labels, sampled, positions);
      return { sampled: [...sampled], positions: [...positions] };
    });
  };
  const batches = Array.from({ length: 30 }, (_, b) => Array.from({ length: 6 }, (_, i) => (b * 7 + i * i) % 50));

  it("puts each batch's labels first and every label inside its sample, with distinct classes", () => {
    for (const [b, { sampled, positions }] of draws(1, batches).entries()) {
      const labels = batches[b]!;
      expect(new Set(sampled).size).toBe(10);
      expect(sampled.every((c) => c >= 0 && c < 50)).toBe(true);
      labels.forEach((label, i) => expect(sampled[positions[i]!]).toBe(label));
      const distinct = [...new Set(labels)];
      expect(sampled.slice(0, distinct.length)).toEqual(distinct);
    }
  });

  it('gives the same samples for the same seed, others for another', () => {
    expect(draws(1, batches)).toEqual(draws(1, batches));
    expect(draws(2, batches)).not.toEqual(draws(1, batches));
  });

  it('samples the other classes uniformly', () => {
    // One label (class 0) per batch, 9 others drawn from 49: each other class about 9/49 of the time.
    const sampler = new ClassSampler(50, 10, createRng(3));
    const counts = new Array<number>(50).fill(0);
    const sampled = new Int32Array(10);
    const trials = 20_000;
    for (let t = 0; t < trials; t++) {
      sampler.draw([0], sampled, new Int32Array(1));
      for (const c of sampled) counts[c]!++;
    }
    expect(counts[0]).toBe(trials);
    const expected = (trials * 9) / 49;
    // Binomial sd = sqrt(trials p (1 - p)), about 55: within 5 sd.
    for (const count of counts.slice(1)) expect(Math.abs(count - expected)).toBeLessThan(5 * 55);
  });

  it('writes a batch at its place in a run of several', () => {
    const sampler = new ClassSampler(20, 4, createRng(5));
    const sampled = new Int32Array(8).fill(-1);
    const positions = new Int32Array(4).fill(-1);
    sampler.draw([7, 7], sampled, positions, 4, 2);
    expect([...sampled.subarray(0, 4)]).toEqual([-1, -1, -1, -1]);
    expect(sampled[4]).toBe(7);
    expect([...positions]).toEqual([-1, -1, 0, 0]);
  });

  it('refuses a label out of range, more distinct labels than the sample holds, and an impossible size', () => {
    const sampler = new ClassSampler(5, 2, createRng(1));
    expect(() => sampler.draw([5], new Int32Array(2), new Int32Array(1))).toThrow(invalid(/label 5 is out of range for 5 classes/));
    expect(() => sampler.draw([0, 1, 2], new Int32Array(2), new Int32Array(3))).toThrow(
      invalid(/a batch has more than 2 distinct labels, the class sample's size/),
    );
    expect(() => new ClassSampler(5, 6, createRng(1))).toThrow(invalid(/a class sample of 6 out of 5 classes/));
  });
});
