import { describe, expect, it } from 'vitest';
import { ErrorCode } from './errors.js';
import {
  constantsUsed,
  foldHeadExpr,
  h,
  HEAD_NORM_FLOOR,
  HEAD_OP_TABLE,
  HEAD_OPS,
  HEAD_SQUARED_NORM_FLOOR,
  headExprChildren,
  headOpFields,
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
  sampledRows: h.sampledRows(x),
  sampledLabels: h.sampledLabels(),
  oneHot: h.oneHot(i, 5),
  rowSum: h.rowSum(x),
  mean: h.mean(x),
};

describe('the head operation table', () => {
  it('has one entry per operation, and HEAD_OPS lists them', () => {
    expect(new Set(HEAD_OPS)).toEqual(new Set(Object.keys(examples)));
    expect(HEAD_OPS).toHaveLength(Object.keys(HEAD_OP_TABLE).length);
  });

  it.each(HEAD_OPS.map((op) => [op]))('names every field of %s: sub-expressions, numbers, strings and lists', (op) => {
    const spec = HEAD_OP_TABLE[op];
    const isExpr = (value: unknown) => typeof value === 'object' && value !== null && 'op' in value;
    // Each example, and for a parameter its other forms, shows every field that is not optional.
    const forms = op === 'param' ? [examples.param, h.param('w', { shape: [2, 3], init: 'glorotUniform' })] : [examples[op]];
    const seen = { children: new Set<string>(), numbers: new Set<string>(), strings: new Set<string>(), lists: new Set<string>() };
    for (const form of forms) {
      const node = form as unknown as Record<string, unknown>;
      const fields = Object.keys(node).filter((key) => key !== 'op');
      for (const key of fields) {
        const value = node[key];
        const kind = isExpr(value) ? 'children' : typeof value === 'number' ? 'numbers' : typeof value === 'string' ? 'strings' : 'lists';
        seen[kind].add(key);
      }
      const required = [...spec.children, ...spec.numbers, ...spec.strings, ...spec.lists].filter(
        (key) => !(spec.optional as readonly string[]).includes(key),
      );
      for (const key of required) expect(fields, `${op}.${key}`).toContain(key);
    }
    expect(new Set<string>(spec.children)).toEqual(seen.children);
    expect(new Set<string>(spec.numbers)).toEqual(seen.numbers);
    expect(new Set<string>(spec.strings)).toEqual(seen.strings);
    expect(new Set<string>(spec.lists)).toEqual(seen.lists);
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
