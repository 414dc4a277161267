import {
  createMatrix,
  createRng,
  ErrorCode,
  evaluateHeadExpr,
  h,
  HEAD_OPS,
  type HeadExpr,
  type HeadOp,
  type Matrix,
} from '@hyperproto/core';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './graph-builder.js';
import { headConstantValues, headParamInitializers, lowerHeadExpr } from './lower-head-expr.js';
import { TracedGraph, type FloatType } from './traced-graph.js';

const rng = createRng(7);
const randomMatrix = (rows: number, cols: number, sd = 1): Matrix =>
  createMatrix(rows, cols, rng.fillNormal(new Float32Array(rows * cols), 0, sd));
const unitRows = (rows: number, cols: number): Matrix => {
  const m = randomMatrix(rows, cols);
  for (let r = 0; r < rows; r++) {
    const row = m.data.subarray(r * cols, (r + 1) * cols);
    const norm = Math.hypot(...row);
    row.forEach((v, i) => (row[i] = v / norm));
  }
  return m;
};

const ROWS = 6;
const UNITS = 4;
const output = randomMatrix(ROWS, UNITS, 2);
// One zero row: the norm floor must keep it finite on both sides.
output.data.fill(0, 0, UNITS);
const labels = Int32Array.from({ length: ROWS }, () => rng.int(UNITS));
const constants = {
  prototypes: unitRows(5, UNITS),
  // Row indices stored as floats, as a head's constants are float matrices.
  which: createMatrix(3, 1, Float32Array.from([4, 0, 2])),
  // [1, K]: repeats along the rows.
  offsets: randomMatrix(1, UNITS),
  // Its row sums are a [K] vector, which repeats along the rows of [N, K].
  pairs: randomMatrix(UNITS, 2),
};
const o = h.output();
const p = h.constant('prototypes');
/** Column 0 for every row, as floats computed from the output, so that the index vector has the batch's length. */
const zeroIndex = h.rowSum(h.mul(o, h.scalar(0)));
const softmaxLoss = h.mean(h.neg(h.pickPerRow(h.logSoftmax(o), h.labels())));
const hpnLoss = h.mean(h.pow(h.sub(h.scalar(1), h.rowSum(h.mul(h.l2normalize(o), h.gatherRows(p, h.labels())))), 2));

