#!/usr/bin/env node
// The training step node by node: each node's kernel time per step from onnxruntime's profiler, the largest first,
// with its operator and input shapes, for finding what to make faster (`pnpm bench train` groups the same times by
// kind). The profiler slows every kernel (about 1.7x here) and adds its own cost per node: compare nodes with each
// other, not with the step's time.
//
//   node bench/node-profile.mjs [--head=hpn|softmax] [--batch=256] [--threads=2] [--nodes=40]
// after `pnpm --filter @hyperproto/engine-onnxruntime build`. The model: 300 inputs, two hidden layers of 300,
// dropout 0.3, 1,000 classes (HPN: 100 dimensions), 24 batches per run, 7 profiled runs after one unprofiled.
import { createRng } from '@hyperproto/core';
import { hpnHead } from '@hyperproto/head-hpn';
import { softmaxHead } from '@hyperproto/head-softmax';
import { initialMlpWeights } from '@hyperproto/mlp';
import { fillDropoutMask, TrainingSession } from '../dist/index.js';
import { flag, positiveNumber, randomPrototypes, WIDTH } from './child-measurement.mjs';
import { kernelEvents, nodeName, profiled } from './step-breakdown.mjs';

const kind = flag('head') ?? 'hpn';
if (kind !== 'hpn' && kind !== 'softmax') {
  console.error(`--head takes hpn or softmax, got ${kind}`);
  process.exit(2);
}
const batch = positiveNumber('batch', flag('batch'), { fallback: 256 });
const threads = positiveNumber('threads', flag('threads'), { fallback: 2 });
const shown = positiveNumber('nodes', flag('nodes'), { fallback: 40 });
const CLASSES = 1000;
const HIDDEN = 300;
const BATCHES_PER_RUN = 24;
const PROFILED_RUNS = 7;

const head =
  kind === 'softmax'
    ? softmaxHead.build({ classes: CLASSES }, {})
    : hpnHead.build({ classes: CLASSES, prototypes: randomPrototypes(createRng(2), CLASSES, 100) }, {});
const shape = { inputWidth: WIDTH, hiddenUnits: HIDDEN, hiddenLayers: 2, outputUnits: head.outputUnits };
const rng = createRng(4);
const rows = BATCHES_PER_RUN * batch;
const batches = {
  count: BATCHES_PER_RUN,
  rows: batch,
  features: rng.fillNormal(new Float32Array(rows * WIDTH)),
  labels: Int32Array.from({ length: rows }, () => rng.int(CLASSES)),
  dropoutMasks: [0, 1].map(() => {
    const mask = new Float32Array(rows * HIDDEN);
    fillDropoutMask(rng, mask, 0, mask.length, 0.3);
    return mask;
  }),
};
const spec = { shape, head, learningRate: 1e-3, dropout: 0.3, weights: initialMlpWeights(shape, createRng(5)) };

const events = await profiled(
  (prefix) => TrainingSession.create({ ...spec, session: { threads, profileFilePrefix: prefix } }),
  async (session) => {
    for (let i = 0; i <= PROFILED_RUNS; i++) await session.run(batches);
  },
);
// The runs after the first (its kernels include the first touches of every buffer).
const scans = kernelEvents(events).filter((e) => e.args?.op_name === 'Scan');
const from = scans[scans.length - PROFILED_RUNS].ts;
const nodes = new Map();
for (const event of kernelEvents(events).filter((e) => e.ts >= from && e.args?.op_name !== 'Scan')) {
  const name = nodeName(event);
  const node = nodes.get(name) ?? { op: event.args?.op_name ?? '?', inputs: event.args?.input_type_shape ?? [], micros: 0 };
  node.micros += event.dur;
  nodes.set(name, node);
}
const steps = PROFILED_RUNS * BATCHES_PER_RUN;
const total = [...nodes.values()].reduce((sum, node) => sum + node.micros, 0);
const shapes = (inputs) => inputs.map((input) => Object.entries(input).map(([type, dims]) => `${type}[${dims.join(',')}]`)).join(' ');
console.log(
  `${kind}, batch ${batch}, ${threads} thread(s): ${nodes.size} nodes, ${(total / steps).toFixed(0)} us of kernels per step (profiled)`,
);
for (const [name, node] of [...nodes].sort((a, b) => b[1].micros - a[1].micros).slice(0, shown)) {
  const micros = node.micros / steps;
  console.log(
    `${micros.toFixed(1).padStart(8)} us ${((100 * node.micros) / total).toFixed(1).padStart(5)}%  ${node.op.padEnd(15)} ${name.padEnd(20)} ${shapes(node.inputs)}`,
  );
}
