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
  add: h.add(x, i),
  sub: h.sub(x, i),
  mul: h.mul(x, i),
  neg: h.neg(x),
  pow: h.pow(x, 3),
  matmulTransposed: h.matmulTransposed(x, i),
  l2normalize: h.l2normalize(x),
  softmax: h.softmax(x),
  logSoftmax: h.logSoftmax(x),
  gatherRows: h.gatherRows(x, i),
  pickPerRow: h.pickPerRow(x, i),
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
