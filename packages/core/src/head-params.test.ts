import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode } from './errors.js';
import { h, type HeadDefinition, type HeadExpr } from './head-graph.js';
import {
  bindHeadParams,
  HEAD_PARAM_WEIGHT_PREFIX,
  headParams,
  headParamsFromWeights,
  headParamWeights,
  startHeadParams,
} from './head-params.js';
import { evaluateHeadExpr } from './head-reference.js';
import { defineHead } from './plugins.js';
import { createRng } from './rng.js';

const x = h.output();
const i = h.labels();
const invalid = (message: RegExp) => expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });

describe('scalar head parameters', () => {
  const scale = h.param('scale', 16);
  const logits = h.mul(scale, h.matmulTransposed(h.l2normalize(x), h.constant('p')));
  const head: HeadDefinition = {
    outputUnits: 2,
    loss: h.mean(h.neg(h.pickPerRow(h.logSoftmax(h.sub(logits, h.param('shift', 0))), i))),
    scores: h.softmax(logits),
    scoresName: 'probabilities',
    constants: {},
  };

  it('lists each parameter once with its shape and start, loss first', () => {
    expect([...headParams(head)]).toEqual([
      ['scale', { name: 'scale', shape: [], value: 16 }],
      ['shift', { name: 'shift', shape: [], value: 0 }],
    ]);
    expect(headParams({ loss: h.mean(x), scores: x }).size).toBe(0);
  });

  it('refuses a parameter without a finite initial value, naming it', () => {
    const missing = { op: 'param', name: 'temperature' } as unknown as HeadExpr;
    expect(() => headParams({ loss: h.mean(h.mul(missing, x)), scores: x })).toThrow(
      invalid(/^head parameter "temperature" has no initial value$/),
    );
    expect(() => headParams({ loss: h.mean(x), scores: h.mul(h.param('t', Number.NaN), x) })).toThrow(
      invalid(/head parameter "t" has the initial value NaN, which is not a finite number/),
    );
    expect(() => headParams({ loss: h.mean(x), scores: { op: 'param', value: 1 } as unknown as HeadExpr })).toThrow(invalid(/has no name/));
    expect(() => headParams({ loss: h.mean(h.param('s', 1)), scores: h.mul(h.param('s', 2), x) })).toThrow(
      invalid(/"s" starts at 1 in one place and at 2 in another/),
    );
  });

  it('is refused when the head is built, tagged with the head plugin', () => {
    const careless = defineHead({
      name: 'careless',
      summary: 'a head whose parameter has no initial value',
      options: z.strictObject({}),
      usesPrototypes: false,
      build: () => ({ ...head, scores: h.mul({ op: 'param', name: 'temperature' } as unknown as HeadExpr, x) }),
    });
    expect(() => careless.build({ classes: 2 }, {})).toThrow(invalid(/head parameter "temperature" has no initial value/));
    expect(() => careless.build({ classes: 2 }, {})).toThrow(expect.objectContaining({ pluginId: 'head:careless' }));
  });

  it('binds values by name beside the expressions, which stay as they were; evaluation reads them', () => {
    const trained = bindHeadParams(head, { scale: 30 });
    expect(trained.params).toEqual({ scale: Float32Array.of(30) });
    expect(trained.scores).toBe(head.scores);
    expect(trained.loss).toBe(head.loss);
    expect(head.params).toBeUndefined();
    const inputs = {
      output: { rows: 1, cols: 2, data: Float64Array.of(3, 4) },
      constants: { p: { rows: 2, cols: 2, data: Float32Array.of(1, 0, 0, 1) } },
    };
    // cos = [0.6, 0.8]; logits 30 * cos = [18, 24]; softmax = [1, e^6] / (1 + e^6).
    const [first, second] = evaluateHeadExpr(trained.scores, { ...inputs, params: trained.params }).data;
    expect(first).toBeCloseTo(1 / (1 + Math.exp(6)), 14);
    expect(second).toBeCloseTo(Math.exp(6) / (1 + Math.exp(6)), 14);
    // Without the bound values the start (16) is read: [9.6, 12.8].
    expect(evaluateHeadExpr(trained.scores, inputs).data[0]).toBeCloseTo(1 / (1 + Math.exp(3.2)), 14);
    // A second binding keeps the first one's other values.
    expect(bindHeadParams(trained, { shift: 1 }).params).toEqual({ scale: Float32Array.of(30), shift: Float32Array.of(1) });
  });

  it('refuses a value for a parameter the head does not have, or a non-finite value', () => {
    expect(() => bindHeadParams(head, { temperature: 1 })).toThrow(/the head has no parameter "temperature" \(has: scale, shift\)/);
    expect(() => bindHeadParams(head, { scale: Number.POSITIVE_INFINITY })).toThrow(/head parameter "scale" was given Infinity/);
    expect(() => bindHeadParams(head, { scale: [1, 2] })).toThrow(/head parameter "scale" of shape \[\] was given 2 values, expected 1/);
  });

  it('travel among named weights as head/param/<name> scalars, and come back by name', () => {
    expect(HEAD_PARAM_WEIGHT_PREFIX).toBe('head/param/');
    const weights = headParamWeights(bindHeadParams(head, { scale: 20 }), { shift: 0.5 });
    expect(weights).toEqual([
      { name: 'head/param/scale', shape: [], data: Float32Array.of(20) },
      { name: 'head/param/shift', shape: [], data: Float32Array.of(0.5) },
    ]);
    const trunk = { name: 'trunk/dense0/kernel', shape: [1, 1], data: Float32Array.of(3) };
    expect(headParamsFromWeights([trunk, ...weights])).toEqual({ scale: Float32Array.of(20), shift: Float32Array.of(0.5) });
    expect(headParamWeights({ loss: h.mean(x), scores: x })).toEqual([]);
  });
});

