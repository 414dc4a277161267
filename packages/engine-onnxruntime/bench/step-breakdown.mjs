// Where a training step's time goes. onnxruntime's profiler times every kernel, but it also costs tens of
// microseconds per node (more than many of the kernels, and more than the Scan's own work between them) and slows
// the kernels themselves, so it is used for shares only, and times come from plain sessions:
// - the step: a plain session's wall time per batch, K batches per run;
// - per run (handing the state and batches over and back, the Scan's start and end), amortised over the K batches:
//   from plain runs of K batches and of one, t(K) = perRun + K * perBatch;
// - the Scan's own time between its body's kernels: the body's nodes times the executor's cost per node, plus the
//   Scan's cost per iteration, both measured here on plain models of tiny operators (a chain of 200 nodes; a Scan
//   of 1,000 iterations of one node);
// - the kernels: the rest of the step, shared out as the profiled kernel times are, grouped into the network's
//   MatMul/Gemm products, column sums (products with a row of ones), the optimizer (Adam's nodes) and the other
//   operators by kind.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '@hyperproto/onnx-graph';
import { computeSessionOptions } from '@hyperproto/onnxruntime-session';
import * as ort from 'onnxruntime-node';
import { TRAINING_NODE_PREFIXES, TrainingSession } from '../dist/index.js';

const MATRIX_PRODUCTS = new Set(['MatMul', 'Gemm', 'FusedMatMul']);
// Not counted in what a step's kernels write (`bytesWritten`), which bounds the step from below: outputs onnxruntime
// may place on their input's buffer (writing nothing), and copies, which may write faster than an arithmetic pass.
const NOT_COUNTED_AS_WRITTEN = new Set([
  'Reshape',
  'Unsqueeze',
  'Squeeze',
  'Flatten',
  'Identity',
  'Split',
  'Concat',
  'Gather',
  'Slice',
  'Transpose',
  'Expand',
]);
const NETWORK_PRODUCTS = 'MatMul/Gemm (network)';
const OPTIMIZER = 'optimizer (Adam)';
const bytesOf = (events) => events.reduce((sum, e) => sum + Number(e.args?.output_size ?? 0), 0);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** The first `count` batches of `batches`. */
function firstBatches(batches, count) {
  const per = (array) => array.subarray(0, (array.length / batches.count) * count);
  return { ...batches, count, features: per(batches.features), labels: per(batches.labels), dropoutMasks: batches.dropoutMasks.map(per) };
}

/** A profiled session's events, after `use(session)` ran it; the profile's directory is removed. */
export async function profiled(open, use) {
  const directory = mkdtempSync(join(tmpdir(), 'hyperproto-profile-'));
  const session = await open(join(directory, 'profile'));
  try {
    await use(session);
    session.endProfiling();
    const file = readdirSync(directory).find((name) => name.endsWith('.json'));
    return JSON.parse(readFileSync(join(directory, file), 'utf8'));
  } finally {
    await session.release();
    rmSync(directory, { recursive: true, force: true });
  }
}

export const kernelEvents = (events) => events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
export const nodeName = (event) => event.name.slice(0, -'_kernel_time'.length);

/**
 * Seconds per run of a plain session of `model` fed `feeds`, opened as the training session is (`options`, its
 * ComputeSessionOptions): the median of 7 rounds of 10 runs.
 */
async function plainSecondsPerRun(model, feeds, options) {
  const session = await ort.InferenceSession.create(model, computeSessionOptions(options));
  try {
    await session.run(feeds);
    const times = [];
    for (let round = 0; round < 7; round++) {
      const started = performance.now();
      for (let i = 0; i < 10; i++) await session.run(feeds);
      times.push((performance.now() - started) / 1000 / 10);
    }
    return median(times);
  } finally {
    await session.release();
  }
}

/** The executor's cost per node (seconds): chains of 20 and 220 products of a 1-element tensor. */
async function executorCostPerNode(options) {
  const chain = (nodes) => {
    const g = new GraphBuilder('executor_cost');
    let x = g.input('x', 'float32', [1]);
    // Not 1: onnxruntime removes a product with 1.
    const factor = g.initializer('factor', Float32Array.of(0.5), []);
    for (let i = 0; i < nodes; i++) x = g.node('Mul', [x, factor]);
    g.output(x, 'float32', [1]);
    return g.toModel();
  };
  const feeds = { x: new ort.Tensor('float32', Float32Array.of(1), [1]) };
  return ((await plainSecondsPerRun(chain(220), feeds, options)) - (await plainSecondsPerRun(chain(20), feeds, options))) / 200;
}

/** The Scan's own cost per iteration (seconds), besides its body's node: a Scan of 1,000 iterations of one Add. */
async function scanCostPerIteration(perNode, options) {
  const iterations = 1000;
  const body = new GraphBuilder('scan_cost_body');
  const carried = body.input('carried', 'float32', [1]);
  const item = body.input('item', 'float32', [1]);
  body.output(body.node('Add', [carried, item]), 'float32', [1]);
  const g = new GraphBuilder('scan_cost');
  const start = g.input('start', 'float32', [1]);
  const items = g.input('items', 'float32', [iterations, 1]);
  g.nodeOutputs('Scan', [start, items], { body, num_scan_inputs: 1 }, { outputs: ['end'] });
  g.output('end', 'float32', [1]);
  const seconds = await plainSecondsPerRun(
    g.toModel(),
    {
      start: new ort.Tensor('float32', Float32Array.of(0), [1]),
      items: new ort.Tensor('float32', new Float32Array(iterations).fill(1), [iterations, 1]),
    },
    options,
  );
  return Math.max(0, seconds / iterations - perNode);
}

