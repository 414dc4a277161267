import { createMatrix, createRng, ErrorCode, headParams, resolveOptions, type HeadPlugin, type Rng } from '@hyperproto/core';
import { BIAS_PARAM, bottleneckSoftmaxHead, CLASSIFIER_PARAM } from '@hyperproto/head-bottleneck-softmax';
import cosineSoftmaxHead, { LOG_SCALE_PARAM } from '@hyperproto/head-cosine-softmax';
import { hpnLoss } from '@hyperproto/head-hpn';
import marginHead from '@hyperproto/head-margin';
import { softmaxHead, softmaxLoss } from '@hyperproto/head-softmax';
import { GraphBuilder, headConstantValues, lowerHeadExpr, TracedGraph, type Value } from '@hyperproto/onnx-graph';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { builtinGradientRules, type GradientRule } from './gradient-rules.js';
import { buildTrainingStepModel } from './training-step-graph.js';
import { emitGradients } from './reverse-mode.js';

/** How to draw one differentiated input: its shape and, near kinks or poles, where its values may lie. */
interface InputSpec {
  readonly shape: readonly number[];
  /** Values drawn from [low, high) (default [-2, 2)); |value| at least `awayFromZero`. */
  readonly low?: number;
  readonly high?: number;
  readonly awayFromZero?: number;
}

interface Case {
  readonly name: string;
  /** The operators whose rules the case exercises. */
  readonly covers: readonly string[];
  readonly inputs: (rng: Rng) => InputSpec[];
  readonly build: (g: TracedGraph, inputs: readonly Value[], rng: Rng) => Value;
}

const STEP = 1e-6;
const TOLERANCE = 1e-6;

function draw(rng: Rng, spec: InputSpec): Float64Array {
  const values = new Float64Array(spec.shape.reduce((a, b) => a * b, 1));
  const low = spec.low ?? -2;
  const high = spec.high ?? 2;
  for (let i = 0; i < values.length; i++) {
    do values[i] = low + (high - low) * rng.float();
    while (Math.abs(values[i]!) < (spec.awayFromZero ?? 0));
  }
  return values;
}

const dim = (rng: Rng) => 2 + rng.int(4);

/** A float64 constant of random values; part of the graph, never differentiated. */
function randomConstant(g: TracedGraph, rng: Rng, shape: number[], low = -1, high = 1): Value {
  return g.constant('c', draw(rng, { shape, low, high }), shape);
}

function intConstant(g: TracedGraph, values: readonly number[], shape: readonly number[]): Value {
  return g.existing(g.builder.initializer('indices', Int32Array.from(values), shape), 'int32', shape);
}

/**
 * Checks the emitted gradients of sum(random weights * op(inputs)) against central finite differences in float64:
 * a random cotangent exercises every output element, and float64 leaves room for a 1e-6 tolerance.
 */
async function checkAgainstFiniteDifferences(testCase: Case, seed: number): Promise<void> {
  const rng = createRng(seed);
  const specs = testCase.inputs(rng);
  const values = specs.map((spec) => draw(rng, spec));
  const builder = new GraphBuilder('gradient_check');
  const g = new TracedGraph(builder, { floatType: 'float64' });
  const inputs = specs.map((spec, i) => g.input(`x${i}`, 'float64', spec.shape));
  const y = testCase.build(g, inputs, rng);
  const shape = y.shape as number[];
  const weighted = g.mul(y, randomConstant(g, rng, shape));
  const loss = shape.length
    ? g.reduceSum(
        weighted,
        shape.map((_, i) => i),
        false,
      )
    : weighted;
  const gradients = emitGradients(g, loss, inputs);
  g.finish([loss, ...gradients.filter((v): v is Value => v !== undefined)]);
  builder.output(loss.name, 'float64', []);
  gradients.forEach((gradient, i) => {
    expect(gradient, `a gradient for input ${i}`).toBeDefined();
    builder.output(gradient!.name, 'float64', specs[i]!.shape);
  });
  const session = await ort.InferenceSession.create(builder.toModel({ opset: 17 }));
  try {
    const feeds = (data: Float64Array[]) =>
      Object.fromEntries(data.map((d, i) => [`x${i}`, new ort.Tensor('float64', d, [...specs[i]!.shape])]));
    const analytic = await session.run(feeds(values));
    const lossAt = async (data: Float64Array[]) => ((await session.run(feeds(data), [loss.name]))[loss.name]!.data as Float64Array)[0]!;
    for (let i = 0; i < values.length; i++) {
      const emitted = analytic[gradients[i]!.name]!.data as Float64Array;
      for (let j = 0; j < values[i]!.length; j++) {
        const plus = values.map((v) => v.slice());
        const minus = values.map((v) => v.slice());
        plus[i]![j]! += STEP;
        minus[i]![j]! -= STEP;
        const numeric = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * STEP);
        expect(
          Math.abs(emitted[j]! - numeric),
          `${testCase.name} (seed ${seed}): d/dx${i}[${j}] = ${emitted[j]} vs ${numeric}`,
        ).toBeLessThan(TOLERANCE * (1 + Math.abs(numeric)));
      }
    }
  } finally {
    await session.release();
  }
}

