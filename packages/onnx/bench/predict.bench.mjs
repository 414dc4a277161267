#!/usr/bin/env node
// `pnpm bench predict`: inference speed of an exported model in onnxruntime-node against the same model's
// TensorFlow.js predict on the wasm backend, and against onnxruntime's own MatMul rate on the model's shapes, all
// measured in this one run. Models: the seed's network (300 -> 300 -> 300, batch norm folded) with a softmax head
// (C units) and an HPN head (D = 100, cosines to C prototypes), random weights (speed does not depend on them),
// at batch 1 and 1,024 for C = 1,000 and 100,000.
//
// Times are the best of several rounds that alternate between the contenders (see timeInterleaved).
//   speedup     = tfjs time per call / onnxruntime time per call, tfjs being the faster of
//                 `predict()` (the TrainedModel API: uploads the weights on every call) and the same forward pass
//                 with the weights kept resident as tensors;
//   MatMul share = model FLOP rate / raw rate, both counting 2 x N x (the model's MatMul sizes) FLOPs; raw = one
//                 onnxruntime session running only the chain of MatMuls of the model's shapes.
// Targets (batch 1,024, C = 1,000): speedup >= 20, MatMul share >= 50%.
//
// Flags: --quick (C = 1,000 only), --no-tfjs (onnxruntime only).
import { availableParallelism } from 'node:os';
import { createMatrix, createRng } from '@hyperproto/core';
import { initialMlpWeights, mlpShape, mlpWeightsByRole } from '@hyperproto/mlp';
import { createTrainedMlp, evaluateHeadExpr } from '@hyperproto/engine-tfjs';
import { hpnHead } from '@hyperproto/head-hpn';
import { softmaxHead } from '@hyperproto/head-softmax';
import { GraphBuilder } from '@hyperproto/onnx-graph';
import { initTfjs } from '@hyperproto/tfjs-backend';
import * as ort from 'onnxruntime-node';
import { exportOnnx } from '../dist/index.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const withTfjs = !args.has('--no-tfjs');
const WIDTH = 300;
const HIDDEN = 300;
const HPN_DIMS = 100;
const TARGET_SPEEDUP = 20;
const TARGET_SHARE = 0.5;
const trainer = { hiddenUnits: HIDDEN, hiddenLayers: 2, dropout: 0.3, batchSize: 128, learningRate: 1e-3, patience: 10, maxEpochs: 200 };

// The benchmark compares with the wasm backend whatever else is installed.
process.env.HYPERPROTO_TFJS_BACKEND = 'wasm';

function unitRows(classes, dims, seed) {
  const m = createMatrix(classes, dims, createRng(seed).fillNormal(new Float32Array(classes * dims)));
  for (let c = 0; c < classes; c++) {
    const row = m.data.subarray(c * dims, (c + 1) * dims);
    let norm = 0;
    for (const v of row) norm += v * v;
    norm = Math.sqrt(norm);
    for (let j = 0; j < dims; j++) row[j] /= norm;
  }
  return m;
}

function makeModel(kind, classes) {
  const head =
    kind === 'softmax' ? softmaxHead.build({ classes }, {}) : hpnHead.build({ classes, prototypes: unitRows(classes, HPN_DIMS, 3) }, {});
  const rng = createRng(1);
  const shape = mlpShape(WIDTH, trainer, head);
  const weights = initialMlpWeights(shape, rng);
  // Non-trivial batch-norm statistics, as a trained model has.
  for (const layer of mlpWeightsByRole(shape, weights, 'the benchmark model').hidden) {
    rng.fillNormal(layer.beta.data, 0, 0.1);
    rng.fillNormal(layer.movingMean.data, 0, 0.1);
    rng.fillUniform(layer.movingVariance.data, 0.5, 2);
  }
  return { inputWidth: WIDTH, classes, trainer, head, weights, batchNormEpsilon: 1e-3 };
}

