import {
  createMatrix,
  createRng,
  ErrorCode,
  evaluateHeadExpr as evaluateReference,
  h,
  HEAD_OPS,
  type HeadExpr,
  type HeadOp,
  type Matrix,
} from '@hyperproto/core';
import { hpnLoss, hpnScores } from '@hyperproto/head-hpn';
import { softmaxLoss, softmaxScores } from '@hyperproto/head-softmax';
import { initTfjs } from '@hyperproto/tfjs-backend';
import type { Scalar, Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateHeadExpr, type Tf } from './evaluate-head-expr.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await initTfjs()).tf;
});

/** Evaluates and reads back as nested arrays, disposing every tensor it made. */
function run(expr: HeadExpr, output: number[][], labels?: number[], constants: Record<string, number[][]> = {}): unknown {
  const out = tf.tensor2d(output);
  const lab = labels ? tf.tensor1d(labels, 'int32') : undefined;
  const consts: Record<string, Tensor> = Object.fromEntries(Object.entries(constants).map(([k, v]) => [k, tf.tensor2d(v)]));
  try {
    const result = evaluateHeadExpr(tf, expr, { output: out, labels: lab, constants: consts });
    const values = result.arraySync();
    result.dispose();
    return values;
  } finally {
    for (const t of [out, lab, ...Object.values(consts)]) t?.dispose();
  }
}

const close = (actual: unknown, expected: unknown) => {
  const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : [v as number]);
  const a = flat(actual);
  const e = flat(expected);
  expect(a).toHaveLength(e.length);
  a.forEach((x, i) => expect(x).toBeCloseTo(e[i]!, 5));
};