describe('tensor head parameters', () => {
  const classes = 3;
  const dims = 4;
  const classifier = h.param('classifier', { shape: [classes, dims], init: 'glorotUniform' });
  const bias = h.param('bias', { shape: [classes], init: 'zeros' });
  const logits = h.add(h.matmulTransposed(x, classifier), bias);
  const head: HeadDefinition = {
    outputUnits: dims,
    loss: h.mean(h.neg(h.pickPerRow(h.logSoftmax(logits), i))),
    scores: h.softmax(logits),
    scoresName: 'probabilities',
    constants: {},
  };

  it('are described by name, shape and how they start', () => {
    expect(h.param('b', { shape: [2], value: 0.5 })).toEqual({ op: 'param', name: 'b', shape: [2], value: 0.5 });
    expect([...headParams(head).values()]).toEqual([
      { name: 'classifier', shape: [3, 4], init: 'glorotUniform' },
      { name: 'bias', shape: [3], init: 'zeros' },
    ]);
  });

  it('refuses an unusable shape or start, naming the parameter', () => {
    const node = (fields: Record<string, unknown>) => ({ op: 'param', name: 'w', ...fields }) as unknown as HeadExpr;
    const check = (fields: Record<string, unknown>, message: RegExp) =>
      expect(() => headParams({ loss: h.mean(node(fields)), scores: x })).toThrow(invalid(message));
    check({ shape: [3, 0], init: 'zeros' }, /head parameter "w" has the shape \[3,0\], which is not a list of positive integers/);
    check({ shape: 'big', init: 'zeros' }, /head parameter "w" has the shape "big"/);
    check({ shape: [3], init: 'he' }, /head parameter "w" has the init "he"; known: glorotUniform, zeros/);
    check(
      { shape: [3], init: 'glorotUniform' },
      /"w" draws glorotUniform values, which need a matrix shape \[fan out, fan in\]; it has the shape \[3\]/,
    );
    check({ shape: [3], init: 'zeros', value: 1 }, /head parameter "w" has both a value \(1\) and an init \(zeros\)/);
    check({ shape: [3] }, /^head parameter "w" has no initial value$/);
    expect(() =>
      headParams({
        loss: h.mean(h.param('w', { shape: [2, 2], init: 'glorotUniform' })),
        scores: h.param('w', { shape: [2], init: 'zeros' }),
      }),
    ).toThrow(invalid(/"w" starts from glorotUniform with shape \[2, 2\] in one place and from zeros with shape \[2\] in another/));
  });

  it('have no values before training when drawn, and say so; zeros and fills have theirs', () => {
    expect(() => headParamWeights(head)).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidInput,
        message: 'head parameter "classifier" starts from glorotUniform values drawn when training starts, and no values were given',
        hint: expect.stringMatching(/bindHeadParams/),
      }),
    );
    const start = { loss: h.mean(h.param('b', { shape: [2], value: 0.25 })), scores: h.param('z', { shape: [1, 2], init: 'zeros' }) };
    expect(headParamWeights(start)).toEqual([
      { name: 'head/param/b', shape: [2], data: Float32Array.of(0.25, 0.25) },
      { name: 'head/param/z', shape: [1, 2], data: Float32Array.of(0, 0) },
    ]);
  });

  it('start Glorot-uniform from the generator given (the same seed, the same values), zeros as zeros', () => {
    const started = (seed: number) => headParamWeights(startHeadParams(head, createRng(seed).fork('head-params')));
    const [first, again, other] = [started(3), started(3), started(4)];
    expect(first.map((w) => [w.name, w.shape])).toEqual([
      ['head/param/classifier', [3, 4]],
      ['head/param/bias', [3]],
    ]);
    expect(again).toEqual(first);
    expect([...other[0]!.data]).not.toEqual([...first[0]!.data]);
    expect([...first[1]!.data]).toEqual([0, 0, 0]);
    // Glorot-uniform: inside +-sqrt(6 / (3 + 4)), not all of one sign, the same draws as the generator's uniforms.
    const limit = Math.sqrt(6 / 7);
    const draws = createRng(3).fork('head-params').fillUniform(new Float32Array(12), -limit, limit);
    expect([...first[0]!.data]).toEqual([...draws]);
    expect(first[0]!.data.every((v) => Math.abs(v) <= limit)).toBe(true);
    expect(first[0]!.data.some((v) => v > 0) && first[0]!.data.some((v) => v < 0)).toBe(true);
  });

  it('start from bound values where the head has them, drawing nothing for those', () => {
    const bound = bindHeadParams(head, { classifier: new Float32Array(12).fill(0.5) });
    const start = startHeadParams(bound, createRng(3));
    expect([...start.params!.classifier!]).toEqual(new Array(12).fill(0.5));
    expect([...start.params!.bias!]).toEqual([0, 0, 0]);
    expect(start.scores).toBe(head.scores);
  });

  it('bind and evaluate in their shape; a wrong count or a non-finite value is refused', () => {
    const values = Float32Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0);
    const trained = bindHeadParams(head, { classifier: values, bias: [0, 0, 10] });
    expect(trained.params!.classifier).toBe(values);
    const output = { rows: 1, cols: 4, data: Float64Array.of(1, 2, 3, 4) };
    // logits [1, 2, 13]: class 2 wins by far.
    const scores = evaluateHeadExpr(trained.scores, { output, params: trained.params }).data;
    expect(scores[2]).toBeCloseTo(Math.exp(13) / (Math.exp(1) + Math.exp(2) + Math.exp(13)), 12);
    expect(() => bindHeadParams(head, { classifier: new Float32Array(11) })).toThrow(
      invalid(/head parameter "classifier" of shape \[3, 4\] was given 11 values, expected 12/),
    );
    expect(() => bindHeadParams(head, { bias: [0, Number.NaN, 0] })).toThrow(invalid(/head parameter "bias" was given NaN at index 1/));
    expect(() => bindHeadParams(head, { bias: 2 })).toThrow(invalid(/head parameter "bias" of shape \[3\] was given one number/));
    expect(headParamsFromWeights(headParamWeights(trained)).classifier).toBe(values);
  });
});
