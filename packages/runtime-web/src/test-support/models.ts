import { GraphBuilder } from '@hyperproto/onnx-graph';

/** A seeded uniform stream in [-1, 1), so the test models and inputs are the same on every run. */
export function uniform(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 2 ** 32) * 2 - 1;
  };
}

export interface TinyClassifier {
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly classes: number;
  /** The same network in float64 JavaScript: scores of one row. */
  reference(row: ArrayLike<number>): number[];
}

/**
 * The shape every exported model has: `features` [N, width] -> Gemm -> Relu -> Gemm -> head, with a `label` argmax.
 * `softmax` gives `probabilities`; `hpn` L2-normalises and multiplies by unit prototypes, giving cosine `scores`.
 */
export function tinyClassifier(head: 'softmax' | 'hpn', options: { width?: number; hidden?: number; classes?: number; dims?: number; metadata?: Record<string, string> } = {}): TinyClassifier {
  const width = options.width ?? 12;
  const hidden = options.hidden ?? 10;
  const classes = options.classes ?? 5;
  const dims = head === 'hpn' ? (options.dims ?? 4) : classes;
  const next = uniform(head === 'hpn' ? 7 : 3);
  const w1 = Float32Array.from({ length: width * hidden }, next);
  const b1 = Float32Array.from({ length: hidden }, next);
  const w2 = Float32Array.from({ length: hidden * dims }, next);
  const b2 = Float32Array.from({ length: dims }, next);
  const prototypes = Float32Array.from({ length: classes * dims }, next);
  for (let c = 0; c < classes; c++) {
    const norm = Math.hypot(...prototypes.subarray(c * dims, (c + 1) * dims));
    for (let d = 0; d < dims; d++) prototypes[c * dims + d]! /= norm;
  }

  const g = new GraphBuilder('tiny');
  const x = g.input('features', 'float32', ['N', width]);
  const h = g.node('Relu', [g.node('Gemm', [x, g.initializer('w1', w1, [width, hidden]), g.initializer('b1', b1, [hidden])])]);
  const out = g.node('Gemm', [h, g.initializer('w2', w2, [hidden, dims]), g.initializer('b2', b2, [dims])]);
  const scoresName = head === 'softmax' ? 'probabilities' : 'scores';
  if (head === 'softmax') {
    g.node('Softmax', [out], { axis: 1 }, { outputs: [scoresName] });
  } else {
    const unit = g.node('LpNormalization', [out], { axis: 1, p: 2 });
    g.node('Gemm', [unit, g.initializer('prototypes', prototypes, [classes, dims])], { transB: 1 }, { outputs: [scoresName] });
  }
  g.output(scoresName, 'float32', ['N', classes]);
  g.output(g.node('ArgMax', [scoresName], { axis: 1, keepdims: 0 }, { outputs: ['label'] }), 'int64', ['N']);
  const bytes = g.toModel({
    producerVersion: '0.0.0-test',
    metadata: { head, classes: String(classes), dims: String(dims), inputWidth: String(width), scoresName, ...options.metadata },
  });

  const reference = (row: ArrayLike<number>): number[] => {
    const hiddenValues = Array.from({ length: hidden }, (_, j) => {
      let sum = b1[j]!;
      for (let i = 0; i < width; i++) sum += row[i]! * w1[i * hidden + j]!;
      return Math.max(0, sum);
    });
    const output = Array.from({ length: dims }, (_, j) => {
      let sum = b2[j]!;
      for (let i = 0; i < hidden; i++) sum += hiddenValues[i]! * w2[i * dims + j]!;
      return sum;
    });
    if (head === 'softmax') {
      const max = Math.max(...output);
      const exps = output.map((v) => Math.exp(v - max));
      const total = exps.reduce((a, b) => a + b, 0);
      return exps.map((v) => v / total);
    }
    const norm = Math.hypot(...output);
    return Array.from({ length: classes }, (_, c) => {
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += (output[d]! / norm) * prototypes[c * dims + d]!;
      return dot;
    });
  };
  return { bytes, width, classes, reference };
}

/** A model that loads but fails when run: Reshape to a fixed size the batch never has. */
export function failingModel(width = 4): Uint8Array {
  const g = new GraphBuilder('fails-at-run');
  const x = g.input('features', 'float32', ['N', width]);
  const reshaped = g.node('Reshape', [x, g.ints([7, 3])]);
  g.node('Softmax', [reshaped], { axis: 1 }, { outputs: ['probabilities'] });
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