describe('evaluateHeadExpr: each operation', () => {
  const x = [
    [1, 2, 3],
    [4, 5, 6],
  ];

  it('output, labels, constant, scalar', () => {
    expect(run(h.output(), x)).toEqual(x);
    expect(run(h.labels(), x, [2, 0])).toEqual([2, 0]);
    expect(run(h.constant('p'), x, undefined, { p: [[0.5, -1]] })).toEqual([[0.5, -1]]);
    expect(run(h.scalar(2.5), x)).toBe(2.5);
  });

  it('add, sub, mul (with broadcasting), neg', () => {
    expect(run(h.add(h.output(), h.scalar(1)), x)).toEqual([
      [2, 3, 4],
      [5, 6, 7],
    ]);
    expect(run(h.sub(h.scalar(1), h.output()), x)).toEqual([
      [0, -1, -2],
      [-3, -4, -5],
    ]);
    expect(run(h.mul(h.output(), h.output()), x)).toEqual([
      [1, 4, 9],
      [16, 25, 36],
    ]);
    expect(run(h.neg(h.output()), x)).toEqual([
      [-1, -2, -3],
      [-4, -5, -6],
    ]);
  });

  it('pow, including negative bases with integer exponents', () => {
    expect(run(h.pow(h.output(), 2), [[-3, 0.5]])).toEqual([[9, 0.25]]);
    close(run(h.pow(h.output(), 3), [[-2, 1.5]]), [[-8, 3.375]]);
    close(run(h.pow(h.output(), 0.5), [[4, 2.25]]), [[2, 1.5]]);
  });

  it('matmulTransposed: a [N, K] times b [M, K] transposed', () => {
    const b = [
      [1, 0, 0],
      [0, 1, 1],
    ];
    expect(run(h.matmulTransposed(h.output(), h.constant('b')), x, undefined, { b })).toEqual([
      [1, 5],
      [4, 11],
    ]);
  });

  it('l2normalize: unit rows, and a zero row stays zero', () => {
    close(
      run(h.l2normalize(h.output()), [
        [3, 4],
        [0, 0],
        [-5, 12],
      ]),
      [
        [0.6, 0.8],
        [0, 0],
        [-5 / 13, 12 / 13],
      ],
    );
  });

  it('softmax and logSoftmax over each row', () => {
    close(
      run(h.softmax(h.output()), [
        [0, Math.log(3)],
        [7, 7],
      ]),
      [
        [0.25, 0.75],
        [0.5, 0.5],
      ],
    );
    close(
      run(h.logSoftmax(h.output()), [
        [0, Math.log(3)],
        [1000, 0],
      ]),
      [
        [Math.log(0.25), Math.log(0.75)],
        [0, -1000],
      ],
    );
  });

  it('gatherRows picks rows of a matrix by index, of constants and of the output alike', () => {
    const p = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    expect(run(h.gatherRows(h.constant('p'), h.labels()), x, [2, 0], { p })).toEqual([
      [5, 6],
      [1, 2],
    ]);
    expect(run(h.gatherRows(h.output(), h.labels()), p, [2, 0, 2])).toEqual([
      [5, 6],
      [1, 2],
      [5, 6],
    ]);
  });

  it('pickPerRow picks x[i, indices[i]]', () => {
    expect(run(h.pickPerRow(h.output(), h.labels()), x, [2, 0])).toEqual([3, 4]);
    expect(run(h.pickPerRow(h.constant('c'), h.labels()), [[0]], [2, 0], { c: x })).toEqual([3, 4]);
    // -Infinity elsewhere in the row does not turn the picked value into NaN.
    expect(run(h.pickPerRow(h.output(), h.labels()), [[-Infinity, 1]], [1])).toEqual([1]);
  });

  it('exp, log, div (with broadcasting), oneHot of the labels, and a parameter as its value', () => {
    close(run(h.exp(h.output()), [[0, 1]]), [[1, Math.E]]);
    close(run(h.log(h.output()), [[1, Math.E]]), [[0, 1]]);
    expect(run(h.div(h.output(), h.scalar(2)), x)).toEqual([
      [0.5, 1, 1.5],
      [2, 2.5, 3],
    ]);
    expect(run(h.div(h.output(), h.constant('d')), x, undefined, { d: [[1, 2, 4]] })).toEqual([
      [1, 1, 0.75],
      [4, 2.5, 1.5],
    ]);
    expect(run(h.oneHot(h.labels(), 3), x, [2, 0])).toEqual([
      [0, 0, 1],
      [1, 0, 0],
    ]);
    expect(run(h.mul(h.param('scale', 16), h.output()), [[0.5, -1]])).toEqual([[8, -16]]);
  });

  it('rowSum and mean', () => {
    expect(run(h.rowSum(h.output()), x)).toEqual([6, 15]);
    expect(run(h.mean(h.output()), x)).toBe(3.5);
  });

  it('covers every operation of the vocabulary', () => {
    const used = new Set<string>();
    const walk = (e: HeadExpr): void => {
      used.add(e.op);
      for (const child of Object.values(e)) if (typeof child === 'object' && child !== null) walk(child as HeadExpr);
    };
    [
      h.add(h.sub(h.mul(h.neg(h.scalar(1)), h.pow(h.output(), 2)), h.output()), h.output()),
      h.mean(h.rowSum(h.matmulTransposed(h.l2normalize(h.softmax(h.logSoftmax(h.output()))), h.constant('p')))),
      h.pickPerRow(h.gatherRows(h.constant('p'), h.labels()), h.labels()),
      h.div(h.log(h.exp(h.param('s', 1))), h.oneHot(h.labels(), 2)),
      h.pickPerRow(h.sampledRows(h.constant('p')), h.sampledLabels()),
    ].forEach(walk);
    expect([...used].sort()).toEqual([...HEAD_OPS].sort());
  });
});