/** The model's matrix products as [k, m] pairs (each costs 2 x N x k x m FLOPs). */
function matmulShapes(kind, classes) {
  const trunk = [
    [WIDTH, HIDDEN],
    [HIDDEN, HIDDEN],
  ];
  return kind === 'softmax' ? [...trunk, [HIDDEN, classes]] : [...trunk, [HIDDEN, HPN_DIMS], [HPN_DIMS, classes]];
}

const flopsPerRow = (shapes) => shapes.reduce((sum, [k, m]) => sum + 2 * k * m, 0);

/**
 * A session computing only x @ W1 @ W2 @ ... with the model's shapes: onnxruntime's raw MatMul rate for them. Built
 * with MatMul and with Gemm nodes (the same MLAS kernels behind different operators); the faster one counts.
 */
function rawMatmulModel(shapes, op) {
  const g = new GraphBuilder('raw_matmul');
  let value = g.input('x', 'float32', ['N', shapes[0][0]]);
  shapes.forEach(([k, m], i) => {
    const w = g.initializer(`w${i}`, createRng(10 + i).fillNormal(new Float32Array(k * m), 0, 1 / Math.sqrt(k)), [k, m]);
    value = g.node(op, [value, w]);
  });
  g.output(value, 'float32', ['N', shapes.at(-1)[1]]);
  return g.toModel();
}

/** Median seconds per call: warm-up calls, then at least `minCalls` and about `seconds` of timed calls. */
async function timePerCall(fn, { warmup = 2, minCalls = 3, seconds = 1.5, maxCalls = 200 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const times = [];
  const start = performance.now();
  while (times.length < maxCalls && (times.length < minCalls || performance.now() - start < seconds * 1000)) {
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / 1000);
  }
  return median(times);
}

/**
 * Seconds per call of each function, timed in alternating rounds (each round a few calls of each) so that a change
 * in the machine's load affects all of them alike. The result is the best round of each: on a shared machine the
 * round least disturbed by other work is the closest to what the code itself costs.
 */
async function timeInterleaved(fns, { rounds = 7, seconds = 2 } = {}) {
  const once = async (fn) => {
    const t = performance.now();
    await fn();
    return (performance.now() - t) / 1000;
  };
  const calibrated = [];
  for (const fn of fns) {
    await fn();
    calibrated.push(await once(fn));
  }
  // Calls per round so that all rounds together take about `seconds`.
  const total = calibrated.reduce((a, b) => a + b, 0);
  const calls = Math.max(1, Math.min(100, Math.floor(seconds / rounds / Math.max(total, 1e-6))));
  const perRound = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    // A different contender goes first each round, and each gets one untimed call after the switch: none is always
    // the one that runs on caches the previous one left cold.
    for (let j = 0; j < fns.length; j++) {
      const i = (r + j) % fns.length;
      await fns[i]();
      const t = performance.now();
      for (let c = 0; c < calls; c++) await fns[i]();
      perRound[i].push((performance.now() - t) / 1000 / calls);
    }
  }
  return perRound.map((times) => Math.min(...times));
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function features(rows, seed) {
  return createMatrix(rows, WIDTH, createRng(seed).fillNormal(new Float32Array(rows * WIDTH), 0, 1.5));
}

async function onnxRunner(bytes, outputNames) {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
  const input = session.inputNames[0];
  return {
    run: async (x) => session.run({ [input]: new ort.Tensor('float32', x.data, [x.rows, x.cols]) }, outputNames ?? session.outputNames),
    release: () => session.release(),
  };
}

