import { createRng, h, type NamedWeight } from '@hyperproto/core';
import { exportOnnx } from '@hyperproto/onnx';

/** A small exported softmax model with seeded random weights: the server's behaviour does not depend on training. */
export function seededSoftmaxModel(options: {
  width: number;
  classes: number;
  seed?: number;
  /** Hidden units of its one layer; 16 by default. */
  hidden?: number;
  classNames?: string[];
  topK?: number;
}): Uint8Array {
  const { width, classes, hidden = 16 } = options;
  const rng = createRng(options.seed ?? 5);
  const weights: NamedWeight[] = [];
  const add = (name: string, shape: number[], fill: (d: Float32Array) => Float32Array) =>
    weights.push({ name, shape, data: fill(new Float32Array(shape.reduce((a, b) => a * b, 1))) });
  add('trunk/dense0/kernel', [width, hidden], (d) => rng.fillNormal(d, 0, 0.3));
  add('trunk/bn0/gamma', [hidden], (d) => d.fill(1));
  add('trunk/bn0/beta', [hidden], (d) => rng.fillNormal(d, 0, 0.1));
  add('trunk/bn0/moving_mean', [hidden], (d) => d);
  add('trunk/bn0/moving_variance', [hidden], (d) => d.fill(1));
  add('head/dense/kernel', [hidden, classes], (d) => rng.fillNormal(d, 0, 0.5));
  add('head/dense/bias', [classes], (d) => d);
  const head = {
    outputUnits: classes,
    loss: h.mean(h.output()),
    scores: h.softmax(h.output()),
    scoresName: 'probabilities',
    constants: {},
  };
  return exportOnnx(
    { inputWidth: width, classes, head, weights, trainer: { hiddenUnits: hidden, hiddenLayers: 1 } },
    {
      metadata: { head: 'softmax' },
      ...(options.classNames ? { classNames: options.classNames } : {}),
      ...(options.topK ? { topK: options.topK } : {}),
    },
  );
}
