#!/usr/bin/env node
// `pnpm bench train`: training speed of the onnxruntime engine against onnxruntime's own sustained MatMul rate,
// and against the tfjs engine (wasm, and tfjs-node when installed), all measured in this one run.
//
// ratio = achieved training FLOP rate / sustained MatMul rate on the model's own shapes, where
//   training FLOPs per sample = 6 x (300*300 + 300*300 + 300*U), U = C for softmax, D for HPN (forward 2, backward 4),
//   sustained rate            = onnxruntime running ~20 chained products of [B x 300] @ [300 x 300] and of
//                               [B x 300] @ [300 x U] in one session run, weighted by the model's mix of the two.
// Training speed comes from the engine's own trainer (trainOnnxMlp) on random data: the fastest of epochs 2 to 6
// (the first one warms up and settles how many batches a run holds), validation of a tiny split included.
// Both rates are the best of several windows of similar length (an epoch of 24 steps; about 0.3 s of chained
// products), so that other work on a shared machine disturbs the ratio less.
//
// Flags: --quick (fewer batches; for CI smoke runs), --no-tfjs (skip the tfjs engines), --no-large (skip the
// 10,000- and 100,000-class step times).
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createMatrix, createRng } from '@hyperproto/core';
import { hpnHead } from '@hyperproto/head-hpn';
import { softmaxHead } from '@hyperproto/head-softmax';
import { GraphBuilder } from '@hyperproto/onnx-graph';
import * as ort from 'onnxruntime-node';
import { sessionOptions, trainOnnxMlp } from '../dist/index.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const WIDTH = 300;
const HIDDEN = 300;
const BATCH = 256;
const TARGET = 0.4;

/** Random features and labels (training speed does not depend on what is learnt). */
function randomDataset(classes, trainRows, validationRows, seed = 1) {
  const rng = createRng(seed);
  const split = (rows) => {
    const features = createMatrix(rows, WIDTH);
    rng.fillNormal(features.data);
    return { features, labels: Int32Array.from({ length: rows }, () => rng.int(classes)) };
  };
  return { classes, inputWidth: WIDTH, train: split(trainRows), validation: split(validationRows), test: split(1), info: {} };
}

function randomPrototypes(classes, dims, seed = 2) {
  const rng = createRng(seed);
  const m = createMatrix(classes, dims);
  rng.fillNormal(m.data);
  for (let c = 0; c < classes; c++) {
    const row = m.data.subarray(c * dims, (c + 1) * dims);
    const norm = Math.hypot(...row);
    for (let j = 0; j < dims; j++) row[j] /= norm;
  }
  return m;
}

function makeHead(kind, classes, dims) {
  return kind === 'softmax'
    ? softmaxHead.build({ classes }, {})
    : hpnHead.build({ classes, prototypes: randomPrototypes(classes, dims) }, {});
}

const trainer = (batchSize, maxEpochs) => ({
  hiddenUnits: HIDDEN,
  hiddenLayers: 2,
  dropout: 0.3,
  batchSize,
  learningRate: 1e-3,
  patience: 10,
  maxEpochs,
});

/** Seconds per step and samples per second of the onnxruntime engine's trainer: its fastest epoch after the first. */
async function onnxTrainingSpeed(kind, classes, dims, steps, epochs = 6) {
  const dataset = randomDataset(classes, steps * BATCH, 64);
  const head = makeHead(kind, classes, dims);
  const result = await trainOnnxMlp({ seed: 1, rng: createRng(1) }, { dataset, head, trainer: trainer(BATCH, epochs) });
  const seconds = Math.min(...result.history.slice(1).map((r) => r.seconds));
  return { secondsPerStep: seconds / steps, samplesPerSecond: (steps * BATCH) / seconds, outputUnits: head.outputUnits };
}

/** onnxruntime's sustained rate (FLOP/s) on `count` chained products [rows x 300] @ [300 x units] and back. */
async function sustainedMatMulRate(rows, units, count = 20) {
  const g = new GraphBuilder('matmul_chain');
  const rng = createRng(3);
  const weight = (r, c) => g.initializer('w', rng.fillNormal(new Float32Array(r * c), 0, 1 / Math.sqrt(r)), [r, c]);
  let x = g.input('x', 'float32', [rows, WIDTH]);
  const w = weight(WIDTH, units);
  let flops = 0;
  for (let i = 0; i < count; i++) {
    if (units === WIDTH) {
      x = g.node('MatMul', [x, i % 2 ? w : weight(WIDTH, WIDTH)]);
    } else if (i % 2 === 0) {
      x = g.node('MatMul', [x, w]); // [rows, 300] @ [300, units]
    } else {
      x = g.node('Gemm', [x, w], { transB: 1 }); // back to [rows, 300]: the same FLOPs, as in the backward pass
    }
    flops += 2 * rows * WIDTH * units;
  }
  g.output(x, 'float32');
  const session = await ort.InferenceSession.create(g.toModel(), sessionOptions());
  const feeds = { x: new ort.Tensor('float32', rng.fillNormal(new Float32Array(rows * WIDTH)), [rows, WIDTH]) };
  await session.run(feeds);
  // Sustained: windows of consecutive runs about as long as a training epoch here, the best of five windows.
  const started = performance.now();
  await session.run(feeds);
  const runsPerWindow = Math.max(1, Math.round(0.3 / ((performance.now() - started) / 1000)));
  let best = Infinity;
  for (let window = 0; window < 5; window++) {
    const windowStarted = performance.now();
    for (let i = 0; i < runsPerWindow; i++) await session.run(feeds);
    best = Math.min(best, (performance.now() - windowStarted) / 1000 / runsPerWindow);
  }
  await session.release();
  return flops / best;
}