/** Expressions for every operation of the head vocabulary, the broadcasting rules and both heads' losses. */
const cases: Record<HeadOp, readonly HeadExpr[]> = {
  output: [o],
  labels: [h.labels(), h.mul(h.labels(), h.scalar(0.5))],
  constant: [p, h.matmulTransposed(o, p)],
  scalar: [h.scalar(3), h.add(o, h.scalar(0.25))],
  // Two nodes of one parameter: one initializer.
  param: [
    h.mul(h.param('scale', 16), o),
    h.add(h.mul(h.param('scale', 16), o), h.param('scale', 16)),
    // Tensors at their fixed starts: a [K] fill and a [3, K] matrix of zeros.
    h.add(o, h.param('bias', { shape: [UNITS], value: 0.5 })),
    h.matmulTransposed(o, h.param('blank', { shape: [3, UNITS], init: 'zeros' })),
  ],
  add: [h.add(o, h.mul(o, h.scalar(2))), h.add(o, h.constant('offsets')), h.add(h.rowSum(h.constant('pairs')), o)],
  sub: [h.sub(h.scalar(1), o), h.sub(h.constant('offsets'), o)],
  mul: [h.mul(o, o), h.mul(o, h.rowSum(h.constant('pairs')))],
  div: [
    h.div(o, h.add(h.pow(o, 2), h.scalar(1))),
    h.div(h.scalar(2), h.add(h.exp(o), h.scalar(1))),
    h.div(o, h.constant('offsets')),
    h.div(h.rowSum(h.constant('pairs')), h.add(h.mul(o, o), h.scalar(0.5))),
  ],
  neg: [h.neg(o)],
  exp: [h.exp(o), h.exp(h.mul(h.param('logScale', Math.log(16)), h.scalar(1)))],
  log: [h.log(h.add(h.mul(o, o), h.scalar(1e-3))), h.log(h.softmax(o))],
  pow: [h.add(h.pow(o, 2), h.pow(h.add(o, h.scalar(3)), 3))],
  matmulTransposed: [h.matmulTransposed(h.l2normalize(o), p)],
  l2normalize: [h.l2normalize(o)],
  softmax: [h.softmax(h.matmulTransposed(o, p)), h.softmax(h.rowSum(o))],
  logSoftmax: [h.logSoftmax(h.mul(o, h.scalar(30)))],
  gatherRows: [
    h.gatherRows(p, h.labels()),
    h.matmulTransposed(o, h.gatherRows(p, h.rowSum(h.constant('which')))),
    h.gatherRows(o, h.labels()),
  ],
  pickPerRow: [h.pickPerRow(h.softmax(o), zeroIndex), h.pickPerRow(h.logSoftmax(o), h.labels())],
  // Without a class sample: every class.
  sampledRows: [
    h.matmulTransposed(o, h.sampledRows(p)),
    h.add(h.matmulTransposed(o, p), h.sampledRows(h.param('bias', { shape: [5], value: 0.25 }))),
  ],
  sampledLabels: [h.pickPerRow(h.logSoftmax(o), h.sampledLabels())],
  oneHot: [
    h.oneHot(h.labels(), UNITS),
    // A CosFace margin at the label, and one-hot of float indices (truncated).
    h.mul(h.scalar(16), h.sub(h.matmulTransposed(h.l2normalize(o), p), h.mul(h.scalar(0.35), h.oneHot(h.labels(), 5)))),
    h.oneHot(h.add(zeroIndex, h.scalar(2.5)), 3),
  ],
  rowSum: [h.rowSum(h.mul(o, o)), h.rowSum(h.rowSum(o))],
  mean: [softmaxLoss, hpnLoss, h.mean(h.constant('prototypes')), h.mean(h.div(o, h.rowSum(h.constant('pairs'))))],
};

/** A graph of `expr` over inputs `output` [N, UNITS] and `labels` [N], its result named `result`. */
function lowered(expr: HeadExpr, floatType: FloatType = 'float32') {
  const builder = new GraphBuilder('expr');
  const g = new TracedGraph(builder, { floatType });
  const values = {
    output: g.input('output', floatType, ['N', UNITS]),
    labels: g.input('labels', 'int32', ['N']),
    constants: headConstantValues(g, constants, [expr]),
  };
  const result = lowerHeadExpr(g, expr, values, { resultName: 'result' });
  g.output(result);
  g.finish();
  return { builder, g, result };
}

async function runLowered(expr: HeadExpr, input: Matrix, rowLabels: Int32Array, floatType: FloatType, opset: number) {
  const { builder } = lowered(expr, floatType);
  const session = await ort.InferenceSession.create(builder.toModel({ opset, irVersion: opset >= 21 ? 10 : 8 }));
  try {
    const data = floatType === 'float64' ? Float64Array.from(input.data) : input.data;
    const { result } = await session.run({
      output: new ort.Tensor(floatType, data, [input.rows, input.cols]),
      labels: new ort.Tensor('int32', rowLabels, [rowLabels.length]),
    });
    return { data: Array.from(result!.data as ArrayLike<number>), dims: [...result!.dims] };
  } finally {
    await session.release();
  }
}