/** The same forward pass as the engine's predict, with the weights uploaded once and kept as tensors. */
function residentTfjs(tf, model) {
  const network = mlpWeightsByRole(mlpShape(model.inputWidth, model.trainer, model.head), model.weights, 'the benchmark model');
  const tensor = (w) => tf.tensor(w.data, w.shape);
  const layers = network.hidden.map((layer) => ({
    kernel: tensor(layer.kernel),
    gamma: tensor(layer.gamma),
    beta: tensor(layer.beta),
    mean: tensor(layer.movingMean),
    inverseStd: tf.tidy(() => tf.rsqrt(tf.add(tensor(layer.movingVariance), model.batchNormEpsilon))),
  }));
  const headKernel = tensor(network.head.kernel);
  const headBias = tensor(network.head.bias);
  const constants = Object.fromEntries(
    Object.entries(model.head.constants).map(([name, m]) => [name, tf.tensor2d(m.data, [m.rows, m.cols])]),
  );
  return {
    run: async (x) => {
      const [scores, labels] = tf.tidy(() => {
        let h = tf.tensor2d(x.data, [x.rows, x.cols]);
        for (const l of layers) h = tf.relu(tf.add(tf.mul(tf.mul(tf.sub(tf.matMul(h, l.kernel), l.mean), l.inverseStd), l.gamma), l.beta));
        const output = tf.add(tf.matMul(h, headKernel), headBias);
        const s = evaluateHeadExpr(tf, model.head.scores, { output, constants });
        return [s, tf.argMax(s, 1)];
      });
      const result = { scores: await scores.data(), labels: await labels.data() };
      scores.dispose();
      labels.dispose();
      return result;
    },
    release: () => tf.dispose([...layers.flatMap((l) => Object.values(l)), headKernel, headBias, ...Object.values(constants)]),
  };
}

