#!/usr/bin/env node
// Writes the small exported models that @hyperproto/runtime-node's tests load (that package does not depend on
// the exporter). Run after building this package: `node scripts/write-runtime-fixtures.mjs`. Seeded: the same
// bytes every time.
import { writeFileSync } from 'node:fs';
import { createMatrix, createRng, h } from '@hyperproto/core';
import bottleneckSoftmaxHead from '@hyperproto/head-bottleneck-softmax';
import { mlpLayerList, mlpLayers } from '@hyperproto/mlp';
import { exportOnnx } from '../dist/index.js';

const outDir = new URL('../../runtime-node/src/test-fixtures/', import.meta.url);
const rng = createRng(20);

/** Weights of the network with batch norm statistics a trained model could have, drawn layer by layer. */
function mlpWeights(inputWidth, hiddenUnits, hiddenLayers, outputUnits) {
  const layers = mlpLayers({ inputWidth, hiddenUnits, hiddenLayers, outputUnits });
  const make = (spec, fill) => ({
    name: spec.name,
    shape: spec.shape,
    data: fill(new Float32Array(spec.shape.reduce((a, b) => a * b, 1))),
  });
  const kernel = (spec) => make(spec, (d) => rng.fillNormal(d, 0, 1 / Math.sqrt(spec.shape[0])));
  return mlpLayerList({
    hidden: layers.hidden.map((layer) => ({
      kernel: kernel(layer.kernel),
      gamma: make(layer.gamma, (d) => rng.fillUniform(d, 0.5, 1.5)),
      beta: make(layer.beta, (d) => rng.fillNormal(d, 0, 0.2)),
      movingMean: make(layer.movingMean, (d) => rng.fillNormal(d, 0, 0.2)),
      movingVariance: make(layer.movingVariance, (d) => rng.fillUniform(d, 0.5, 2)),
    })),
    head: { kernel: kernel(layers.head.kernel), bias: make(layers.head.bias, (d) => rng.fillNormal(d, 0, 0.1)) },
  });
}

const trainer = { hiddenUnits: 16, hiddenLayers: 2 };
const softmax = {
  inputWidth: 8,
  classes: 5,
  trainer,
  head: { outputUnits: 5, loss: h.mean(h.output()), scores: h.softmax(h.output()), scoresName: 'probabilities', constants: {} },
  weights: mlpWeights(8, 16, 2, 5),
};
writeFileSync(
  new URL('softmax-8x5-top3.onnx', outDir),
  exportOnnx(softmax, {
    metadata: { head: 'softmax' },
    topK: 3,
    classNames: ['ant', 'bee', 'cat', 'dog', 'eel'],
    producerVersion: '0.0.0-fixture',
  }),
);

const prototypes = createMatrix(6, 3, rng.fillNormal(new Float32Array(18)));
for (let r = 0; r < 6; r++) {
  const row = prototypes.data.subarray(r * 3, r * 3 + 3);
  const norm = Math.hypot(...row);
  row.forEach((v, i) => (row[i] = v / norm));
}
const hpn = {
  inputWidth: 8,
  classes: 6,
  trainer,
  head: {
    outputUnits: 3,
    loss: h.mean(h.output()),
    scores: h.matmulTransposed(h.l2normalize(h.output()), h.constant('prototypes')),
    scoresName: 'scores',
    constants: { prototypes },
  },
  weights: mlpWeights(8, 16, 2, 3),
};
writeFileSync(
  new URL('hpn-8x6.onnx', outDir),
  exportOnnx(hpn, { metadata: { head: 'hpn', strategy: 'random' }, producerVersion: '0.0.0-fixture' }),
);

// A learned classifier [5, 4] and bias [5] (head parameters) at values a trained model could have.
const bottleneckHead = bottleneckSoftmaxHead.build({ classes: 5 }, { dims: 4 });
const bottleneck = {
  inputWidth: 8,
  classes: 5,
  trainer,
  head: {
    ...bottleneckHead,
    params: { classifier: rng.fillNormal(new Float32Array(20), 0, 0.5), bias: rng.fillNormal(new Float32Array(5), 0, 0.1) },
  },
  weights: mlpWeights(8, 16, 2, 4),
};
writeFileSync(
  new URL('bottleneck-8x5.onnx', outDir),
  exportOnnx(bottleneck, { metadata: { head: 'bottleneck-softmax' }, producerVersion: '0.0.0-fixture' }),
);
console.log('wrote softmax-8x5-top3.onnx, hpn-8x6.onnx and bottleneck-8x5.onnx');
