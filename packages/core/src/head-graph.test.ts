import { describe, expect, it } from 'vitest';
import { evaluateHeadExpr } from './head-reference.js';
import { defineHead } from './plugins.js';
import { z } from 'zod';
import { ErrorCode } from './errors.js';
import {
  bindHeadParams,
  constantsUsed,
  foldHeadExpr,
  h,
  HEAD_NORM_FLOOR,
  HEAD_OP_TABLE,
  HEAD_OPS,
  HEAD_SQUARED_NORM_FLOOR,
  headExprChildren,
  headOpFields,
  headParams,
  headParamsFromWeights,
  headParamWeights,
  HEAD_PARAM_WEIGHT_PREFIX,
  type HeadDefinition,
  type HeadExpr,
  type HeadOp,
} from './head-graph.js';

const x = h.output();
const i = h.labels();
/** One expression per operation, made by the builders: what the table must describe. */
const examples: Record<HeadOp, HeadExpr> = {
  output: x,
  labels: i,
  constant: h.constant('c'),
  scalar: h.scalar(1),
  param: h.param('scale', 16),
  add: h.add(x, i),
  sub: h.sub(x, i),
  mul: h.mul(x, i),
  div: h.div(x, i),
  neg: h.neg(x),
  exp: h.exp(x),
  log: h.log(x),
  pow: h.pow(x, 3),
  matmulTransposed: h.matmulTransposed(x, i),
  l2normalize: h.l2normalize(x),
  softmax: h.softmax(x),
  logSoftmax: h.logSoftmax(x),
  gatherRows: h.gatherRows(x, i),
  pickPerRow: h.pickPerRow(x, i),
  oneHot: h.oneHot(i, 5),
  rowSum: h.rowSum(x),
  mean: h.mean(x),
};

describe('the head operation table', () => {
  it('has one entry per operation, and HEAD_OPS lists them', () => {
    expect(new Set(HEAD_OPS)).toEqual(new Set(Object.keys(examples)));
    expect(HEAD_OPS).toHaveLength(Object.keys(HEAD_OP_TABLE).length);
  });

  it.each(HEAD_OPS.map((op) => [op]))('names every field of %s: sub-expressions, numbers and strings', (op) => {
    const node = examples[op] as unknown as Record<string, unknown>;
    const fields = Object.keys(node).filter((key) => key !== 'op');
    const isExpr = (value: unknown) => typeof value === 'object' && value !== null && 'op' in value;
    const spec = HEAD_OP_TABLE[op];
    expect(new Set<string>(spec.children)).toEqual(new Set(fields.filter((key) => isExpr(node[key]))));
    expect(new Set<string>(spec.numbers)).toEqual(new Set(fields.filter((key) => typeof node[key] === 'number')));
    expect(new Set<string>(spec.strings)).toEqual(new Set(fields.filter((key) => typeof node[key] === 'string')));
  });

  it('gives children in evaluation order: a then b, x then indices', () => {
    expect(headExprChildren(h.sub(x, i))).toEqual([x, i]);
    expect(headExprChildren(h.gatherRows(i, x))).toEqual([i, x]);
    expect(headExprChildren(h.scalar(2))).toEqual([]);
  });

  it('refuses an operation outside the vocabulary with E_INVALID_INPUT', () => {
    const invalid = expect.objectContaining({ code: ErrorCode.InvalidInput, message: 'unknown head operation "cosh"' });
    expect(() => headExprChildren({ op: 'cosh', x } as unknown as HeadExpr)).toThrow(invalid);
    expect(() => headOpFields('toString')).toThrow(/unknown head operation "toString"/);
  });

  it('folds children first, visiting a shared sub-expression once', () => {
    const shared = h.l2normalize(x);
    const visited: string[] = [];
    const count = foldHeadExpr<number>(h.add(shared, h.mul(shared, h.scalar(2))), (node, children) => {
      visited.push(node.op);
      return 1 + children.reduce((a, b) => a + b, 0);
    });
    expect(visited).toEqual(['output', 'l2normalize', 'scalar', 'mul', 'add']);
    // The reused result counts the shared branch on both paths.
    expect(count).toBe(7);
  });

  it('finds the constants an expression uses', () => {
    const expr = h.matmulTransposed(h.gatherRows(h.constant('a'), i), h.add(h.constant('b'), h.constant('a')));
    expect(constantsUsed(expr)).toEqual(new Set(['a', 'b']));
  });

  it('floors the norm at 1e-12, the squared norm at exactly 1e-24', () => {
    expect(HEAD_NORM_FLOOR).toBe(1e-12);
    expect(HEAD_SQUARED_NORM_FLOOR).toBe(1e-24);
    expect(Math.sqrt(HEAD_SQUARED_NORM_FLOOR)).toBe(HEAD_NORM_FLOOR);
  });
});

