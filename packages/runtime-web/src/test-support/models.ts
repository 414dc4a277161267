import { createMatrix, createRng, evaluateHeadExpr, type HeadDefinition, startHeadParams } from '@hyperproto/core';
import { BATCH_NORM_EPSILON, initialMlpWeights } from '@hyperproto/mlp';
import bottleneckSoftmaxHead from '@hyperproto/head-bottleneck-softmax';
import hpnHead from '@hyperproto/head-hpn';
import softmaxHead from '@hyperproto/head-softmax';
import { exportOnnx } from '@hyperproto/onnx';
import { GraphBuilder } from '@hyperproto/onnx-graph';

/** A seeded uniform stream in [-1, 1), so the test inputs are the same on every run. */
export function uniform(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 2 ** 32) * 2 - 1;
  };
}

export interface ExportedClassifier {
  /** The file `@hyperproto/onnx` wrote. */
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly classes: number;
  readonly head: HeadDefinition;
  /** The same network in float64 JavaScript (trunk with batch normalisation, then the head's own score expression). */
  reference(row: ArrayLike<number>): number[];
}

export interface ExportedClassifierOptions {
  readonly width?: number;
  readonly hidden?: number;
  readonly hiddenLayers?: number;
  readonly classes?: number;
  /** Prototype dimensions of the hpn head; output width of the bottleneck-softmax head. */
  readonly dims?: number;
  readonly classNames?: readonly string[];
  readonly topK?: number;
}

/**
 * A real exported model: the built-in softmax, hpn or bottleneck-softmax head plugin on the seed's trunk (dense
 * without bias, batch normalisation, ReLU) with seeded weights and non-trivial batch-norm statistics, written by
 * `exportOnnx`, the exporter `hyperproto export` uses. HPN prototypes are seeded unit rows; the bottleneck's
 * classifier and bias are its seeded starting values.
 */
export function exportedClassifier(
  headName: 'softmax' | 'hpn' | 'bottleneck-softmax',
  options: ExportedClassifierOptions = {},
): ExportedClassifier {
  const width = options.width ?? 12;
  const hiddenUnits = options.hidden ?? 10;
  const hiddenLayers = options.hiddenLayers ?? 2;
  const classes = options.classes ?? 5;
  const rng = createRng(headName === 'hpn' ? 7 : 3);
  let head: HeadDefinition;
  if (headName === 'softmax') {
    head = softmaxHead.build({ classes }, {});
  } else if (headName === 'bottleneck-softmax') {
    head = startHeadParams(bottleneckSoftmaxHead.build({ classes }, { dims: options.dims ?? 4, sampledShare: 1 }), rng.fork('head-params'));
  } else {
    const dims = options.dims ?? 4;
    const prototypes = createMatrix(classes, dims, rng.fillNormal(new Float32Array(classes * dims)));
    for (let c = 0; c < classes; c++) {
      const row = prototypes.data.subarray(c * dims, (c + 1) * dims);
      const norm = Math.hypot(...row);
      row.forEach((v, d) => (row[d] = v / norm));
    }
    head = hpnHead.build({ classes, prototypes }, {});
  }
  const weights = initialMlpWeights({ inputWidth: width, hiddenUnits, hiddenLayers, outputUnits: head.outputUnits }, rng).map((w) => {
    if (/gamma|beta|moving_mean/.test(w.name)) rng.fillNormal(w.data, w.name.endsWith('gamma') ? 1 : 0, 0.3);
    if (w.name.endsWith('moving_variance')) rng.fillUniform(w.data, 0.5, 2);
    if (w.name === 'head/dense/bias') rng.fillNormal(w.data, 0, 0.2);
    return w;
  });
  const bytes = exportOnnx(
    { inputWidth: width, classes, head, weights, trainer: { hiddenUnits, hiddenLayers } },
    {
      metadata: { head: headName, ...(headName === 'hpn' ? { strategy: 'random' } : {}) },
      producerVersion: '0.0.0-test',
      ...(options.classNames ? { classNames: options.classNames } : {}),
      ...(options.topK === undefined ? {} : { topK: options.topK }),
    },
  );

  const byName = new Map(weights.map((w) => [w.name, w.data]));
  const weight = (name: string) => byName.get(name)!;
  const reference = (row: ArrayLike<number>): number[] => {
    let values = Array.from(row, Number);
    for (let i = 0; i < hiddenLayers; i++) {
      const kernel = weight(`trunk/dense${i}/kernel`);
      const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((k) => weight(`trunk/bn${i}/${k}`));
      values = Array.from({ length: hiddenUnits }, (_, j) => {
        let sum = 0;
        for (let k = 0; k < values.length; k++) sum += values[k]! * kernel[k * hiddenUnits + j]!;
        const normalised = ((sum - mean![j]!) / Math.sqrt(variance![j]! + BATCH_NORM_EPSILON)) * gamma![j]! + beta![j]!;
        return Math.max(0, normalised);
      });
    }
    const kernel = weight('head/dense/kernel');
    const bias = weight('head/dense/bias');
    const units = head.outputUnits;
    const output = Float64Array.from({ length: units }, (_, j) => {
      let sum = bias[j]!;
      for (let k = 0; k < hiddenUnits; k++) sum += values[k]! * kernel[k * units + j]!;
      return sum;
    });
    const inputs = { output: { rows: 1, cols: units, data: output }, constants: head.constants, params: head.params };
    return Array.from(evaluateHeadExpr(head.scores, inputs).data);
  };
  return { bytes, width, classes, head, reference };
}

/**
 * A model that loads but fails when run: its input's width is dynamic, its metadata says `width`, and its weights
 * take 7 features, so the batch never fits them.
 */
export function failingModel(width = 4): Uint8Array {
  const g = new GraphBuilder('fails-at-run');
  const x = g.input('features', 'float32', ['N', 'W']);
  const logits = g.node('Gemm', [x, g.initializer('w', new Float32Array(21), [7, 3])]);
  g.node('Softmax', [logits], { axis: 1 }, { outputs: ['probabilities'] });
  g.output('probabilities', 'float32', ['N', 3]);
  return g.toModel({ metadata: { inputWidth: String(width) } });
}

/** A valid model that is no classifier: one output named `y`, three-dimensional. */
export function notAClassifier(): Uint8Array {
  const g = new GraphBuilder('identity');
  const x = g.input('features', 'float32', ['N', 2, 2]);
  g.output(g.node('Identity', [x], {}, { outputs: ['y'] }), 'float32', ['N', 2, 2]);
  return g.toModel();
}
