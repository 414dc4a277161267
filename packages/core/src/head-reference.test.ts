import { describe, expect, it } from 'vitest';
import { ErrorCode } from './errors.js';
import { h, HEAD_OPS, type HeadExpr, type HeadOp } from './head-graph.js';
import { evaluateHeadExpr, type HeadReferenceInputs } from './head-reference.js';
import { createMatrix } from './matrix.js';

const matrix = (rows: number[][]) => ({ rows: rows.length, cols: rows[0]!.length, data: Float64Array.from(rows.flat()) });
const run = (expr: HeadExpr, inputs: Partial<HeadReferenceInputs> = {}) => evaluateHeadExpr(expr, { output: matrix([[0]]), ...inputs });
const values = (expr: HeadExpr, inputs: Partial<HeadReferenceInputs> = {}) => {
  const { shape, data } = run(expr, inputs);
  return { shape, data: [...data] };
};
const close = (actual: readonly number[], expected: readonly number[]) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 12));
};

describe('evaluateHeadExpr', () => {
  it('takes a log-softmax and a softmax along rows: [0, ln 2] is [-ln 3, ln 2 - ln 3] and [1/3, 2/3]', () => {
    const output = matrix([
      [0, Math.LN2],
      [1000, 1000],
    ]);
    const log = run(h.logSoftmax(h.output()), { output });
    expect(log.shape).toEqual([2, 2]);
    // ln 3 = 1.0986122886681098, ln 2 = 0.6931471805599453; the second row is large, equal values: ln(1/2) each.
    close([...log.data], [-1.0986122886681098, -0.4054651081081645, -Math.LN2, -Math.LN2]);
    close([...run(h.softmax(h.output()), { output }).data], [1 / 3, 2 / 3, 0.5, 0.5]);
  });

  it('gives the softmax cross-entropy: rows [0, ln 2] with label 1 and [0, 0] with label 0 average (ln 1.5 + ln 2) / 2 = ln 3 / 2', () => {
    const loss = h.mean(h.neg(h.pickPerRow(h.logSoftmax(h.output()), h.labels())));
    const result = values(loss, {
      output: matrix([
        [0, Math.LN2],
        [0, 0],
      ]),
      labels: Int32Array.of(1, 0),
    });
    expect(result.shape).toEqual([]);
    expect(result.data[0]).toBeCloseTo(0.5493061443340549, 14);
  });

  it('gives the HPN loss (1 - cos)^2 and cosine scores on a 2 x 2 case', () => {
    // Row [3, 4] is at cosine 0.6 to its prototype e0: (0.4)^2 = 0.16; row [0, -2] is opposite e1: (1 - -1)^2 = 4.
    const prototypes = createMatrix(2, 2, Float32Array.of(1, 0, 0, 1));
    const inputs = {
      output: matrix([
        [3, 4],
        [0, -2],
      ]),
      labels: Int32Array.of(0, 1),
      constants: { prototypes },
    };
    const unit = h.l2normalize(h.output());
    const loss = h.mean(h.pow(h.sub(h.scalar(1), h.rowSum(h.mul(unit, h.gatherRows(h.constant('prototypes'), h.labels())))), 2));
    expect(values(loss, inputs).data[0]).toBeCloseTo(2.08, 14);
    const scores = values(h.matmulTransposed(unit, h.constant('prototypes')), inputs);
    expect(scores.shape).toEqual([2, 2]);
    close(scores.data, [0.6, 0.8, 0, -1]);
  });

  it('floors the norm at 1e-12: a zero row stays zero, a row of norm 1e-13 is scaled by 1e12', () => {
    const result = values(h.l2normalize(h.output()), {
      output: matrix([
        [0, 0],
        [1e-13, 0],
        [0, -5],
      ]),
    });
    close(result.data, [0, 0, 0.1, 0, 0, -1]);
  });

  it('broadcasts a scalar with anything and a [K] vector over every row of [N, K]', () => {
    const output = matrix([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(values(h.sub(h.scalar(10), h.output()), { output })).toEqual({ shape: [2, 3], data: [9, 8, 7, 6, 5, 4] });
    expect(values(h.mul(h.output(), h.scalar(2)), { output }).data).toEqual([2, 4, 6, 8, 10, 12]);
    // A [1, 3] constant repeats along the rows.
    const offsets = { offsets: createMatrix(1, 3, Float32Array.of(100, 200, 300)) };
    expect(values(h.add(h.output(), h.constant('offsets')), { output, constants: offsets }).data).toEqual([101, 202, 303, 104, 205, 306]);
    expect(values(h.add(h.scalar(1), h.scalar(2)))).toEqual({ shape: [], data: [3] });
    // A [3] vector (row sums of a [3, 2] matrix) against [2, 3]: aligned on the last axis, repeated for each row.
    const sums = h.rowSum(h.constant('pairs'));
    const pairs = { pairs: createMatrix(3, 2, Float32Array.of(1, 1, 2, 2, 3, 3)) };
    expect(values(h.mul(h.output(), sums), { output, constants: pairs }).data).toEqual([2, 8, 18, 8, 20, 36]);
  });

  it('refuses shapes that do not broadcast, naming the operation', () => {
    const output = matrix([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    // [N] = [2] against [2, 3]: NumPy aligns the last axes (2 vs 3), as TensorFlow.js and ONNX do.
    expect(() => run(h.add(h.output(), h.rowSum(h.output())), { output })).toThrow(/add of shapes \[2, 3\] and \[2\]/);
    const wide = { other: createMatrix(3, 2) };
    expect(() => run(h.mul(h.output(), h.constant('other')), { output, constants: wide })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/^mul of shapes \[2, 3\] and \[3, 2\]/) }),
    );
    expect(() => run(h.sub(h.output(), h.constant('other')), { output, constants: wide })).toThrow(/sub of shapes/);
  });

  it('multiplies by a transposed matrix and refuses different inner sizes', () => {
    const constants = { b: createMatrix(3, 2, Float32Array.of(1, 0, 1, 1, 0, 2)), c: createMatrix(2, 3) };
    const output = matrix([
      [1, 2],
      [3, 4],
    ]);
    expect(values(h.matmulTransposed(h.output(), h.constant('b')), { output, constants })).toEqual({
      shape: [2, 3],
      data: [1, 3, 4, 3, 7, 8],
    });
    expect(() => run(h.matmulTransposed(h.output(), h.constant('c')), { output, constants })).toThrow(
      /matmulTransposed needs .* \[2, 2\] and \[2, 3\]/,
    );
    expect(() => run(h.matmulTransposed(h.output(), h.rowSum(h.output())), { output })).toThrow(/matmulTransposed/);
  });

  it('gathers rows and picks one value per row by label, refusing indices out of range', () => {
    const table = { table: createMatrix(3, 2, Float32Array.of(1, 2, 3, 4, 5, 6)) };
    expect(values(h.gatherRows(h.constant('table'), h.labels()), { constants: table, labels: Int32Array.of(2, 0) })).toEqual({
      shape: [2, 2],
      data: [5, 6, 1, 2],
    });
    const output = matrix([
      [1, 2],
      [3, 4],
    ]);
    expect(values(h.pickPerRow(h.output(), h.labels()), { output, labels: Int32Array.of(1, 0) })).toEqual({ shape: [2], data: [2, 3] });
    expect(() => run(h.gatherRows(h.constant('table'), h.labels()), { constants: table, labels: Int32Array.of(3) })).toThrow(
      /gatherRows: label 3 is out of range for 3 classes \(labels run from 0 to 2\)/,
    );
    expect(() => run(h.pickPerRow(h.output(), h.labels()), { output, labels: Int32Array.of(0, -1) })).toThrow(
      /pickPerRow: label -1 is out of range for 2 classes/,
    );
    // Indices that are not the labels are named as indices.
    expect(() =>
      run(h.gatherRows(h.constant('table'), h.add(h.labels(), h.scalar(3))), { constants: table, labels: Int32Array.of(0) }),
    ).toThrow(/gatherRows index 3 is outside \[0, 3\)/);
    expect(() => run(h.pickPerRow(h.output(), h.labels()), { output, labels: Int32Array.of(0) })).toThrow(
      /pickPerRow needs .* \[2, 2\] and \[1\]/,
    );
    expect(() => run(h.gatherRows(h.labels(), h.labels()), { labels: Int32Array.of(0) })).toThrow(/gatherRows needs/);
  });

  it('one-hot rows of the labels, truncating float indices; a label out of range names itself and the class count', () => {
    expect(values(h.oneHot(h.labels(), 3), { labels: Int32Array.of(2, 0, 2) })).toEqual({
      shape: [3, 3],
      data: [0, 0, 1, 1, 0, 0, 0, 0, 1],
    });
    // 1.9 truncates to 1, as the engines cast floats to ints.
    expect(values(h.oneHot(h.add(h.labels(), h.scalar(0.9)), 2), { labels: Int32Array.of(1, 0) }).data).toEqual([0, 1, 1, 0]);
    const invalid = (message: RegExp) => expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });
    expect(() => run(h.oneHot(h.labels(), 4), { labels: Int32Array.of(1, 4) })).toThrow(
      invalid(/^oneHot: label 4 is out of range for 4 classes \(labels run from 0 to 3\)$/),
    );
    expect(() => run(h.oneHot(h.labels(), 4), { labels: Int32Array.of(-1) })).toThrow(/label -1 is out of range for 4 classes/);
    expect(() => run(h.oneHot(h.labels(), 0), { labels: Int32Array.of(0) })).toThrow(/oneHot needs a positive integer depth/);
    expect(() => run(h.oneHot(h.labels(), 2.5), { labels: Int32Array.of(0) })).toThrow(/oneHot needs a positive integer depth/);
    expect(() => run(h.oneHot(h.output(), 2), { output: matrix([[0, 1]]) })).toThrow(
      /oneHot needs a vector of indices \[N\], got shape \[1, 2\]/,
    );
  });

  it('a CosFace margin: s * (cos - m * onehot(label)) lowers the true class only, by s * m', () => {
    const cos = matrix([
      [0.5, 0.25, -0.5],
      [0, 1, 0.75],
    ]);
    const logits = h.mul(h.scalar(4), h.sub(h.output(), h.mul(h.scalar(0.25), h.oneHot(h.labels(), 3))));
    expect(values(logits, { output: cos, labels: Int32Array.of(0, 2) })).toEqual({ shape: [2, 3], data: [1, 1, -2, 0, 4, 2] });
  });

  it('exp, log and division element-wise, division broadcasting like the others', () => {
    close(values(h.exp(h.output()), { output: matrix([[0, 1, -1]]) }).data, [1, Math.E, 1 / Math.E]);
    close(values(h.log(h.output()), { output: matrix([[1, Math.E, 0.5]]) }).data, [0, 1, -Math.LN2]);
    // IEEE: log 0 = -Infinity and log of a negative number is NaN, in every engine alike.
    expect(values(h.log(h.output()), { output: matrix([[0, -1]]) }).data).toEqual([-Infinity, NaN]);
    const output = matrix([
      [2, 4, 6],
      [8, 10, 12],
    ]);
    expect(values(h.div(h.output(), h.scalar(2)), { output }).data).toEqual([1, 2, 3, 4, 5, 6]);
    expect(values(h.div(h.scalar(24), h.output()), { output }).data).toEqual([12, 6, 4, 3, 2.4, 2]);
    // [3] (row sums of [3, 2]) divides every row.
    const pairs = { pairs: createMatrix(3, 2, Float32Array.of(1, 1, 2, 2, 3, 3)) };
    expect(values(h.div(h.output(), h.rowSum(h.constant('pairs'))), { output, constants: pairs })).toEqual({
      shape: [2, 3],
      data: [1, 1, 1, 4, 2.5, 2],
    });
    // A row-wise division needs a [N, 1] column: [N] against [N, K] is refused, as in the engines.
    expect(() => run(h.div(h.output(), h.rowSum(h.output())), { output })).toThrow(
      /div of shapes \[2, 3\] and \[2\], which do not broadcast/,
    );
  });

  it('reads a parameter as its value, or as the value given for its name', () => {
    const scaled = h.mul(h.param('scale', 16), h.output());
    const output = matrix([[0.5, -1]]);
    expect(values(scaled, { output }).data).toEqual([8, -16]);
    expect(values(scaled, { output, params: { scale: 2 } }).data).toEqual([1, -2]);
    // Another parameter's value leaves this one alone.
    expect(values(scaled, { output, params: { bias: 2 } }).data).toEqual([8, -16]);
    expect(() => run({ op: 'param', name: 'scale' } as unknown as HeadExpr)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: 'head parameter "scale" has no initial value' }),
    );
    expect(() => run(h.param('scale', 1), { params: { scale: Number.NaN } })).toThrow(/head parameter "scale" was given NaN/);
  });

  it('reads a matrix parameter in its shape: its given values, its fill, never a drawn start it was not given', () => {
    const weights = h.param('weights', { shape: [2, 2], init: 'glorotUniform' });
    const output = matrix([[1, 2]]);
    // [1, 2] times [[1, 0], [3, -1]] transposed: [1, 1].
    expect(values(h.matmulTransposed(h.output(), weights), { output, params: { weights: [1, 0, 3, -1] } })).toEqual({
      shape: [1, 2],
      data: [1, 1],
    });
    expect(values(h.add(h.output(), h.param('bias', { shape: [2], value: 0.5 })), { output }).data).toEqual([1.5, 2.5]);
    expect(values(h.add(h.output(), h.param('bias', { shape: [2], init: 'zeros' })), { output }).data).toEqual([1, 2]);
    expect(() => run(h.matmulTransposed(h.output(), weights), { output })).toThrow(
      /head parameter "weights" starts from glorotUniform values drawn when training starts, and no values were given/,
    );
    expect(() => run(weights, { output, params: { weights: [1, 2, 3] } })).toThrow(
      /head parameter "weights" of shape \[2, 2\] was given 3 values, expected 4/,
    );
  });

  it('sums rows, averages everything, negates and raises to a power', () => {
    const output = matrix([
      [1, 2],
      [3, -4],
    ]);
    expect(values(h.rowSum(h.output()), { output })).toEqual({ shape: [2], data: [3, -1] });
    expect(values(h.rowSum(h.rowSum(h.output())), { output })).toEqual({ shape: [], data: [2] });
    expect(values(h.mean(h.output()), { output })).toEqual({ shape: [], data: [0.5] });
    expect(values(h.neg(h.output()), { output }).data).toEqual([-1, -2, -3, 4]);
    expect(values(h.pow(h.output(), 2), { output }).data).toEqual([1, 4, 9, 16]);
    expect(values(h.pow(h.output(), 3), { output }).data).toEqual([1, 8, 27, -64]);
    close(values(h.pow(h.scalar(4), 0.5)).data, [2]);
    expect(() => run(h.rowSum(h.scalar(1)))).toThrow(/rowSum of a scalar/);
    expect(() => run(h.softmax(h.scalar(1)))).toThrow(/softmax of a scalar/);
  });

  it('reads float32 output and returns float64, and refuses output of the wrong length', () => {
    const result = evaluateHeadExpr(h.mul(h.output(), h.scalar(1 / 3)), { output: createMatrix(1, 2, Float32Array.of(1, 0.5)) });
    expect(result.data).toBeInstanceOf(Float64Array);
    // 1 / 3 in float64, not float32's 0.3333333432674408.
    expect(result.data[0]).toBe(1 / 3);
    expect(() => evaluateHeadExpr(h.output(), { output: { rows: 2, cols: 2, data: new Float64Array(3) } })).toThrow(/3 values for 2 x 2/);
  });

  it('refuses missing labels, missing constants and unknown operations with E_INVALID_INPUT', () => {
    const invalid = (message: RegExp) => expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });
    expect(() => run(h.labels())).toThrow(invalid(/uses labels, but none were given/));
    expect(() => run(h.constant('prototypes'), { constants: { other: createMatrix(1, 1) } })).toThrow(
      invalid(/constant "prototypes".*\(has: other\)/),
    );
    expect(() => run({ op: 'cube' } as unknown as HeadExpr)).toThrow(invalid(/unknown head operation "cube"/));
  });

  it("reads a class sample: sampledRows picks the sampled rows, sampledLabels the labels' positions; without one, all", () => {
    const table = createMatrix(4, 2, Float32Array.of(0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5));
    const bias = h.param('bias', { shape: [4], init: 'zeros' });
    const inputs = { output: matrix([[1, 2]]), labels: Int32Array.of(3), constants: { table }, params: { bias: [0.5, 1.5, 2.5, 3.5] } };
    const sample = { classes: Int32Array.of(3, 1), labels: Int32Array.of(0) };
    expect(values(h.sampledRows(h.constant('table')), { ...inputs, sample })).toEqual({ shape: [2, 2], data: [3, 3.5, 1, 1.5] });
    expect(values(h.sampledRows(bias), { ...inputs, sample })).toEqual({ shape: [2], data: [3.5, 1.5] });
    expect(values(h.sampledLabels(), { ...inputs, sample })).toEqual({ shape: [1], data: [0] });
    // No sample: every class, and the labels themselves.
    expect(values(h.sampledRows(h.constant('table')), inputs)).toEqual({ shape: [4, 2], data: [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5] });
    expect(values(h.sampledLabels(), inputs)).toEqual({ shape: [1], data: [3] });
    // The logits of the sampled classes give the loss of the label at its position: class 3 at position 0.
    const loss = h.mean(
      h.neg(h.pickPerRow(h.logSoftmax(h.matmulTransposed(h.output(), h.sampledRows(h.constant('table')))), h.sampledLabels())),
    );
    // logits [1 * 3 + 2 * 3.5, 1 * 1 + 2 * 1.5] = [10, 4]: -log softmax at position 0 = log(1 + e^-6).
    expect(run(loss, { ...inputs, sample }).data[0]).toBeCloseTo(0.0024756851377304495, 15);
    expect(() =>
      run(h.sampledRows(h.constant('table')), { ...inputs, sample: { classes: Int32Array.of(4), labels: Int32Array.of(0) } }),
    ).toThrow(/sampledRows: sampled class 4 is outside \[0, 4\)/);
    expect(() => run(h.sampledLabels())).toThrow(/uses sampledLabels, but no labels were given/);
  });

  it('covers every operation in HEAD_OPS', () => {
    const x = h.output();
    const examples: Record<HeadOp, HeadExpr> = {
      output: x,
      labels: h.labels(),
      constant: h.constant('c'),
      scalar: h.scalar(1),
      param: h.param('scale', 2),
      add: h.add(x, x),
      sub: h.sub(x, x),
      mul: h.mul(x, x),
      div: h.div(x, x),
      neg: h.neg(x),
      exp: h.exp(x),
      log: h.log(x),
      pow: h.pow(x, 2),
      matmulTransposed: h.matmulTransposed(x, x),
      l2normalize: h.l2normalize(x),
      softmax: h.softmax(x),
      logSoftmax: h.logSoftmax(x),
      gatherRows: h.gatherRows(x, h.labels()),
      pickPerRow: h.pickPerRow(x, h.labels()),
      sampledRows: h.sampledRows(h.constant('c')),
      sampledLabels: h.sampledLabels(),
      oneHot: h.oneHot(h.labels(), 3),
      rowSum: h.rowSum(x),
      mean: h.mean(x),
    };
    const inputs = { output: matrix([[1, 2]]), labels: Int32Array.of(0), constants: { c: createMatrix(1, 1) } };
    for (const op of HEAD_OPS) expect(run(examples[op], inputs).data.every(Number.isFinite)).toBe(true);
  });
});