/** The model's mix: per sample, two 300x300 products and one 300xU product (forward; backward is twice each). */
async function referenceRate(units) {
  const square = await sustainedMatMulRate(BATCH, WIDTH);
  const head = await sustainedMatMulRate(BATCH, units);
  const squareFlops = 2 * (2 * WIDTH * HIDDEN);
  const headFlops = 2 * HIDDEN * units;
  return { rate: (squareFlops + headFlops) / (squareFlops / square + headFlops / head), square, head };
}

const trainingFlopsPerSample = (units) => 6 * (WIDTH * HIDDEN + HIDDEN * HIDDEN + HIDDEN * units);

/** Samples per second of the tfjs engine on one backend, in a child process (a process holds one tfjs backend). */
function tfjsSpeed(backend, kind, classes, dims, steps) {
  const child = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--tfjs-child', kind, String(classes), String(dims), String(steps)],
    {
      env: { ...process.env, HYPERPROTO_TFJS_BACKEND: backend },
      encoding: 'utf8',
    },
  );
  const line = child.stdout.trim().split('\n').pop() ?? '';
  if (child.status !== 0 || !line.startsWith('{')) {
    const stderr = `${child.stderr}`;
    if (/not installed/.test(stderr)) return { error: 'not installed' };
    const why = stderr.split('\n').find((l) => /Error:/.test(l)) ?? 'failed';
    return { error: why.trim().slice(0, 120) };
  }
  return JSON.parse(line);
}

async function tfjsChild([kind, classes, dims, steps]) {
  const { initTfjs } = await import('@hyperproto/tfjs-backend');
  const { trainMlp } = await import('@hyperproto/engine-tfjs');
  const runtime = await initTfjs();
  const dataset = randomDataset(Number(classes), Number(steps) * BATCH, 64);
  const head = makeHead(kind, Number(classes), Number(dims));
  const result = await trainMlp(runtime, { seed: 1, rng: createRng(1) }, { dataset, head, trainer: trainer(BATCH, 2) });
  const seconds = result.history[1].seconds;
  console.log(JSON.stringify({ samplesPerSecond: (Number(steps) * BATCH) / seconds, backend: runtime.backend }));
}

async function main() {
  if (args.has('--tfjs-child')) return tfjsChild(process.argv.slice(3));
  console.log(
    `onnxruntime-node ${ort.env.versions.node}, Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'})`,
  );
  console.log(`batch ${BATCH}, MLP ${WIDTH}-${HIDDEN}-${HIDDEN}-U, dropout 0.3, Adam; target ratio >= ${TARGET}\n`);

  let allMet = true;
  const configs = [
    { kind: 'softmax', classes: 1000, dims: 0, label: 'softmax, C = 1,000' },
    { kind: 'hpn', classes: 1000, dims: 100, label: 'HPN, C = 1,000, D = 100' },
  ];
  const steps = quick ? 12 : 24;
  for (const config of configs) {
    const ours = await onnxTrainingSpeed(config.kind, config.classes, config.dims, steps);
    const reference = await referenceRate(ours.outputUnits);
    const achieved = ours.samplesPerSecond * trainingFlopsPerSample(ours.outputUnits);
    const ratio = achieved / reference.rate;
    allMet &&= ratio >= TARGET;
    console.log(`${config.label}`);
    console.log(
      `  sustained MatMul: ${(reference.square / 1e9).toFixed(1)} GFLOP/s on [${BATCH}x300]@[300x300], ${(reference.head / 1e9).toFixed(1)} GFLOP/s on [${BATCH}x300]@[300x${ours.outputUnits}]; model mix ${(reference.rate / 1e9).toFixed(1)} GFLOP/s`,
    );
    console.log(`  training: ${(achieved / 1e9).toFixed(1)} GFLOP/s, ${(ours.secondsPerStep * 1000).toFixed(2)} ms per step`);
    console.log(`  ratio: ${ratio.toFixed(2)} (${ratio >= TARGET ? 'meets' : 'misses'} the target ${TARGET})`);
    const speeds = [['onnxruntime', Math.round(ours.samplesPerSecond)]];
    if (!args.has('--no-tfjs')) {
      const tfjsSteps = quick ? 3 : 8;
      for (const backend of ['wasm', 'tensorflow']) {
        const speed = tfjsSpeed(backend, config.kind, config.classes, config.dims, backend === 'wasm' ? tfjsSteps : steps);
        speeds.push([
          backend === 'wasm' ? 'tfjs-wasm' : 'tfjs-node',
          speed.error ? `n/a (${speed.error})` : Math.round(speed.samplesPerSecond),
        ]);
      }
    }
    console.log(`  samples/s: ${speeds.map(([name, value]) => `${name} ${value}`).join(' | ')}\n`);
  }

  if (!args.has('--no-large')) {
    console.log('step time, onnxruntime engine, batch 256: softmax against HPN (D = 100)');
    for (const classes of [10_000, 100_000]) {
      const largeSteps = quick ? 3 : classes > 10_000 ? 6 : 12;
      const softmax = await onnxTrainingSpeed('softmax', classes, 0, largeSteps, 3).catch((error) => ({ error }));
      const hpn = await onnxTrainingSpeed('hpn', classes, 100, largeSteps, 3).catch((error) => ({ error }));
      const ms = (r) => (r.error ? `failed (${r.error.message})` : `${(r.secondsPerStep * 1000).toFixed(1)} ms`);
      const times =
        !softmax.error && !hpn.error ? `: softmax takes ${(softmax.secondsPerStep / hpn.secondsPerStep).toFixed(1)}x the time of HPN` : '';
      console.log(`  C = ${classes.toLocaleString('en-US')}: softmax ${ms(softmax)}, HPN ${ms(hpn)} per step${times}`);
    }
  }
  if (!allMet) process.exitCode = 1;
}

await main();