const cases: Case[] = [
  { name: 'Identity', covers: ['Identity'], inputs: (r) => [{ shape: [dim(r), dim(r)] }], build: (g, [x]) => g.identity(x!) },
  {
    name: 'Add with a broadcast row and a broadcast column',
    covers: ['Add'],
    inputs: (r) => {
      const [a, b] = [dim(r), dim(r)];
      return [{ shape: [a, b] }, { shape: [b] }, { shape: [a, 1] }];
    },
    build: (g, [x, row, column]) => g.add(g.add(x!, row!), column!),
  },
  {
    name: 'Sub with broadcasting on both sides',
    covers: ['Sub'],
    inputs: (r) => {
      const [a, b] = [dim(r), dim(r)];
      return [{ shape: [a, 1] }, { shape: [1, b] }];
    },
    build: (g, [x, y]) => g.sub(x!, y!),
  },
  {
    name: 'Mul with a scalar and a row',
    covers: ['Mul'],
    inputs: (r) => {
      const [a, b] = [dim(r), dim(r)];
      return [{ shape: [a, b] }, { shape: [b] }, { shape: [] }];
    },
    build: (g, [x, row, s]) => g.mul(g.mul(x!, row!), s!),
  },
  {
    name: 'Div',
    covers: ['Div'],
    inputs: (r) => {
      const [a, b] = [dim(r), dim(r)];
      return [{ shape: [a, b] }, { shape: [a, 1], awayFromZero: 0.5 }];
    },
    build: (g, [x, y]) => g.div(x!, y!),
  },
  { name: 'Neg', covers: ['Neg'], inputs: (r) => [{ shape: [dim(r)] }], build: (g, [x]) => g.neg(x!) },
  {
    name: 'Pow with constant exponents 3 and 0.5',
    covers: ['Pow'],
    inputs: (r) => [{ shape: [dim(r), dim(r)], low: 0.2, high: 2 }],
    build: (g, [x]) => g.add(g.pow(x!, g.scalar(3)), g.pow(x!, g.scalar(0.5))),
  },
  { name: 'Sqrt', covers: ['Sqrt'], inputs: (r) => [{ shape: [dim(r), dim(r)], low: 0.2, high: 3 }], build: (g, [x]) => g.sqrt(x!) },
  {
    name: 'Reciprocal',
    covers: ['Reciprocal'],
    inputs: (r) => [{ shape: [dim(r), dim(r)], awayFromZero: 0.3 }],
    build: (g, [x]) => g.reciprocal(x!),
  },
  { name: 'Exp', covers: ['Exp'], inputs: (r) => [{ shape: [dim(r), dim(r)] }], build: (g, [x]) => g.exp(x!) },
  { name: 'Log', covers: ['Log'], inputs: (r) => [{ shape: [dim(r), dim(r)], low: 0.2, high: 3 }], build: (g, [x]) => g.log(x!) },
  {
    name: 'Relu away from its kink',
    covers: ['Relu'],
    inputs: (r) => [{ shape: [dim(r), dim(r)], awayFromZero: 0.05 }],
    build: (g, [x]) => g.relu(x!),
  },
  {
    name: 'Max of two inputs and against a constant floor',
    covers: ['Max'],
    inputs: (r) => {
      const shape = [dim(r), dim(r)];
      return [{ shape }, { shape: [shape[1]!] }];
    },
    // Offsetting one operand keeps the two apart, so no tie sits within a finite-difference step.
    build: (g, [x, y]) => g.max(g.max(x!, g.add(y!, g.scalar(0.013))), g.scalar(0.5)),
  },
  {
    name: 'Where under a fixed condition',
    covers: ['Where'],
    inputs: (r) => {
      const shape = [dim(r), dim(r)];
      return [{ shape }, { shape: [shape[1]!] }];
    },
    build: (g, [x, y], rng) => g.where(g.greater(randomConstant(g, rng, x!.shape as number[]), g.scalar(0)), x!, y!),
  },
  {
    name: 'MatMul',
    covers: ['MatMul'],
    inputs: (r) => {
      const [n, k, m] = [dim(r), dim(r), dim(r)];
      return [{ shape: [n, k] }, { shape: [k, m] }];
    },
    build: (g, [a, b]) => g.matmul(a!, b!),
  },
  ...[false, true].flatMap((transA) =>
    [false, true].map(
      (transB): Case => ({
        name: `Gemm transA=${transA} transB=${transB} with a bias`,
        covers: ['Gemm'],
        inputs: (r) => {
          const [n, k, m] = [dim(r), dim(r), dim(r)];
          return [{ shape: transA ? [k, n] : [n, k] }, { shape: transB ? [m, k] : [k, m] }, { shape: [m] }];
        },
        build: (g, [a, b, c]) => g.gemm(a!, b!, { transA, transB, c: c! }),
      }),
    ),
  ),
  {
    name: 'ReduceSum over an axis, kept and dropped',
    covers: ['ReduceSum'],
    inputs: (r) => [{ shape: [dim(r), dim(r), dim(r)] }],
    build: (g, [x]) => g.add(g.reduceSum(x!, [1], false), g.reduceSum(g.reduceSum(x!, [-1], true), [1], false)),
  },
  {
    name: 'ReduceMean over an axis and over everything',
    covers: ['ReduceMean'],
    inputs: (r) => [{ shape: [dim(r), dim(r)] }],
    build: (g, [x]) => g.mul(g.reduceMean(x!, [0], false), g.reduceMean(x!, undefined, false)),
  },
  { name: 'Softmax', covers: ['Softmax'], inputs: (r) => [{ shape: [dim(r), dim(r)] }], build: (g, [x]) => g.softmax(x!) },
  { name: 'LogSoftmax', covers: ['LogSoftmax'], inputs: (r) => [{ shape: [dim(r), dim(r)] }], build: (g, [x]) => g.logSoftmax(x!) },
  {
    name: 'Gather of rows with repeated indices',
    covers: ['Gather'],
    inputs: (r) => [{ shape: [3, dim(r)] }],
    build: (g, [x]) => g.gatherRows(x!, intConstant(g, [2, 0, 2, 2, 1], [5])),
  },
  {
    name: "Gather of a vector's elements, one of them never picked",
    covers: ['Gather'],
    inputs: () => [{ shape: [4] }],
    build: (g, [x]) => g.gatherRows(x!, intConstant(g, [3, 0, 3], [3])),
  },
  {
    name: 'GatherElements one per row, then Squeeze',
    covers: ['GatherElements', 'Squeeze', 'Unsqueeze'],
    inputs: () => [{ shape: [4, 3] }],
    build: (g, [x]) => g.squeeze(g.gatherElements(g.unsqueeze(x!, [0]), intConstant(g, [2, 0, 1, 2], [1, 4, 1]), 2), [0, 2]),
  },
  {
    name: 'Cast and Equal: a one-hot of computed indices passes no gradient, a float cast passes it back',
    covers: ['Cast', 'Equal'],
    // Values kept away from whole numbers, so that no truncation jumps within a finite-difference step.
    inputs: () => [{ shape: [5], low: 0.1, high: 0.9 }],
    build: (g, [x]) => {
      const indices = g.cast(g.add(x!, g.constant('offsets', [0, 1, 2, 1, 0], [5])), 'int64');
      const oneHot = g.cast(g.equal(g.unsqueeze(indices, [1]), g.ints([0, 1, 2])), 'float64');
      return g.mul(g.unsqueeze(g.cast(x!, 'float64'), [1]), oneHot);
    },
  },
  {
    name: 'Reshape and Expand',
    covers: ['Reshape', 'Expand'],
    inputs: (r) => [{ shape: [2, 3] }, { shape: [1, dim(r)] }],
    build: (g, [x, row], rng) => {
      const flat = g.reshapeLike(x!, randomConstant(g, rng, [3, 2]));
      const tall = g.expandLike(row!, randomConstant(g, rng, [3, row!.shape[1] as number]));
      return g.gemm(flat, tall, { transA: true });
    },
  },
];

