import { createMatrix, createRng, ErrorCode, evaluateHeadExpr, headParams, resolveOptions, type HeadBuildInput } from '@hyperproto/core';
import { headValues } from '@hyperproto/plugin-testing';
import { describe, expect, it } from 'vitest';
import cosineSoftmaxHeadDefault, { cosineSoftmaxHead, DEFAULT_SCALE, LOG_SCALE_PARAM, PROTOTYPES_CONSTANT } from './index.js';

/** Builds through the options schema, as the pipeline does: defaults filled in. */
const build = (input: HeadBuildInput, options: Record<string, unknown>) =>
  cosineSoftmaxHead.build(input, resolveOptions(cosineSoftmaxHead, options));

/** Two axis prototypes in 2-D: the cosines of output [3, 4] are [0.6, 0.8]. */
const axes = () => createMatrix(2, 2, Float32Array.of(1, 0, 0, 1));

describe('head:cosine-softmax', () => {
  it('is the default export, uses prototypes, and defaults to a fixed scale of 16', () => {
    expect(cosineSoftmaxHeadDefault).toBe(cosineSoftmaxHead);
    expect(cosineSoftmaxHead.name).toBe('cosine-softmax');
    expect(cosineSoftmaxHead.usesPrototypes).toBe(true);
    expect(resolveOptions(cosineSoftmaxHead, {})).toEqual({ scale: 16, learnScale: false, sampledShare: 1 });
    expect(DEFAULT_SCALE).toBe(16);
  });

  it('refuses a scale that is not a positive number, and unknown options', () => {
    for (const scale of [0, -1, 'big', Number.POSITIVE_INFINITY]) {
      expect(() => resolveOptions(cosineSoftmaxHead, { scale })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOptions, message: expect.stringMatching(/^head:cosine-softmax scale: /) }),
      );
    }
    expect(() => resolveOptions(cosineSoftmaxHead, { learnScale: 'yes' })).toThrow(/head:cosine-softmax learnScale/);
    expect(() => resolveOptions(cosineSoftmaxHead, { margin: 0.3 })).toThrow(/head:cosine-softmax/);
  });

  it('is as wide as the prototypes, scores are probabilities, and it ships the prototypes scaled to unit rows', () => {
    const head = build({ classes: 2, prototypes: createMatrix(2, 3, Float32Array.of(3, 0, 4, 0, -2, 0)) }, {});
    expect(head.outputUnits).toBe(3);
    expect(head.scoresName).toBe('probabilities');
    expect([...head.constants[PROTOTYPES_CONSTANT]!.data]).toEqual([...Float32Array.of(0.6, 0, 0.8, 0, -1, 0)]);
    expect(headParams(head).size).toBe(0);
  });

  it('scale 5, output [3, 4] (cosines [0.6, 0.8], logits [3, 4]): loss ln(1 + e) for label 0, ln(1 + 1/e) for label 1', () => {
    const head = build({ classes: 2, prototypes: axes() }, { scale: 5 });
    const zero = headValues(head, [[3, 4]], [0]);
    expect(zero.loss!.value).toBeCloseTo(1.3132616875182228, 12);
    expect(headValues(head, [[3, 4]], [1]).loss!.value).toBeCloseTo(0.31326168751822286, 12);
    // softmax([3, 4]) = [1, e] / (1 + e); the length of the output does not matter, only its direction.
    zero.scores.data.forEach((p, i) => expect(p).toBeCloseTo([0.2689414213699951, 0.7310585786300049][i]!, 12));
    expect(headValues(head, [[30, 40]], [0]).loss!.value).toBeCloseTo(1.3132616875182228, 12);
  });

  it('averages the loss over rows', () => {
    const head = build({ classes: 2, prototypes: axes() }, { scale: 5 });
    const both = headValues(
      head,
      [
        [3, 4],
        [3, 4],
      ],
      [0, 1],
    );
    expect(both.loss!.value).toBeCloseTo((1.3132616875182228 + 0.31326168751822286) / 2, 12);
  });

  it('learnScale trains logScale = ln(scale): the same loss at the start, a larger scale when the parameter grows', () => {
    const head = build({ classes: 2, prototypes: axes() }, { scale: 5, learnScale: true });
    expect([...headParams(head).values()]).toEqual([{ name: LOG_SCALE_PARAM, shape: [], value: Math.log(5) }]);
    expect(headValues(head, [[3, 4]], [0]).loss!.value).toBeCloseTo(1.3132616875182228, 12);
    // s = 10: logits [6, 8], loss ln(1 + e^2) for label 0.
    expect(headValues(head, [[3, 4]], [0], { [LOG_SCALE_PARAM]: Math.log(10) }).loss!.value).toBeCloseTo(2.1269280110429727, 12);
  });

  it('predicts the nearest prototype (largest cosine) for random outputs and prototypes, fixed or learned scale', () => {
    const rng = createRng(3);
    const classes = 7;
    const dims = 5;
    const prototypes = createMatrix(classes, dims, rng.fillNormal(new Float32Array(classes * dims)));
    const rows = 40;
    const output = Array.from({ length: rows }, () => Array.from({ length: dims }, () => rng.normal()));
    for (const options of [{}, { learnScale: true, scale: 0.5 }]) {
      const head = build({ classes, prototypes }, options);
      const scores = headValues(head, output).scores.data;
      output.forEach((row, r) => {
        const cosines = Array.from({ length: classes }, (_, c) => {
          const p = prototypes.data.subarray(c * dims, (c + 1) * dims);
          return row.reduce((sum, x, k) => sum + x * p[k]!, 0) / Math.hypot(...p);
        });
        const rowScores = scores.slice(r * classes, (r + 1) * classes);
        expect(rowScores.indexOf(Math.max(...rowScores))).toBe(cosines.indexOf(Math.max(...cosines)));
      });
    }
  });

  it('refuses missing prototypes, the wrong number of rows, a zero row, non-finite values and fewer than 2 classes', () => {
    const invalid = (message: RegExp) => expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });
    expect(() => build({ classes: 2 }, {})).toThrow(invalid(/the cosine-softmax head needs prototypes/));
    expect(() => build({ classes: 3, prototypes: axes() }, {})).toThrow(invalid(/got 2 prototypes for 3 classes/));
    expect(() => build({ classes: 2, prototypes: createMatrix(2, 2, Float32Array.of(1, 0, 0, 0)) }, {})).toThrow(
      invalid(/prototype 1 of length 0/),
    );
    expect(() => build({ classes: 2, prototypes: createMatrix(2, 2, Float32Array.of(1, Number.NaN, 0, 1)) }, {})).toThrow(
      invalid(/non-finite prototype value at row 0, column 1/),
    );
    expect(() => build({ classes: 1, prototypes: createMatrix(1, 2, Float32Array.of(1, 0)) }, {})).toThrow(
      invalid(/needs at least 2 classes/),
    );
  });

  it('sampledShare below 1: the loss sees the sampled classes, the scores every class; 1 is the unsampled head', () => {
    const prototypes = createMatrix(3, 2, Float32Array.of(1, 0, 0, 1, -1, 0));
    expect(build({ classes: 3, prototypes }, { scale: 5, sampledShare: 1 })).toEqual(build({ classes: 3, prototypes }, { scale: 5 }));
    const plain = build({ classes: 3, prototypes }, { scale: 5 });
    const sampled = build({ classes: 3, prototypes }, { scale: 5, sampledShare: 0.5 });
    expect(sampled.sampledShare).toBe(0.5);
    expect(sampled.scores).toEqual(plain.scores);
    const inputs = { output: { rows: 1, cols: 2, data: Float64Array.of(3, 4) }, constants: sampled.constants, labels: Int32Array.of(1) };
    // Cosines [0.6, 0.8, -0.6], logits [3, 4, -3]; the sample holds classes 2 and 1, label 1 at position 1:
    // -log softmax([-3, 4])[1] = log(1 + e^-7).
    const sample = { classes: Int32Array.of(2, 1), labels: Int32Array.of(1) };
    expect(evaluateHeadExpr(sampled.loss, { ...inputs, sample }).data[0]).toBeCloseTo(0.0009114664537742447, 12);
    // Without a sample: the loss over every class, -log softmax([3, 4, -3])[1].
    expect(evaluateHeadExpr(sampled.loss, inputs).data[0]).toBeCloseTo(0.31392810454667597, 12);
    expect(() => resolveOptions(cosineSoftmaxHead, { sampledShare: 2 })).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidOptions,
        message: 'head:cosine-softmax sampledShare: the share of the classes a training step sees must be in (0, 1], got 2',
      }),
    );
  });

  it('survives a JSON round trip (model files store the expressions)', () => {
    const head = build({ classes: 2, prototypes: axes() }, { learnScale: true });
    const trip = JSON.parse(JSON.stringify({ loss: head.loss, scores: head.scores }));
    expect(trip).toEqual({ loss: head.loss, scores: head.scores });
  });
});