/** Which part of the step a profiled kernel is. */
function partOf(event) {
  const op = event.args?.op_name ?? '?';
  if (nodeName(event).startsWith(TRAINING_NODE_PREFIXES.optimizer)) return OPTIMIZER;
  if (MATRIX_PRODUCTS.has(op)) {
    // A product with a row of ones is a sum over the batch, not the network's MatMul work.
    const rows = Object.values(event.args?.input_type_shape?.[0] ?? {})[0]?.[0];
    return rows === 1 && op === 'MatMul' ? 'column sums (MatMul of a ones row)' : NETWORK_PRODUCTS;
  }
  return op;
}

/**
 * The breakdown of one step (seconds per batch) of a training session of `spec` on `batches` (K of them per run).
 * Also the bytes that the step's arithmetic kernels other than the network's products write per step (`bytesWritten`,
 * over `writingKernels` of them; `optimizerBytesWritten` of it by Adam's), for the step's floor (train.bench.mjs).
 */
export async function stepBreakdown(spec, batches, { runs = 3, rounds = 5 } = {}) {
  const plain = await TrainingSession.create(spec);
  const fewer = firstBatches(batches, 1);
  const times = { many: [], few: [] };
  try {
    await plain.run(batches);
    for (let round = 0; round < rounds; round++) {
      for (const [key, fed] of [
        ['many', batches],
        ['few', fewer],
      ]) {
        const started = performance.now();
        for (let i = 0; i < runs; i++) await plain.run(fed);
        times[key].push((performance.now() - started) / 1000 / runs);
      }
    }
  } finally {
    await plain.release();
  }
  const many = median(times.many);
  const perBatch = (many - median(times.few)) / (batches.count - fewer.count);
  const step = many / batches.count;
  const perRun = Math.max(0, step - perBatch);

  const profiledRuns = runs * 2;
  const events = await profiled(
    (prefix) => TrainingSession.create({ ...spec, session: { ...spec.session, profileFilePrefix: prefix } }),
    async (session) => {
      for (let i = 0; i <= profiledRuns; i++) await session.run(batches);
    },
  );
  const scans = kernelEvents(events)
    .filter((e) => e.args?.op_name === 'Scan')
    .slice(-profiledRuns);
  const from = scans[0].ts;
  const kernels = kernelEvents(events).filter((e) => e.ts >= from && e.args?.op_name !== 'Scan');
  const body = kernels.filter((e) => Object.values(TRAINING_NODE_PREFIXES).some((prefix) => nodeName(e).startsWith(prefix)));
  const bodyNodes = new Set(body.map(nodeName)).size;
  const perNode = await executorCostPerNode(spec.session);
  const betweenKernels = bodyNodes * perNode + (await scanCostPerIteration(perNode, spec.session));

  const parts = new Map();
  for (const event of kernels) parts.set(partOf(event), (parts.get(partOf(event)) ?? 0) + event.dur);
  const kernelTotal = [...parts.values()].reduce((a, b) => a + b, 0);
  const compute = step - perRun - betweenKernels;
  const writing = body.filter((e) => partOf(e) !== NETWORK_PRODUCTS && !NOT_COUNTED_AS_WRITTEN.has(e.args?.op_name));
  const steps = profiledRuns * batches.count;
  return {
    step,
    perRun,
    betweenKernels,
    perNode,
    bodyNodes,
    bytesWritten: bytesOf(writing) / steps,
    optimizerBytesWritten: bytesOf(writing.filter((e) => partOf(e) === OPTIMIZER)) / steps,
    writingKernels: new Set(writing.map(nodeName)).size,
    parts: [...parts].map(([name, time]) => ({ name, seconds: (compute * time) / kernelTotal })).sort((a, b) => b.seconds - a.seconds),
  };
}

/** The breakdown as lines of text: milliseconds per step and shares of the step, kernels below 2% summed up. */
export function formatBreakdown(breakdown, outsideRun = 0) {
  const total = breakdown.step + outsideRun;
  const line = (name, seconds) =>
    `    ${name.padEnd(44)} ${(seconds * 1000).toFixed(3).padStart(7)} ms  ${((100 * seconds) / total).toFixed(1).padStart(5)}%`;
  const small = breakdown.parts.filter((p) => p.seconds < 0.02 * total);
  const lines = breakdown.parts.filter((p) => !small.includes(p)).map((p) => line(p.name, p.seconds));
  if (small.length)
    lines.push(
      line(
        `${small.length} other kinds of operator`,
        small.reduce((sum, p) => sum + p.seconds, 0),
      ),
    );
  const perNode = `${(breakdown.perNode * 1e6).toFixed(1)} us`;
  lines.push(line(`Scan between kernels (${breakdown.bodyNodes} nodes x ${perNode})`, breakdown.betweenKernels));
  lines.push(line('per run, over its batches: state, batches in/out', breakdown.perRun));
  if (outsideRun) lines.push(line('outside the runs: batches, masks, validation', outsideRun));
  return lines;
}