const fmtMs = (s) =>
  s === undefined ? 'n/a' : s < 0.01 ? `${(s * 1000).toFixed(3)} ms` : s < 10 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(1)} s`;
const fmtRate = (flops, s) => `${(flops / s / 1e9).toFixed(1)}`;

const tfjs = withTfjs ? await initTfjs() : undefined;
if (tfjs && tfjs.backend !== 'wasm') throw new Error(`expected the tfjs wasm backend, got ${tfjs.backend}`);
console.log(
  `onnxruntime-node ${ort.env.versions?.common ?? ''} (${availableParallelism()} cores) vs tfjs ${tfjs ? `${tfjs.tf.version.tfjs} on ${tfjs.backend}` : '(skipped)'}`,
);
console.log('head     classes  batch | onnxruntime  raw MatMul  share (GFLOP/s model/raw) | tfjs predict  tfjs resident  speedup');

const results = [];
for (const classes of quick ? [1000] : [1000, 100_000]) {
  for (const kind of ['softmax', 'hpn']) {
    const model = makeModel(kind, classes);
    const bytes = exportOnnx(model, { metadata: { head: kind } });
    const shapes = matmulShapes(kind, classes);
    const onnx = await onnxRunner(bytes);
    const rawMatMul = await onnxRunner(rawMatmulModel(shapes, 'MatMul'));
    const rawGemm = await onnxRunner(rawMatmulModel(shapes, 'Gemm'));
    const trained = tfjs ? createTrainedMlp(tfjs.tf, model) : undefined;
    const resident = tfjs ? residentTfjs(tfjs.tf, model) : undefined;
    for (const batch of [1, 1024]) {
      const x = features(batch, batch);
      const flops = flopsPerRow(shapes) * batch;
      // [1024, 100,000] outputs: a tfjs call takes many seconds, so it is timed once, with the resident weights only.
      const big = classes * batch >= 1e7;
      const onnxCalls = [() => onnx.run(x), () => rawMatMul.run(x), () => rawGemm.run(x)];
      let onnxSeconds, matmulSeconds, gemmSeconds, predictSeconds, residentSeconds;
      try {
        if (tfjs && !big) {
          [onnxSeconds, matmulSeconds, gemmSeconds, predictSeconds, residentSeconds] = await timeInterleaved(
            [...onnxCalls, () => trained.predict(x), () => resident.run(x)],
            {
              seconds: batch === 1 ? 3 : 8,
            },
          );
        } else {
          [onnxSeconds, matmulSeconds, gemmSeconds] = await timeInterleaved(onnxCalls, big ? { rounds: 2, seconds: 0 } : { seconds: 3 });
          if (tfjs) residentSeconds = await timePerCall(() => resident.run(x), { warmup: 1, minCalls: 1, seconds: 0, maxCalls: 1 });
        }
      } catch (error) {
        console.log(`  failed at ${kind} C=${classes} batch ${batch}: ${error.message.split('\n')[0]}`);
        if (onnxSeconds === undefined) [onnxSeconds, matmulSeconds, gemmSeconds] = await timeInterleaved(onnxCalls, { seconds: 3 });
      }
      const rawSeconds = Math.min(matmulSeconds, gemmSeconds);
      const tfjsBest =
        predictSeconds === undefined && residentSeconds === undefined
          ? undefined
          : Math.min(predictSeconds ?? Infinity, residentSeconds ?? Infinity);
      const row = {
        head: kind,
        classes,
        batch,
        onnxSeconds,
        rawSeconds,
        matmulShare: rawSeconds / onnxSeconds,
        modelGflops: flops / onnxSeconds / 1e9,
        rawGflops: flops / rawSeconds / 1e9,
        tfjsPredictSeconds: predictSeconds ?? null,
        tfjsResidentSeconds: residentSeconds ?? null,
        speedup: tfjsBest === undefined ? null : tfjsBest / onnxSeconds,
        tfjsGflops: tfjsBest === undefined ? null : flops / tfjsBest / 1e9,
        // No onnxruntime model of these shapes can beat tfjs by more than its raw MatMul rate allows.
        speedupCeiling: tfjsBest === undefined ? null : tfjsBest / rawSeconds,
      };
      results.push(row);
      console.log(
        `${kind.padEnd(8)} ${String(classes).padStart(7)} ${String(batch).padStart(6)} | ${fmtMs(onnxSeconds).padStart(11)} ${fmtMs(rawSeconds).padStart(11)}  ${(100 * row.matmulShare).toFixed(0).padStart(4)}% (${fmtRate(flops, onnxSeconds)}/${fmtRate(flops, rawSeconds)})`.padEnd(
          80,
        ) +
          ` | ${fmtMs(predictSeconds).padStart(12)} ${fmtMs(residentSeconds).padStart(14)}  ${row.speedup === null ? 'n/a' : `${row.speedup.toFixed(1)}x`}`,
      );
    }
    await onnx.release();
    await rawMatMul.release();
    await rawGemm.release();
    resident?.release();
  }
}

const targets = results.filter((r) => r.batch === 1024 && r.classes === 1000);
let failed = 0;
for (const r of targets) {
  const share = r.matmulShare >= TARGET_SHARE;
  const speed = r.speedup === null || r.speedup >= TARGET_SPEEDUP;
  if (!share || !speed) failed++;
  console.log(
    `target ${r.head} C=1000 batch 1024: MatMul share ${(100 * r.matmulShare).toFixed(0)}% (>= ${100 * TARGET_SHARE}%: ${share ? 'met' : 'NOT met'}), ` +
      `speedup over tfjs-wasm ${r.speedup === null ? 'not measured' : `${r.speedup.toFixed(1)}x (>= ${TARGET_SPEEDUP}x: ${speed ? 'met' : 'NOT met'})`}`,
  );
  if (r.speedup !== null) {
    console.log(
      `  tfjs-wasm runs it at ${r.tfjsGflops.toFixed(1)} GFLOP/s and onnxruntime's raw MatMul chain at ${r.rawGflops.toFixed(1)} GFLOP/s here: ` +
        `a ceiling of ${r.speedupCeiling.toFixed(1)}x for any onnxruntime model of these shapes on this machine`,
    );
  }
}
console.log(JSON.stringify({ benchmark: 'predict', results }));
process.exit(failed ? 1 : 0);