describe('head parameters', () => {
  const scale = h.param('scale', 16);
  const logits = h.mul(scale, h.matmulTransposed(h.l2normalize(x), h.constant('p')));
  const head: HeadDefinition = {
    outputUnits: 2,
    loss: h.mean(h.neg(h.pickPerRow(h.logSoftmax(h.sub(logits, h.param('shift', 0))), i))),
    scores: h.softmax(logits),
    scoresName: 'probabilities',
    constants: {},
  };

  it('lists each parameter once with its starting value, loss first', () => {
    expect([...headParams(head)]).toEqual([
      ['scale', 16],
      ['shift', 0],
    ]);
    expect(headParams({ loss: h.mean(x), scores: x }).size).toBe(0);
  });

  it('refuses a parameter without a finite initial value, naming it', () => {
    const invalid = (message: RegExp) => expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });
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
    expect(() => careless.build({ classes: 2 }, {})).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidInput,
        message: expect.stringMatching(/head parameter "temperature" has no initial value/),
      }),
    );
    expect(() => careless.build({ classes: 2 }, {})).toThrow(expect.objectContaining({ pluginId: 'head:careless' }));
  });

  it('binds values by name: evaluation reads them, sharing is kept, the original is untouched', () => {
    const trained = bindHeadParams(head, { scale: 30 });
    expect([...headParams(trained)]).toEqual([
      ['scale', 30],
      ['shift', 0],
    ]);
    expect([...headParams(head)][0]).toEqual(['scale', 16]);
    const inputs = {
      output: { rows: 1, cols: 2, data: Float64Array.of(3, 4) },
      constants: { p: { rows: 2, cols: 2, data: Float32Array.of(1, 0, 0, 1) } },
    };
    // cos = [0.6, 0.8]; logits 30 * cos = [18, 24]; softmax = [1, e^6] / (1 + e^6).
    const [first, second] = evaluateHeadExpr(trained.scores, inputs).data;
    expect(first).toBeCloseTo(1 / (1 + Math.exp(6)), 14);
    expect(second).toBeCloseTo(Math.exp(6) / (1 + Math.exp(6)), 14);
    // One logits node still serves the loss and the scores.
    const field = (e: HeadExpr, name: 'a' | 'x') => (e as unknown as Record<string, HeadExpr>)[name]!;
    // loss = mean(neg(pickPerRow(logSoftmax(sub(logits, shift)), labels))); scores = softmax(logits).
    const lossLogits = field(field(field(field(field(trained.loss, 'x'), 'x'), 'x'), 'x'), 'a');
    expect(field(trained.scores, 'x')).toBe(lossLogits);
    // A head without the parameter is returned unchanged where nothing changed.
    expect(bindHeadParams(head, {}).scores).toBe(head.scores);
  });

  it('refuses a value for a parameter the head does not have, or a non-finite value', () => {
    expect(() => bindHeadParams(head, { temperature: 1 })).toThrow(/the head has no parameter "temperature" \(has: scale, shift\)/);
    expect(() => bindHeadParams(head, { scale: Number.POSITIVE_INFINITY })).toThrow(/head parameter "scale" was given Infinity/);
  });

  it('travel among named weights as head/param/<name> scalars, and come back by name', () => {
    expect(HEAD_PARAM_WEIGHT_PREFIX).toBe('head/param/');
    const weights = headParamWeights(head, { shift: 0.5 });
    expect(weights).toEqual([
      { name: 'head/param/scale', shape: [], data: Float32Array.of(16) },
      { name: 'head/param/shift', shape: [], data: Float32Array.of(0.5) },
    ]);
    const trunk = { name: 'trunk/dense0/kernel', shape: [1, 1], data: Float32Array.of(3) };
    expect(headParamsFromWeights([trunk, ...weights])).toEqual({ scale: 16, shift: 0.5 });
    expect(headParamWeights({ loss: h.mean(x), scores: x })).toEqual([]);
  });
});