describe('gradient rules against finite differences (float64, random shapes)', () => {
  it('cover every built-in rule', () => {
    expect(new Set(cases.flatMap((c) => c.covers))).toEqual(new Set(builtinGradientRules.keys()));
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    for (const seed of [1, 2, 3]) await checkAgainstFiniteDifferences(testCase, seed);
  });

  it('the head losses differentiate end to end: softmax cross-entropy and the HPN cosine loss', async () => {
    // The heads' own expressions (@hyperproto/head-softmax and head-hpn), not copies.
    for (const [name, loss] of [
      ['softmax', softmaxLoss],
      ['hpn', hpnLoss],
    ] as const) {
      await checkAgainstFiniteDifferences(
        {
          name,
          covers: [],
          inputs: () => [{ shape: [5, 4] }],
          build: (g, [output], rng) => {
            const labels = intConstant(g, [0, 3, 1, 3, 2], [5]);
            return lowerHeadExpr(g, loss, { output: output!, labels, constants: { prototypes: randomConstant(g, rng, [4, 4]) } });
          },
        },
        7,
      );
    }
  });
});

describe('the heads over prototypes with a learned scale', () => {
  it('differentiate end to end with respect to the output and the log-scale: cosine-softmax and margin', async () => {
    // The heads' own expressions, built by their plugins with learnScale: exp(logScale) * cos, the margin's one-hot.
    const rng = createRng(11);
    const prototypes = createMatrix(4, 4, rng.fillNormal(new Float32Array(16)));
    for (const plugin of [cosineSoftmaxHead, marginHead] as HeadPlugin[]) {
      const head = plugin.build({ classes: 4, prototypes }, resolveOptions(plugin, { learnScale: true, scale: 3 }));
      const [param] = [...headParams(head).keys()];
      expect(param).toBe(LOG_SCALE_PARAM);
      await checkAgainstFiniteDifferences(
        {
          name: plugin.name,
          covers: [],
          inputs: () => [{ shape: [5, 4] }, { shape: [], low: 0.5, high: 1.5 }],
          build: (g, [output, logScale]) => {
            const labels = intConstant(g, [0, 3, 1, 3, 2], [5]);
            const constants = headConstantValues(g, head.constants, [head.loss]);
            return lowerHeadExpr(g, head.loss, { output: output!, labels, constants, params: { [LOG_SCALE_PARAM]: logScale! } });
          },
        },
        7,
      );
    }
  });
});

