import { createMatrix, createRng, h, HEAD_OPS, type HeadExpr, type HeadOp, type Matrix } from '@hyperproto/core';
import { evaluateHeadExpr } from '@hyperproto/engine-tfjs';
import { GraphBuilder } from '@hyperproto/onnx-graph';
import { initTfjs, type TfjsRuntime } from '@hyperproto/tfjs-backend';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { lowerHeadExpr } from './lower-head-expr.js';

let runtime: TfjsRuntime;
beforeAll(async () => {
  runtime = await initTfjs();
});

const rng = createRng(7);
const randomMatrix = (rows: number, cols: number, sd = 1): Matrix => createMatrix(rows, cols, rng.fillNormal(new Float32Array(rows * cols), 0, sd));
const unitRows = (rows: number, cols: number): Matrix => {
  const m = randomMatrix(rows, cols);
  for (let r = 0; r < rows; r++) {
    const row = m.data.subarray(r * cols, (r + 1) * cols);
    const norm = Math.hypot(...row);
    row.forEach((v, i) => (row[i] = v / norm));
  }
  return m;
};

const output = randomMatrix(6, 4);
// One zero row: the norm floor must keep it finite on both sides.
output.data.fill(0, 0, 4);
const constants = {
  prototypes: unitRows(5, 4),
  // Row indices stored as floats, as a head's constants are float matrices.
  which: createMatrix(3, 1, Float32Array.from([4, 0, 2])),
};
const o = h.output();
const p = h.constant('prototypes');
/** Column 0 for every row, computed from the output so that the index vector has the batch's length. */
const zeroIndex = h.rowSum(h.mul(o, h.scalar(0)));

/** At least one expression per operation that can appear in a head's scores, compared with the tfjs engine. */
const cases: Record<Exclude<HeadOp, 'labels'>, HeadExpr> = {
  output: o,
  constant: h.matmulTransposed(o, p),
  scalar: h.add(o, h.scalar(0.25)),
  add: h.add(o, h.mul(o, h.scalar(2))),
  sub: h.sub(h.scalar(1), o),
  mul: h.mul(o, o),
  neg: h.neg(o),
  pow: h.add(h.pow(o, 2), h.pow(h.add(o, h.scalar(3)), 3)),
  matmulTransposed: h.matmulTransposed(h.l2normalize(o), p),
  l2normalize: h.l2normalize(o),
  softmax: h.softmax(h.matmulTransposed(o, p)),
  logSoftmax: h.logSoftmax(o),
  gatherRows: h.matmulTransposed(o, h.gatherRows(p, h.rowSum(h.constant('which')))),
  pickPerRow: h.pickPerRow(h.softmax(o), zeroIndex),
  rowSum: h.rowSum(h.mul(o, o)),
  mean: h.mean(h.pow(h.sub(h.scalar(1), h.rowSum(o)), 2)),
};

async function runLowered(expr: HeadExpr, input: Matrix, opset = 17): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const graph = new GraphBuilder('expr');
  const x = graph.input('output', 'float32', ['N', input.cols]);
  const value = lowerHeadExpr(graph, expr, { output: { name: x, shape: ['N', input.cols] }, constants }, { resultName: 'result' });
  graph.output(value.name, 'float32');
  const session = await ort.InferenceSession.create(graph.toModel({ opset, irVersion: opset >= 21 ? 10 : 8 }));
  try {
    const { result } = await session.run({ output: new ort.Tensor('float32', input.data, [input.rows, input.cols]) });
    return { data: result!.data as Float32Array, dims: result!.dims };
  } finally {
    await session.release();
  }
}

async function runTfjs(expr: HeadExpr, input: Matrix): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const { tf } = runtime;
  const tensors = Object.fromEntries(Object.entries(constants).map(([name, m]) => [name, tf.tensor2d(m.data, [m.rows, m.cols])]));
  const x = tf.tensor2d(input.data, [input.rows, input.cols]);
  try {
    const result = evaluateHeadExpr(tf, expr, { output: x, constants: tensors });
    const data = Float32Array.from(await result.data());
    const dims = result.shape;
    result.dispose();
    return { data, dims };
  } finally {
    x.dispose();
    for (const t of Object.values(tensors)) t.dispose();
  }
}

describe('lowerHeadExpr', () => {
  it('has a case for every operation of the head vocabulary', () => {
    expect(new Set([...Object.keys(cases), 'labels'])).toEqual(new Set(HEAD_OPS));
  });

  it.each(Object.entries(cases))('lowers %s to ONNX nodes that agree with the tfjs engine (opsets 17 and 21)', async (_op, expr) => {
    const tfjs = await runTfjs(expr, output);
    for (const opset of [17, 21]) {
      const onnx = await runLowered(expr, output, opset);
      expect(onnx.dims).toEqual(tfjs.dims);
      expect(onnx.data.every(Number.isFinite)).toBe(true);
      for (let i = 0; i < tfjs.data.length; i++) expect(Math.abs(onnx.data[i]! - tfjs.data[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(tfjs.data[i]!)));
    }
  });

  it('keeps the dynamic batch: the same graph runs 1 and 1,000 rows', async () => {
    for (const rows of [1, 1000]) {
      const input = randomMatrix(rows, 4);
      const onnx = await runLowered(cases.matmulTransposed, input);
      expect(onnx.dims).toEqual([rows, 5]);
    }
  });

  it('lowers a sub-expression used twice once', () => {
    const graph = new GraphBuilder();
    const x = graph.input('output', 'float32', ['N', 4]);
    const shared = h.l2normalize(o);
    lowerHeadExpr(graph, h.add(shared, shared), { output: { name: x, shape: ['N', 4] }, constants });
    const bytes = new TextDecoder('latin1').decode(graph.toModel());
    expect(bytes.match(/Reciprocal_node/g)).toHaveLength(1);
  });

  it('refuses labels, unknown constants, shapes that do not fit and unknown operations, naming the problem', () => {
    const lower = (expr: HeadExpr) => {
      const graph = new GraphBuilder();
      const x = graph.input('output', 'float32', ['N', 4]);
      return lowerHeadExpr(graph, expr, { output: { name: x, shape: ['N', 4] }, constants }, { what: 'the test head\'s scores' });
    };
    expect(() => lower(h.pickPerRow(o, h.labels()))).toThrow(/test head's scores cannot be exported.*true labels/);
    expect(() => lower(h.matmulTransposed(o, h.constant('centres')))).toThrow(/constant "centres".*has: prototypes, which/);
    expect(() => lower(h.matmulTransposed(o, h.constant('which')))).toThrow(/inner sizes differ/);
    expect(() => lower(h.add(h.matmulTransposed(o, p), p))).toThrow(/do not broadcast/);
    expect(() => lower({ op: 'cosh', x: o } as unknown as HeadExpr)).toThrow(/unknown head operation "cosh"/);
  });
});