describe('lowerHeadExpr against the float64 reference interpreter', () => {
  it('has cases for every operation of the head vocabulary', () => {
    expect(new Set(Object.keys(cases))).toEqual(new Set(HEAD_OPS));
  });

  const all = Object.entries(cases).flatMap(([op, exprs]) => exprs.map((expr, i) => [`${op} #${i + 1}`, expr] as const));
  it.each(all)('%s: float32 (opsets 17 and 21) and float64 agree with evaluateHeadExpr', async (_name, expr) => {
    const reference = evaluateHeadExpr(expr, { output, labels, constants });
    for (const [floatType, opset, tolerance] of [
      ['float32', 17, 1e-5],
      ['float32', 21, 1e-5],
      ['float64', 17, 1e-12],
    ] as const) {
      const onnx = await runLowered(expr, output, labels, floatType, opset);
      expect(onnx.dims).toEqual(reference.shape);
      expect(onnx.data.every(Number.isFinite)).toBe(true);
      reference.data.forEach((expected, i) =>
        expect(Math.abs(onnx.data[i]! - expected)).toBeLessThan(tolerance * Math.max(1, Math.abs(expected))),
      );
    }
  });

  it('feeds parameters as graph inputs where given: the value fed, not the starting value, and differentiable inputs', async () => {
    const expr = h.mean(
      h.neg(h.pickPerRow(h.logSoftmax(h.mul(h.exp(h.param('logScale', 0)), h.matmulTransposed(h.l2normalize(o), p))), h.labels())),
    );
    const builder = new GraphBuilder('fed');
    const g = new TracedGraph(builder, { floatType: 'float32' });
    const values = {
      output: g.input('output', 'float32', ['N', UNITS]),
      labels: g.input('labels', 'int32', ['N']),
      constants: headConstantValues(g, constants, [expr]),
      params: { logScale: g.input('logScale', 'float32', []) },
    };
    g.output(lowerHeadExpr(g, expr, values, { resultName: 'result' }));
    g.finish();
    const session = await ort.InferenceSession.create(builder.toModel({ opset: 17 }));
    try {
      for (const logScale of [0, Math.log(16)]) {
        const { result } = await session.run({
          output: new ort.Tensor('float32', output.data, [ROWS, UNITS]),
          labels: new ort.Tensor('int32', labels, [ROWS]),
          logScale: new ort.Tensor('float32', Float32Array.of(logScale), []),
        });
        const expected = evaluateHeadExpr(expr, { output, labels, constants, params: { logScale } }).data[0]!;
        expect(Math.abs((result!.data as Float32Array)[0]! - expected)).toBeLessThan(1e-5 * Math.max(1, Math.abs(expected)));
      }
    } finally {
      await session.release();
    }
    // The two values of logScale give different losses: the input is read, not the starting value 0.
    const at = (logScale: number) => evaluateHeadExpr(expr, { output, labels, constants, params: { logScale } }).data[0]!;
    expect(Math.abs(at(0) - at(Math.log(16)))).toBeGreaterThan(0.1);
  });

  it('stores an unfed parameter as one initializer named head/param/<name> holding its value', () => {
    const expr = h.add(h.mul(h.param('scale', 16), o), h.mul(h.param('scale', 16), h.exp(o)));
    const { g } = lowered(expr);
    const read = g.tape.flatMap((node) => node.inputs.map((input) => input.name)).filter((name) => name.startsWith('head/param/'));
    expect(read).toEqual(['head/param/scale', 'head/param/scale']);
  });

  it("stores a head's bound matrix parameters as initializers in their shapes, as an export does", async () => {
    const classifier = h.param('classifier', { shape: [5, UNITS], init: 'glorotUniform' });
    const bias = h.param('bias', { shape: [5], init: 'zeros' });
    const scores = h.softmax(h.add(h.matmulTransposed(o, classifier), bias));
    const head = { loss: h.mean(scores), scores };
    const values = { classifier: randomMatrix(5, UNITS).data, bias: randomMatrix(1, 5).data };
    const builder = new GraphBuilder('exported');
    const g = new TracedGraph(builder);
    const params = headParamInitializers(g, { ...head, params: values }, [scores]);
    expect(Object.fromEntries(Object.entries(params).map(([name, v]) => [name, [v.name, v.shape]]))).toEqual({
      classifier: ['head/param/classifier', [5, UNITS]],
      bias: ['head/param/bias', [5]],
    });
    g.output(
      lowerHeadExpr(g, scores, { output: g.input('output', 'float32', ['N', UNITS]), constants: {}, params }, { resultName: 'result' }),
    );
    g.finish();
    const session = await ort.InferenceSession.create(builder.toModel({ opset: 17 }));
    try {
      const { result } = await session.run({ output: new ort.Tensor('float32', output.data, [ROWS, UNITS]) });
      const expected = evaluateHeadExpr(scores, { output, params: values });
      expect(result!.dims).toEqual([ROWS, 5]);
      expected.data.forEach((value, i) => expect(Math.abs((result!.data as Float32Array)[i]! - value)).toBeLessThan(1e-6));
    } finally {
      await session.release();
    }
    // Never trained, the drawn classifier has no values to store.
    expect(() => headParamInitializers(new TracedGraph(new GraphBuilder()), head, [scores], "the test head's scores")).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidInput,
        message: expect.stringMatching(
          /^the test head's scores cannot be built as an ONNX graph: head parameter "classifier" starts from glorotUniform/,
        ),
      }),
    );
  });

  it("reads a class sample fed as inputs: the sampled rows of a matrix and a vector, and the labels' positions", async () => {
    const bias = h.param('bias', { shape: [5], value: 0.25 });
    const logits = h.add(h.matmulTransposed(o, h.sampledRows(p)), h.sampledRows(bias));
    const expr = h.mean(h.neg(h.pickPerRow(h.logSoftmax(logits), h.sampledLabels())));
    const builder = new GraphBuilder('sampled');
    const g = new TracedGraph(builder);
    const values = {
      output: g.input('output', 'float32', ['N', UNITS]),
      constants: headConstantValues(g, constants, [expr]),
      sample: { classes: g.input('classes', 'int32', ['S']), labels: g.input('positions', 'int32', ['N']) },
    };
    g.output(lowerHeadExpr(g, logits, values, { resultName: 'logits' }));
    g.output(lowerHeadExpr(g, expr, values, { resultName: 'loss' }));
    g.finish();
    const session = await ort.InferenceSession.create(builder.toModel({ opset: 17 }));
    try {
      // Classes 4 and 1, every row labelled with one of them.
      const sample = { classes: Int32Array.of(4, 1), labels: Int32Array.from({ length: ROWS }, (_, i) => i % 2) };
      const out = await session.run({
        output: new ort.Tensor('float32', output.data, [ROWS, UNITS]),
        classes: new ort.Tensor('int32', sample.classes, [2]),
        positions: new ort.Tensor('int32', sample.labels, [ROWS]),
      });
      const expectedLogits = evaluateHeadExpr(logits, { output, constants, sample });
      expect(out.logits!.dims).toEqual([ROWS, 2]);
      expectedLogits.data.forEach((v, i) => expect(Math.abs((out.logits!.data as Float32Array)[i]! - v)).toBeLessThan(1e-5));
      const expectedLoss = evaluateHeadExpr(expr, { output, constants, sample }).data[0]!;
      expect(Math.abs((out.loss!.data as Float32Array)[0]! - expectedLoss)).toBeLessThan(1e-5);
      // Not the loss over every class: the sample is read.
      expect(
        Math.abs(
          evaluateHeadExpr(expr, { output, constants, labels: Int32Array.from(sample.labels, (k) => [4, 1][k]!) }).data[0]! - expectedLoss,
        ),
      ).toBeGreaterThan(0.01);
    } finally {
      await session.release();
    }
  });

  it('keeps the dynamic batch: the same graph runs 1 and 1,000 rows', async () => {
    for (const rows of [1, 1000]) {
      const input = randomMatrix(rows, UNITS);
      const onnx = await runLowered(hpnLoss, input, new Int32Array(rows), 'float32', 17);
      expect(onnx.dims).toEqual([]);
      expect(
        Math.abs(onnx.data[0]! - evaluateHeadExpr(hpnLoss, { output: input, labels: new Int32Array(rows), constants }).data[0]!),
      ).toBeLessThan(1e-5);
    }
  });
});