describe('a head with learned matrix parameters', () => {
  it('differentiates end to end with respect to the output, the classifier [C, D] and the bias [C]: bottleneck-softmax', async () => {
    const head = bottleneckSoftmaxHead.build({ classes: 4 }, resolveOptions(bottleneckSoftmaxHead, { dims: 3 }));
    await checkAgainstFiniteDifferences(
      {
        name: 'bottleneck-softmax',
        covers: [],
        inputs: () => [{ shape: [5, 3] }, { shape: [4, 3] }, { shape: [4] }],
        build: (g, [output, classifier, bias]) => {
          const labels = intConstant(g, [0, 3, 1, 3, 2], [5]);
          return lowerHeadExpr(g, head.loss, {
            output: output!,
            labels,
            constants: {},
            params: { [CLASSIFIER_PARAM]: classifier!, [BIAS_PARAM]: bias! },
          });
        },
      },
      5,
    );
  });
});

describe('a loss with an operator that has no gradient rule', () => {
  it('is refused when the training graph is built, naming the operator and the head operation', () => {
    const rules = new Map<string, GradientRule>(builtinGradientRules);
    rules.delete('LogSoftmax');
    const head = softmaxHead.build({ classes: 3 }, {});
    const build = () =>
      buildTrainingStepModel({
        shape: { inputWidth: 4, hiddenUnits: 5, hiddenLayers: 1, outputUnits: 3 },
        head,
        learningRate: 1e-3,
        dropout: 0,
        rules,
      });
    expect(build).toThrow(expect.objectContaining({ code: ErrorCode.Unsupported }));
    expect(build).toThrow(/head operation "logSoftmax".*ONNX operator LogSoftmax has no gradient rule/);
  });
});