describe('evaluateHeadExpr: errors and hygiene', () => {
  it('names a missing constant and the ones that exist', () => {
    expect(() => run(h.constant('prototypes'), [[1]], undefined, { other: [[1]] })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/"prototypes".*has: other/) }),
    );
  });

  it('rejects an unknown operation and labels that were not given', () => {
    expect(() => run({ op: 'logsumexp', x: h.output() } as unknown as HeadExpr, [[1]])).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/unknown head operation "logsumexp"/) }),
    );
    expect(() => run(h.labels(), [[1]])).toThrow(expect.objectContaining({ code: ErrorCode.InvalidInput }));
  });

  it('refuses a label out of range for oneHot, pickPerRow and gatherRows, naming the label and the class count', () => {
    const invalid = (message: RegExp) => expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(message) });
    expect(() => run(h.oneHot(h.labels(), 3), [[1]], [0, 3])).toThrow(
      invalid(/^oneHot: label 3 is out of range for 3 classes \(labels run from 0 to 2\)$/),
    );
    expect(() => run(h.pickPerRow(h.output(), h.labels()), [[1, 2]], [-1])).toThrow(
      invalid(/pickPerRow: label -1 is out of range for 2 classes/),
    );
    expect(() => run(h.gatherRows(h.constant('p'), h.labels()), [[1]], [5], { p: [[1], [2]] })).toThrow(
      invalid(/gatherRows: label 5 is out of range for 2 classes/),
    );
    expect(() => run(h.oneHot(h.output(), 2), [[1, 0]])).toThrow(invalid(/oneHot needs a vector of indices \[N\], got shape \[1, 2\]/));
    expect(() => run(h.mul({ op: 'param', name: 'temperature' } as unknown as HeadExpr, h.output()), [[1]])).toThrow(
      invalid(/head parameter "temperature" has no initial value/),
    );
  });

  it('differentiates with respect to a parameter given as a tensor, and to the output through it', () => {
    // loss = mean(exp(t) * output): d/dt = exp(t) * mean(output), d/doutput = exp(t) / (N K).
    const t = tf.scalar(Math.log(4));
    const out = tf.tensor2d([
      [1, 2],
      [3, 6],
    ]);
    const expr = h.mean(h.mul(h.exp(h.param('t', 0)), h.output()));
    const value = evaluateHeadExpr(tf, expr, { output: out, params: { t } });
    expect(value.dataSync()[0]).toBeCloseTo(12, 5);
    const [dOut, dT] = tf.grads((o: Tensor, s: Tensor) => evaluateHeadExpr(tf, expr, { output: o as Tensor2D, params: { t: s } }))([
      out,
      t,
    ]);
    close(dOut!.arraySync(), [
      [1, 1],
      [1, 1],
    ]);
    expect(dT!.dataSync()[0]).toBeCloseTo(12, 4);
    for (const tensor of [t, out, value, dOut!, dT!]) tensor.dispose();
  });

  it('reads a matrix parameter given as a tensor in its shape, and refuses another shape or no values for a drawn start', () => {
    const classifier = h.param('classifier', { shape: [3, 2], init: 'glorotUniform' });
    const expr = h.add(h.matmulTransposed(h.output(), classifier), h.param('bias', { shape: [3], value: 0.5 }));
    const out = tf.tensor2d([[1, 2]]);
    const weights = tf.tensor2d([
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    const wrong = tf.tensor2d([[1, 0, 0]]);
    try {
      const value = evaluateHeadExpr(tf, expr, { output: out, params: { classifier: weights } });
      expect(value.arraySync()).toEqual([[1.5, 2.5, 3.5]]);
      value.dispose();
      expect(() => evaluateHeadExpr(tf, expr, { output: out, params: { classifier: wrong } })).toThrow(
        /head parameter "classifier" is given with shape \[1, 3\]; it has the shape \[3, 2\]/,
      );
      expect(() => evaluateHeadExpr(tf, expr, { output: out })).toThrow(
        /"classifier" starts from glorotUniform values drawn when training starts/,
      );
    } finally {
      for (const t of [out, weights, wrong]) t.dispose();
    }
  });

  it('differentiates a matrix parameter through gatherRows: the rows of repeated indices add up, other rows get 0', () => {
    // loss = mean over rows i of output_i . W[label_i]: dW[r] = (1 / N) * sum of output_i over the rows labelled r.
    const expr = h.mean(h.rowSum(h.mul(h.output(), h.gatherRows(h.param('w', { shape: [3, 2], init: 'zeros' }), h.labels()))));
    const out = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const labels = tf.tensor1d([2, 2, 0], 'int32') as Tensor1D;
    const w = tf.variable(tf.zeros([3, 2]));
    try {
      const { grads } = tf.variableGrads(() => evaluateHeadExpr(tf, expr, { output: out, labels, params: { w } }) as Scalar, [w]);
      close(grads[w.name]!.arraySync(), [
        [5 / 3, 6 / 3],
        [0, 0],
        [(1 + 3) / 3, (2 + 4) / 3],
      ]);
      for (const g of Object.values(grads)) g.dispose();
    } finally {
      for (const t of [out, labels, w]) t.dispose();
    }
  });

  it('leaves no intermediate tensors behind, also when it throws', () => {
    const before = tf.memory().numTensors;
    run(hpnLoss, [[1, 2]], [0], { prototypes: [[1, 0]] });
    expect(() => run(h.add(h.softmax(h.output()), h.constant('missing')), [[1, 2]])).toThrow();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('evaluateHeadExpr: the two heads', () => {
  // The heads' own expressions, checked against core's float64 reference interpreter (whose values the head
  // packages check by hand): no formula of a head is typed again here.
  const rng = createRng(7);
  const rows = 6;
  const classes = 4;
  const dims = 5;
  const output = Array.from({ length: rows }, () => Array.from({ length: classes }, () => 3 * rng.normal()));
  const outputD = Array.from({ length: rows }, () => Array.from({ length: dims }, () => rng.normal()));
  const labels = Array.from({ length: rows }, () => rng.int(classes));
  const prototypes = Array.from({ length: classes }, () => {
    const v = Array.from({ length: dims }, () => rng.normal());
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  });
  const matrix = (m: number[][]) => createMatrix(m.length, m[0]!.length, Float32Array.from(m.flat()));
  const reference = (expr: HeadExpr, out: number[][], withLabels = true) => {
    const value = evaluateReference(expr, {
      output: matrix(out),
      constants: { prototypes: matrix(prototypes) },
      ...(withLabels ? { labels: Int32Array.from(labels) } : {}),
    });
    return value.shape.length === 0 ? value.data[0]! : [...value.data];
  };

  it('softmax cross-entropy and probabilities match the reference, and the gradient is (softmax - onehot) / N', () => {
    expect(run(softmaxLoss, output, labels) as number).toBeCloseTo(reference(softmaxLoss, output) as number, 5);
    const probabilities = reference(softmaxScores, output, false) as number[];
    close(run(softmaxScores, output), probabilities);

    const lab = tf.tensor1d(labels, 'int32');
    const grad = tf.grad((out: Tensor) => evaluateHeadExpr(tf, softmaxLoss, { output: out as Tensor2D, labels: lab as Tensor1D }))(
      tf.tensor2d(output),
    );
    const expectedGrad = output.map((row, i) => row.map((_, j) => (probabilities[i * classes + j]! - (j === labels[i] ? 1 : 0)) / rows));
    close(grad.arraySync(), expectedGrad);
  });

  it('HPN loss and cosine scores match the reference', () => {
    expect(run(hpnLoss, outputD, labels, { prototypes }) as number).toBeCloseTo(reference(hpnLoss, outputD) as number, 5);
    close(run(hpnScores, outputD, undefined, { prototypes }), reference(hpnScores, outputD, false));
  });

  it('HPN loss has a finite gradient that matches finite differences', () => {
    const lab = tf.tensor1d(labels, 'int32');
    const protos = tf.tensor2d(prototypes);
    const loss = (out: number[][]) => {
      const t = tf.tensor2d(out);
      const value = evaluateHeadExpr(tf, hpnLoss, { output: t, labels: lab as Tensor1D, constants: { prototypes: protos } });
      const number = value.dataSync()[0]!;
      t.dispose();
      value.dispose();
      return number;
    };
    const grad = tf
      .grad((out: Tensor) =>
        evaluateHeadExpr(tf, hpnLoss, { output: out as Tensor2D, labels: lab as Tensor1D, constants: { prototypes: protos } }),
      )(tf.tensor2d(outputD))
      .arraySync() as number[][];
    const eps = 1e-2;
    for (const [i, j] of [
      [0, 0],
      [3, 2],
      [5, 4],
    ] as const) {
      const plus = outputD.map((r) => [...r]);
      const minus = outputD.map((r) => [...r]);
      plus[i]![j]! += eps;
      minus[i]![j]! -= eps;
      expect(grad[i]![j]!).toBeCloseTo((loss(plus) - loss(minus)) / (2 * eps), 2);
    }
  });
});

describe('evaluateHeadExpr: gradients through every operation', () => {
  it('differentiates gatherRows and pickPerRow of the output (the wasm backend has no gather gradient)', () => {
    const grad = tf.grad((out: Tensor) =>
      evaluateHeadExpr(tf, h.add(h.mean(h.gatherRows(h.output(), h.labels())), h.mean(h.pickPerRow(h.output(), h.labels()))), {
        output: out as Tensor2D,
        labels: tf.tensor1d([1, 1], 'int32') as Tensor1D,
      }),
    )(
      tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
    );
    // gatherRows: row 1 taken twice, 4 elements averaged: 0.5 each; pickPerRow: x[0,1] and x[1,1], 0.5 each.
    close(grad.arraySync(), [
      [0, 0.5],
      [0.5, 1],
    ]);
  });
});

describe('evaluateHeadExpr against the float64 reference interpreter of @hyperproto/core', () => {
  /** Inputs of random sizes: output [N, K] (row 0 zero), labels below N, K and C, prototypes [C, K] and more. */
  function randomInputs(seed: number) {
    const rng = createRng(seed);
    const [rows, width, classes] = [2 + rng.int(5), 2 + rng.int(4), 2 + rng.int(4)];
    const normal = (count: number, sd = 1) => rng.fillNormal(new Float32Array(count), 0, sd);
    const output = createMatrix(rows, width, normal(rows * width, 2));
    output.data.fill(0, 0, width);
    const constants: Record<string, Matrix> = {
      prototypes: createMatrix(classes, width, normal(classes * width)),
      offsets: createMatrix(1, width, normal(width)),
      pairs: createMatrix(width, 2, normal(width * 2)),
      which: createMatrix(
        3,
        1,
        Float32Array.from({ length: 3 }, () => rng.int(classes)),
      ),
    };
    const labels = Int32Array.from({ length: rows }, () => rng.int(Math.min(rows, width, classes)));
    return { output, labels, constants, rows, width };
  }

  const o = h.output();
  const y = h.labels();
  const c = h.constant;
  /** Each operation at least once, with the broadcasts the reference allows: scalar, [1, K] and [K] against [N, K]. */
  const expressions: readonly (readonly [HeadOp, HeadExpr])[] = [
    ['output', o],
    ['labels', h.add(y, h.scalar(1))],
    ['constant', c('prototypes')],
    ['scalar', h.mul(h.scalar(-1.5), o)],
    ['param', h.mul(h.param('scale', 16), o)],
    ['div', h.div(o, h.add(h.mul(o, o), h.scalar(1)))],
    ['div', h.div(c('offsets'), h.add(h.exp(o), h.scalar(1)))],
    ['div', h.div(h.rowSum(c('pairs')), h.add(h.mul(o, o), h.scalar(0.5)))],
    ['exp', h.exp(h.mul(h.param('logScale', Math.log(16)), h.l2normalize(o)))],
    ['log', h.log(h.softmax(o))],
    ['log', h.log(h.add(h.mul(o, o), h.scalar(1e-3)))],
    ['oneHot', h.oneHot(y, 6)],
    // A margin at the label: [N, 1] cosines against [N, 6] one-hot rows broadcast to [N, 6].
    [
      'oneHot',
      h.mean(
        h.neg(
          h.pickPerRow(
            h.logSoftmax(
              h.mul(h.scalar(16), h.sub(h.matmulTransposed(h.l2normalize(o), c('offsets')), h.mul(h.scalar(0.35), h.oneHot(y, 6)))),
            ),
            y,
          ),
        ),
      ),
    ],
    ['add', h.add(c('offsets'), o)],
    ['add', h.add(o, h.rowSum(c('pairs')))],
    ['sub', h.sub(o, h.scalar(2))],
    ['mul', h.mul(h.rowSum(c('pairs')), o)],
    ['neg', h.neg(h.rowSum(o))],
    ['pow', h.pow(o, 2)],
    ['pow', h.pow(h.sub(o, h.scalar(1)), 3)],
    ['matmulTransposed', h.matmulTransposed(o, c('prototypes'))],
    ['l2normalize', h.l2normalize(o)],
    ['softmax', h.softmax(h.matmulTransposed(h.l2normalize(o), c('prototypes')))],
    ['logSoftmax', h.logSoftmax(h.mul(o, h.scalar(20)))],
    ['gatherRows', h.gatherRows(c('prototypes'), y)],
    ['gatherRows', h.gatherRows(c('prototypes'), h.rowSum(c('which')))],
    ['gatherRows', h.gatherRows(o, y)],
    ['pickPerRow', h.pickPerRow(h.logSoftmax(o), y)],
    // No class sample here: every class, and the labels.
    ['sampledRows', h.matmulTransposed(o, h.sampledRows(c('prototypes')))],
    ['sampledLabels', h.pickPerRow(h.logSoftmax(o), h.sampledLabels())],
    ['pickPerRow', h.pickPerRow(c('prototypes'), h.rowSum(h.mul(c('prototypes'), h.scalar(0))))],
    ['rowSum', h.rowSum(h.rowSum(o))],
    ['mean', softmaxLoss],
    ['mean', hpnLoss],
  ];

  it('covers every operation', () => {
    expect(new Set(expressions.map(([op]) => op))).toEqual(new Set(HEAD_OPS));
  });

  it.each([1, 2, 3, 4])('gives the reference values within float32 rounding (seed %i)', (seed) => {
    const { output, labels, constants } = randomInputs(seed);
    for (const [op, expr] of expressions) {
      const expected = evaluateReference(expr, { output, labels, constants });
      const tensors = Object.fromEntries(Object.entries(constants).map(([name, m]) => [name, tf.tensor2d(m.data, [m.rows, m.cols])]));
      const out = tf.tensor2d(output.data, [output.rows, output.cols]);
      const lab = tf.tensor1d(labels, 'int32');
      try {
        const result = evaluateHeadExpr(tf, expr, { output: out, labels: lab, constants: tensors });
        const got = result.dataSync();
        expect(result.shape, op).toEqual(expected.shape);
        result.dispose();
        expected.data.forEach((value, i) =>
          expect(Math.abs(got[i]! - value), `${op} [${i}]`).toBeLessThan(1e-5 * Math.max(1, Math.abs(value))),
        );
      } finally {
        for (const t of [out, lab, ...Object.values(tensors)]) t.dispose();
      }
    }
  });

  it("reads a class sample as the reference does: the sampled rows of a constant and a parameter, the labels' positions", () => {
    const { output, labels, constants } = randomInputs(6);
    const classes = constants.prototypes!.rows;
    const bias = h.param('bias', { shape: [classes], init: 'zeros' });
    const loss = h.mean(
      h.neg(
        h.pickPerRow(h.logSoftmax(h.add(h.matmulTransposed(o, h.sampledRows(c('prototypes'))), h.sampledRows(bias))), h.sampledLabels()),
      ),
    );
    const biasValues = Float32Array.from({ length: classes }, (_, k) => 0.1 * k);
    // The classes in reverse, the first label of each row at its position.
    const sample = {
      classes: Int32Array.from({ length: classes }, (_, k) => classes - 1 - k),
      labels: Int32Array.from(labels, (label) => classes - 1 - (label % classes)),
    };
    const expected = evaluateReference(loss, { output, constants, params: { bias: biasValues }, sample }).data[0]!;
    const tensors = Object.fromEntries(Object.entries(constants).map(([name, m]) => [name, tf.tensor2d(m.data, [m.rows, m.cols])]));
    const inputs = {
      output: tf.tensor2d(output.data, [output.rows, output.cols]),
      params: { bias: tf.tensor1d(biasValues) },
      sample: { classes: tf.tensor1d(sample.classes, 'int32') as Tensor1D, labels: tf.tensor1d(sample.labels, 'int32') as Tensor1D },
    };
    try {
      const value = evaluateHeadExpr(tf, loss, { ...inputs, constants: tensors });
      expect(Math.abs(value.dataSync()[0]! - expected)).toBeLessThan(1e-5 * Math.max(1, Math.abs(expected)));
      value.dispose();
      // Rows given for the parameter (what a trainer that updates them row by row feeds) are read instead of gathered.
      const rows = tf.tensor1d(Array.from(sample.classes, (k) => biasValues[k]!));
      const withRows = evaluateHeadExpr(tf, loss, { ...inputs, constants: tensors, sample: { ...inputs.sample, rows: { bias: rows } } });
      expect(Math.abs(withRows.dataSync()[0]! - expected)).toBeLessThan(1e-5 * Math.max(1, Math.abs(expected)));
      for (const t of [withRows, rows]) t.dispose();
    } finally {
      for (const t of [inputs.output, inputs.params.bias, inputs.sample.classes, inputs.sample.labels, ...Object.values(tensors)])
        t.dispose();
    }
  });

  it('refuses what the reference refuses to broadcast: [N] against [N, K] for N != K', () => {
    const { output, rows, width } = randomInputs(5);
    expect(rows === width ? 'same sizes' : 'different sizes').toBe('different sizes');
    const out = tf.tensor2d(output.data, [output.rows, output.cols]);
    try {
      for (const expr of [h.add(o, h.rowSum(o)), h.div(o, h.rowSum(o)), h.div(h.rowSum(o), o)]) {
        expect(() => evaluateReference(expr, { output })).toThrow(/do not broadcast/);
        expect(() => evaluateHeadExpr(tf, expr, { output: out })).toThrow();
      }
    } finally {
      out.dispose();
    }
  });
});