describe('lowerHeadExpr: the graph it builds', () => {
  it('lowers a sub-expression used twice once', () => {
    const shared = h.l2normalize(o);
    const { g } = lowered(h.add(shared, shared));
    expect(g.tape.filter((node) => node.opType === 'Reciprocal')).toHaveLength(1);
  });

  it('names the result on the node that makes it, with an Identity only where no node does', () => {
    const scores = lowered(h.softmax(h.matmulTransposed(o, p)));
    expect(scores.result.name).toBe('result');
    expect(scores.g.tape.map((node) => node.opType)).toEqual(['Gemm', 'Softmax']);
    expect(lowered(o).g.tape.map((node) => node.opType)).toEqual(['Identity']);
  });

  it('tags every node with the head operation it came from', () => {
    const { g } = lowered(softmaxLoss);
    expect(g.tape.map((node) => [node.opType, node.source])).toEqual([
      ['LogSoftmax', 'head operation "logSoftmax"'],
      ['Unsqueeze', 'head operation "pickPerRow"'],
      ['GatherElements', 'head operation "pickPerRow"'],
      ['Squeeze', 'head operation "pickPerRow"'],
      ['Neg', 'head operation "neg"'],
      ['ReduceMean', 'head operation "mean"'],
    ]);
  });

  it('refuses labels it was not given, missing constants, shapes that do not fit and unknown operations, naming the problem', () => {
    const lower = (expr: HeadExpr) => {
      const g = new TracedGraph(new GraphBuilder());
      const out = g.input('output', 'float32', ['N', UNITS]);
      return lowerHeadExpr(
        g,
        expr,
        { output: out, constants: headConstantValues(g, constants, [expr], "the test head's scores") },
        { what: "the test head's scores" },
      );
    };
    const invalid = (message: RegExp) => expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });
    expect(() => lower(h.pickPerRow(o, h.labels()))).toThrow(
      invalid(/^the test head's scores cannot be built as an ONNX graph: .*true labels/),
    );
    expect(() => lower(h.matmulTransposed(o, h.constant('centres')))).toThrow(
      invalid(/constant "centres".*has: prototypes, which, offsets, pairs\)/),
    );
    // A field every object has is no constant of the head.
    expect(() => lower(h.matmulTransposed(o, h.constant('constructor')))).toThrow(
      invalid(/uses constant "constructor", which the head does not provide \(has: prototypes, which, offsets, pairs\)/),
    );
    expect(() => lower(h.matmulTransposed(o, h.constant('which')))).toThrow(invalid(/inner sizes differ/));
    expect(() => lower(h.add(h.matmulTransposed(o, p), p))).toThrow(invalid(/add of shapes \[N, 5\] and \[5, 4\], which do not broadcast/));
    expect(() => lower(h.pickPerRow(p, h.rowSum(h.constant('which'))))).toThrow(
      invalid(/pickPerRow needs a matrix \[N, K\] and N indices, got shapes \[5, 4\] and \[3\]/),
    );
    expect(() => lower(h.softmax(h.mean(o)))).toThrow(invalid(/softmax of a scalar/));
    expect(() => lower(h.add(o, h.scalar(Infinity)))).toThrow(invalid(/scalar Infinity is not finite/));
    expect(() => lower(h.div(p, h.constant('pairs')))).toThrow(invalid(/div of shapes \[5, 4\] and \[4, 2\], which do not broadcast/));
    expect(() => lower(h.mul(o, { op: 'param', name: 'temperature' } as unknown as HeadExpr))).toThrow(
      invalid(/head parameter "temperature" has no initial value/),
    );
    expect(() => lower(h.oneHot(h.rowSum(h.constant('which')), 0))).toThrow(invalid(/oneHot needs a positive integer depth/));
    expect(() => lower(h.oneHot(o, 3))).toThrow(invalid(/oneHot needs a vector of indices \[N\], got shape \[N, 4\]/));
    expect(() => lower({ op: 'cosh', x: o } as unknown as HeadExpr)).toThrow(invalid(/unknown head operation "cosh"/));
  });
});
