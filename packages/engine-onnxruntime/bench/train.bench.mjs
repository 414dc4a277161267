#!/usr/bin/env node
// `pnpm bench train`: training speed of the onnxruntime engine against onnxruntime's own sustained MatMul rate,
// and against the tfjs engine (wasm, and tfjs-node when installed), all measured in this one run.
//
// ratio = achieved training FLOP rate / sustained MatMul rate on the model's own shapes, where the FLOPs counted
// are the MatMul work the training graph really does for an MLP in-h-h-U (in = h = 300; U = C for softmax, D for
// HPN) and a batch of B rows:
//   forward          2 B (in h + h h + h U)
//   weight gradients 2 B (in h + h h + h U)    every layer
//   input gradients  2 B (h h + h U)           every layer but the first (the features need no gradient)
//   per step         2 B (2 in h + 3 h h + 3 h U)
// and the sustained rate is onnxruntime running ~20 chained products of [B x 300] @ [300 x 300] and of
// [B x 300] @ [300 x U] in one session run, weighted by that mix of the two shapes. Each shape's rate is the better
// of onnxruntime on the thread budget and on one thread: the engine tries both for its training session and keeps
// the faster (TrainingSessionSpec.tryOneThread), so the MatMul it is held to gets the same choice; and its session
// is opened with the training session's options (computeSessionOptions with `spinning`: on several threads, pool threads that spin
// within a run, as the engine's budget side of the trial).
//
// Timing is the same for every engine: in each of several alternating rounds, every engine trains a fresh model
// on the same random data (the same steps per epoch, validation of a tiny split included) for WARMUP + MEASURED
// epochs, and the round's figure is the mean time of the measured epochs; each engine's figure is the median of
// its rounds. The tfjs engines run in child processes (a process holds one tfjs backend) started once and asked
// for one round at a time, so rounds of onnxruntime and of tfjs alternate and share the machine's conditions.
// The sustained MatMul rate is measured in the same rounds (a window of consecutive runs, about 0.3 s, of each
// shape and thread count after the engines' turns), and is the median of those windows: on a shared machine, a rate
// measured once before or after the training would compare two different loads. The warm-up epochs are the engine's
// own start, which a training of hundreds of epochs pays once: growing its runs to many batches, and its thread trial,
// whose first run of each shape runs on both sides and which then times two runs of each side (an epoch here is one
// or two runs). With two warm-up epochs the trial was still trying in the measured ones, which then timed its runs
// on the slower side and its checks: 0.34 / 0.34 / 0.45 / 0.38 where six gave 0.39 / 0.38 / 0.45 / 0.43.
//
// In the same windows, onnxruntime's time per element-wise pass (Add, Mul) over the row of every trainable weight (what
// each of Adam's ten passes reads) and over [batch x 300] (the network's passes), on one thread and on the budget: the
// bench prints what the budget's further threads gain on the products and on those passes. On the 2-core machines
// here the products gained 1.2-1.7x and the passes 0.7-1.2x (onnxruntime does not split a pass over [batch x 300]
// between threads; it splits those over the row, which gain nothing from it): further threads speed up the products'
// share of a step only, while the ratio's reference takes every product at the budget's rate.
//
// Then the breakdown of a step (see step-breakdown.mjs), on the threads the engine's trial kept in most rounds: where
// its time goes, from onnxruntime's profiler, and the engine's work outside the training model's runs (batch labels and
// rows, dropout masks, validation), timed in the rounds. Below it, the floor of the step (stepFloor): its products at
// the reference rate, the bytes its other arithmetic kernels write (from the profile) at the fastest rate a plain Add
// or Mul pass wrote at in this run, and the Scan's and each run's own costs. The ratio cannot exceed the products'
// share of that floor (up to the noise of the rates): a target above it needs a step that writes less, not faster
// kernels.
//
// Target (issue 15): ratio >= 0.50 at batch 256 and >= 0.40 at batch 128; the exit code is 1 when a configuration
// misses it. Flags: --quick (fewer steps and rounds; for CI smoke runs), --no-tfjs (skip the tfjs engines),
// --no-large (skip the 10,000- and 100,000-class step times), --no-breakdown (skip the breakdowns),
// --threads=N (onnxruntime's intra-op thread budget, for training and for the MatMul reference alike; default:
// every core this process may use, as the engine's own default).
import { fork } from 'node:child_process';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createMatrix, createRng } from '@hyperproto/core';
import { hpnHead } from '@hyperproto/head-hpn';
import { softmaxHead } from '@hyperproto/head-softmax';
import { GraphBuilder } from '@hyperproto/onnx-graph';
import { computeSessionOptions } from '@hyperproto/onnxruntime-session';
import * as ort from 'onnxruntime-node';
import { initialMlpWeights } from '@hyperproto/mlp';
import { fillDropoutMask, TrainingSession, trainOnnxMlp } from '../dist/index.js';
import { randomPrototypes } from './child-measurement.mjs';
import { formatBreakdown, stepBreakdown } from './step-breakdown.mjs';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const threadsFlag = process.argv.find((a) => a.startsWith('--threads='));
const THREADS = threadsFlag ? Number(threadsFlag.slice('--threads='.length)) : undefined;
if (THREADS !== undefined && !(Number.isInteger(THREADS) && THREADS > 0)) {
  console.error(`--threads takes a positive whole number, got ${threadsFlag}`);
  process.exit(2);
}
const WIDTH = 300;
const HIDDEN = 300;
const TARGETS = new Map([
  [128, 0.4],
  [256, 0.5],
]);
const STEPS = quick ? 8 : 24;
const ROUNDS = quick ? 3 : 5;
const WARMUP_EPOCHS = 6;
const MEASURED_EPOCHS = quick ? 1 : 2;

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

function makeHead(kind, classes, dims) {
  return kind === 'softmax'
    ? softmaxHead.build({ classes }, {})
    : hpnHead.build({ classes, prototypes: randomPrototypes(createRng(2), classes, dims) }, {});
}

const trainer = (batchSize, maxEpochs) => ({
  hiddenUnits: HIDDEN,
  hiddenLayers: 2,
  dropout: 0.3,
  batchSize,
  learningRate: 1e-3,
  patience: 1000,
  maxEpochs,
});

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/**
 * One round of one configuration, the same for every engine: a fresh model trained for WARMUP + MEASURED epochs of
 * `steps` batches; the mean seconds of the measured epochs. `onEpoch` hears of each finished epoch.
 */
async function oneRound(train, { kind, classes, dims, batch, steps, measured = MEASURED_EPOCHS }, onEpoch = () => {}) {
  const dataset = randomDataset(classes, steps * batch, 64);
  const head = makeHead(kind, classes, dims);
  const ctx = { seed: 1, rng: createRng(1), progress: onEpoch, ...(THREADS ? { threads: THREADS } : {}) };
  const result = await train(ctx, { dataset, head, trainer: trainer(batch, WARMUP_EPOCHS + measured) });
  result.model.dispose();
  const seconds = result.history.slice(WARMUP_EPOCHS).map((r) => r.seconds);
  if (seconds.length !== measured) throw new Error(`trained ${result.history.length} epochs, expected ${WARMUP_EPOCHS + measured}`);
  return { seconds: seconds.reduce((a, b) => a + b, 0) / seconds.length, backend: result.backend, outputUnits: head.outputUnits };
}

/**
 * An onnxruntime round that also times the training model's runs in the measured epochs (TrainingSession.run,
 * wrapped for the round): the rest of those epochs is the engine's work outside onnxruntime.
 */
async function onnxruntimeRound(config) {
  const run = TrainingSession.prototype.run;
  let measuring = false;
  let inRuns = 0;
  let trial = 'off';
  TrainingSession.prototype.run = async function timedRun(batches) {
    const started = performance.now();
    try {
      return await run.call(this, batches);
    } finally {
      if (measuring) {
        inRuns += (performance.now() - started) / 1000;
        trial = this.threadTrial;
      }
    }
  };
  try {
    const round = await oneRound(trainOnnxMlp, config, (epoch) => (measuring = epoch >= WARMUP_EPOCHS));
    return { ...round, outsideRuns: round.seconds - inRuns / (config.measured ?? MEASURED_EPOCHS), trial };
  } finally {
    TrainingSession.prototype.run = run;
  }
}

/**
 * onnxruntime's sustained rate (FLOP/s) on `count` chained products [rows x 300] @ [300 x units] and back, measured
 * one window at a time: `window()` runs the chain for about 0.3 s and returns that window's rate.
 */
async function matmulChain(rows, units, threads, count = 20) {
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
  const chain = await timedChain(g, [rows, WIDTH], threads, rng);
  return { window: async () => flops / (await chain.secondsPerRun()), release: chain.release };
}

/**
 * onnxruntime's time per element-wise pass (Add and Mul alternating, 20 chained in one run) over [rows x cols], on
 * `threads` threads opened as `matmulChain`'s, one window of about 0.3 s at a time: `window()` returns microseconds per
 * pass. The step's work besides its products is such passes (Adam's over the row of every weight, the network's over
 * [batch x 300]): set beside the products' rates on one thread and on the budget, it shows how much of the step the
 * budget's further threads can speed up at all.
 */
async function elementwiseChain(rows, cols, threads, count = 20) {
  const g = new GraphBuilder('elementwise_chain');
  const rng = createRng(3);
  let x = g.input('x', 'float32', [rows, cols]);
  const other = g.initializer('other', rng.fillNormal(new Float32Array(rows * cols), 1, 0.01), [rows, cols]);
  for (let i = 0; i < count; i++) x = g.node(i % 2 ? 'Mul' : 'Add', [x, other]);
  g.output(x, 'float32');
  const chain = await timedChain(g, [rows, cols], threads, rng);
  return { window: async () => (1e6 * (await chain.secondsPerRun())) / count, release: chain.release };
}

/**
 * A chain's graph (input `x` of `shape`, random normal) in a session on `threads` threads, opened as the engine opens
 * its training session on these threads (several spin within a run, see computeSessionOptions): the same conditions.
 * `secondsPerRun()` times one window of consecutive runs, about 0.3 s.
 */
async function timedChain(g, shape, threads, rng) {
  const session = await ort.InferenceSession.create(g.toModel(), computeSessionOptions({ threads, spinning: threads > 1 }));
  const feeds = { x: new ort.Tensor('float32', rng.fillNormal(new Float32Array(shape[0] * shape[1])), shape) };
  await session.run(feeds);
  const started = performance.now();
  await session.run(feeds);
  const runsPerWindow = Math.max(1, Math.round(0.3 / ((performance.now() - started) / 1000)));
  return {
    async secondsPerRun() {
      const windowStarted = performance.now();
      for (let i = 0; i < runsPerWindow; i++) await session.run(feeds);
      return (performance.now() - windowStarted) / 1000 / runsPerWindow;
    },
    release: () => session.release(),
  };
}

/**
 * The least time a step of this training graph can take in onnxruntime on this machine, from what this run measured:
 * its products at the reference rate, every byte its other arithmetic kernels write (breakdown.bytesWritten; copies
 * and reshapes not counted) at the fastest rate a plain Add or Mul pass wrote at in this run's windows (over the
 * weight row or over [batch x 300], on one thread or the budget), and the Scan's and each run's own costs (see
 * step-breakdown.mjs). Left out: each kernel's fixed cost, arithmetic slower than an Add (Sqrt, Div, Exp) and the
 * engine's work outside the runs. The ratio cannot exceed the products' share of that floor (up to the noise of the
 * rates): a target above it needs a graph that writes less, not faster kernels.
 */
function stepFloor(breakdown, productSeconds, rates, outputUnits, batch) {
  // The passes are timed in microseconds; an Add or Mul pass writes 4 bytes per value.
  const microsecondsPerByte = Math.min(
    ...rates.flatMap((r) => [r.row / (4 * trainableValues(outputUnits)), r.batch / (4 * batch * HIDDEN)]),
  );
  const secondsPerByte = microsecondsPerByte / 1e6;
  const written = breakdown.bytesWritten * secondsPerByte;
  const fixed = breakdown.betweenKernels + breakdown.perRun;
  const seconds = productSeconds + written + fixed;
  return { seconds, productSeconds, written, fixed, secondsPerByte, breakdown, ratio: productSeconds / seconds };
}

const formatFloor = (floor) =>
  `  floor of this graph's step: ${ms(floor.seconds)}, ratio at most ${floor.ratio.toFixed(2)} with these operators (see stepFloor)\n` +
  `    = products at the reference rate ${ms(floor.productSeconds)}` +
  ` + ${mb(floor.breakdown.bytesWritten)} (Adam's ${mb(floor.breakdown.optimizerBytesWritten)}) written by ${floor.breakdown.writingKernels} other arithmetic kernels` +
  ` at ${(1 / floor.secondsPerByte / 1e9).toFixed(1)} GB/s (the fastest element-wise pass here) ${ms(floor.written)}` +
  ` + the Scan and each run's own costs ${ms(floor.fixed)}`;

const ms = (seconds) => `${(seconds * 1000).toFixed(3)} ms`;
const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;

/** Trainable values of the model: the three kernels, gamma and beta of both hidden layers, the head's bias. */
const trainableValues = (units) => WIDTH * HIDDEN + HIDDEN * HIDDEN + HIDDEN * units + 4 * HIDDEN + units;

/**
 * A ratio as the bench prints it: two decimals, or three where two would round a miss up to the target (0.398 is not
 * shown as 0.40 beside "misses the target 0.40").
 */
const shownRatio = (ratio, target) =>
  ratio < target && ratio.toFixed(2) === target.toFixed(2) ? (Math.floor(ratio * 1000) / 1000).toFixed(3) : ratio.toFixed(2);

/** Products per sample of each shape in one training step: [.. x 300] @ [300 x 300] and [.. x 300] @ [300 x U]. */
const SQUARE_PRODUCTS = 2 + 2 + 1; // forward in-h and h-h, their weight gradients, the input gradient of h-h only
const HEAD_PRODUCTS = 3; // forward, weight gradient, input gradient

/** MatMul FLOPs of one training step: 2 B (2 in h + 3 h h + 3 h U). */
const trainingFlopsPerStep = (batch, units) => 2 * batch * (2 * WIDTH * HIDDEN + 3 * HIDDEN * HIDDEN + 3 * HIDDEN * units);

/** The sustained rate on the model's mix of shapes (a time-weighted mean of the two rates). */
function mixRate(units, square, head) {
  const squareFlops = SQUARE_PRODUCTS * 2 * WIDTH * HIDDEN;
  const headFlops = HEAD_PRODUCTS * 2 * HIDDEN * units;
  return (squareFlops + headFlops) / (squareFlops / square + headFlops / head);
}

/** A tfjs engine on one backend in a child process, asked for one round at a time. */
function tfjsWorker(backend) {
  const child = fork(fileURLToPath(import.meta.url), ['--tfjs-child'], {
    env: { ...process.env, HYPERPROTO_TFJS_BACKEND: backend },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const why = () => {
    if (/not installed/.test(stderr)) return 'not installed';
    return (stderr.split('\n').find((l) => /Error:/.test(l)) ?? 'failed').trim().slice(0, 120);
  };
  // Resolves with undefined once the child has its backend, or with the reason it stopped.
  const exited = new Promise((resolve) => child.once('exit', () => resolve(why())));
  const ready = Promise.race([new Promise((resolve) => child.once('message', () => resolve(undefined))), exited]);
  const ask = async (config) => {
    const failed = await ready;
    if (failed) return { error: failed };
    const reply = new Promise((resolve) => child.once('message', resolve));
    child.send(config);
    const answer = await Promise.race([reply, exited]);
    return typeof answer === 'string' ? { error: answer } : answer;
  };
  return { name: backend === 'wasm' ? 'tfjs-wasm' : 'tfjs-node', ask, close: () => child.connected && child.disconnect() };
}

async function tfjsChild() {
  const { initTfjs } = await import('@hyperproto/tfjs-backend');
  const { trainMlp } = await import('@hyperproto/engine-tfjs');
  const runtime = await initTfjs();
  const wanted = process.env.HYPERPROTO_TFJS_BACKEND;
  if (wanted && runtime.backend !== wanted) {
    console.error(`Error: the ${wanted} backend is not installed (${runtime.backend} runs)`);
    process.exit(1);
  }
  process.on('message', async (config) => {
    try {
      process.send(await oneRound((ctx, job) => trainMlp(runtime, ctx, job), config));
    } catch (error) {
      process.send({ error: String(error?.message ?? error).slice(0, 120) });
    }
  });
  process.send({ ready: true });
}

/** The step breakdown of one configuration, on random batches, as many per run as an epoch of the rounds has. */
async function configBreakdown({ kind, classes, dims, batch }, threads) {
  const head = makeHead(kind, classes, dims);
  const settings = trainer(batch, 1);
  const shape = { inputWidth: WIDTH, hiddenUnits: HIDDEN, hiddenLayers: settings.hiddenLayers, outputUnits: head.outputUnits };
  const count = Math.min(STEPS, 32);
  const rng = createRng(4);
  const features = rng.fillNormal(new Float32Array(count * batch * WIDTH));
  const labels = Int32Array.from({ length: count * batch }, () => rng.int(classes));
  const dropoutMasks = Array.from({ length: settings.hiddenLayers }, () => {
    const mask = new Float32Array(count * batch * HIDDEN);
    fillDropoutMask(rng, mask, 0, mask.length, settings.dropout);
    return mask;
  });
  const spec = {
    shape,
    head,
    learningRate: settings.learningRate,
    dropout: settings.dropout,
    weights: initialMlpWeights(shape, rng.fork('weights')),
    // As the engine runs on these threads after its trial: several spin within a run.
    session: { threads, spinning: threads > 1 },
  };
  return { count, ...(await stepBreakdown(spec, { count, rows: batch, features, labels, dropoutMasks })) };
}

const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

const fmtRate = (flops) => `${(flops / 1e9).toFixed(1)} GFLOP/s`;

async function main() {
  if (args.has('--tfjs-child')) return tfjsChild();
  console.log(
    `onnxruntime-node ${ort.env.versions.node}, Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), ` +
      `onnxruntime thread budget ${THREADS ?? availableParallelism()}; load average ${loadAverage()} (on a shared machine, ratios move with it)`,
  );
  console.log(
    `MLP ${WIDTH}-${HIDDEN}-${HIDDEN}-U, dropout 0.3, Adam; ${STEPS} steps per epoch, ${ROUNDS} alternating rounds of ` +
      `${WARMUP_EPOCHS} + ${MEASURED_EPOCHS} epochs per engine, median of rounds; ` +
      `targets: ${[...TARGETS].map(([batch, target]) => `ratio >= ${target.toFixed(2)} at batch ${batch}`).join(', ')}\n`,
  );

  const workers = args.has('--no-tfjs') ? [] : [tfjsWorker('wasm'), tfjsWorker('tensorflow')];
  const budget = THREADS ?? availableParallelism();
  const kinds = [
    { kind: 'softmax', classes: 1000, dims: 0, label: 'softmax, C = 1,000' },
    { kind: 'hpn', classes: 1000, dims: 100, label: 'HPN, C = 1,000, D = 100' },
  ];
  const summary = [];
  for (const batch of TARGETS.keys()) {
    for (const base of kinds) {
      const config = { ...base, batch, steps: STEPS };
      const target = TARGETS.get(batch);
      const rounds = { onnxruntime: [] };
      for (const worker of workers) rounds[worker.name] = [];
      const outputUnits = makeHead(config.kind, config.classes, config.dims).outputUnits;
      // The products on the thread budget and on one thread (when the budget is more), each measured in every round.
      const threadCounts = [...new Set([budget, 1])];
      const chains = [];
      for (const threads of threadCounts) {
        chains.push({
          threads,
          square: await matmulChain(batch, WIDTH, threads),
          head: await matmulChain(batch, outputUnits, threads),
          row: await elementwiseChain(1, trainableValues(outputUnits), threads),
          batch: await elementwiseChain(batch, HIDDEN, threads),
        });
      }
      const windows = chains.map(() => ({ square: [], head: [], row: [], batch: [] }));
      const outsideRuns = [];
      const trials = [];
      for (let round = 0; round < ROUNDS; round++) {
        const ours = await onnxruntimeRound(config);
        rounds.onnxruntime.push(ours.seconds);
        outsideRuns.push(ours.outsideRuns);
        trials.push(ours.trial);
        for (const worker of workers) {
          const reply = await worker.ask(config);
          rounds[worker.name].push(reply.error ? reply.error : reply.seconds);
        }
        for (const [i, chain] of chains.entries()) {
          for (const part of ['square', 'head', 'row', 'batch']) windows[i][part].push(await chain[part].window());
        }
      }
      for (const chain of chains) {
        for (const part of ['square', 'head', 'row', 'batch']) await chain[part].release();
      }
      const rates = chains.map((chain, i) => ({
        threads: chain.threads,
        square: median(windows[i].square),
        head: median(windows[i].head),
        row: median(windows[i].row),
        batch: median(windows[i].batch),
      }));
      const square = Math.max(...rates.map((r) => r.square));
      const head = Math.max(...rates.map((r) => r.head));
      const reference = mixRate(outputUnits, square, head);
      const flops = trainingFlopsPerStep(batch, outputUnits);
      const seconds = median(rounds.onnxruntime);
      const achieved = (flops * STEPS) / seconds;
      const ratio = achieved / reference;
      const meets = ratio >= target;
      console.log(`${config.label}, batch ${batch}`);
      const byThreads = rates
        .map((r) => `${r.threads} thread${r.threads > 1 ? 's' : ''} ${fmtRate(r.square)} / ${fmtRate(r.head)}`)
        .join(', ');
      console.log(
        `  sustained MatMul: ${fmtRate(square)} on [${batch}x300]@[300x300], ${fmtRate(head)} on [${batch}x300]@[300x${outputUnits}] ` +
          `(the better of ${byThreads}); model mix ${fmtRate(reference)}`,
      );
      const oneThread = rates.find((r) => r.threads === 1);
      const budgetRates = rates.find((r) => r.threads === budget);
      if (oneThread && budgetRates && budget > 1) {
        // The budget's gain: its rate over one thread's for the products, one thread's time over its for the passes.
        const speedup = (over, under) => `${(over / under).toFixed(2)}x`;
        console.log(
          `  ${budget} threads against 1: products ${speedup(budgetRates.square, oneThread.square)} / ${speedup(budgetRates.head, oneThread.head)}; ` +
            `element-wise passes ${speedup(oneThread.row, budgetRates.row)} over the row of ${trainableValues(outputUnits).toLocaleString('en-US')} weights ` +
            `(${oneThread.row.toFixed(1)} / ${budgetRates.row.toFixed(1)} us a pass), ` +
            `${speedup(oneThread.batch, budgetRates.batch)} over [${batch}x300] (${oneThread.batch.toFixed(1)} / ${budgetRates.batch.toFixed(1)} us)`,
        );
      }
      const oneThreadShare = trials.filter((t) => t === 'one').length;
      const outcomes = ['one', 'budget', 'trying', 'off']
        .map((outcome) => [outcome, trials.filter((t) => t === outcome).length])
        .filter(([, n]) => n)
        .map(([outcome, n]) => `${outcome} ${n}`)
        .join(', ');
      console.log(
        `  training: ${fmtRate(achieved)} (${(flops / 1e9).toFixed(3)} GFLOP of MatMul per step), ${((seconds / STEPS) * 1000).toFixed(2)} ms per step; ` +
          `its thread trial by the measured epochs, in ${ROUNDS} rounds: ${outcomes}`,
      );
      console.log(`  ratio: ${shownRatio(ratio, target)} (${meets ? 'meets' : 'misses'} the target ${target.toFixed(2)})`);
      const speeds = Object.entries(rounds).map(([name, values]) => {
        const error = values.find((v) => typeof v === 'string');
        if (error) return `${name} n/a (${error})`;
        const samples = (STEPS * batch) / median(values);
        const relative = name === 'onnxruntime' ? '' : ` (onnxruntime runs ${(median(values) / seconds).toFixed(1)}x as fast)`;
        return `${name} ${Math.round(samples)}${relative}`;
      });
      console.log(`  samples/s: ${speeds.join(' | ')}`);
      let floor;
      if (!args.has('--no-breakdown')) {
        // On the threads the engine kept in most rounds.
        const breakdown = await configBreakdown(config, 2 * oneThreadShare > ROUNDS ? 1 : budget);
        console.log(`  where a step's time goes (${breakdown.count} batches per run; onnxruntime profiler, see step-breakdown.mjs):`);
        console.log(formatBreakdown(breakdown, median(outsideRuns) / STEPS).join('\n'));
        floor = stepFloor(breakdown, flops / reference, rates, outputUnits, batch);
        console.log(formatFloor(floor));
      } else {
        console.log(`  outside the runs (batches, masks, validation): ${((median(outsideRuns) / STEPS) * 1000).toFixed(3)} ms per step`);
      }
      console.log('');
      summary.push({ label: `${config.label}, batch ${batch}`, ratio, target, meets, floor: floor?.ratio });
    }
  }
  for (const worker of workers) worker.close();

  if (!args.has('--no-large')) {
    console.log('step time, onnxruntime engine, batch 256: softmax against HPN (D = 100)');
    for (const classes of [10_000, 100_000]) {
      const largeSteps = quick ? 3 : classes > 10_000 ? 6 : 12;
      const time = (kind, dims) =>
        oneRound(trainOnnxMlp, { kind, classes, dims, batch: 256, steps: largeSteps, measured: 1 })
          .then((r) => ({ secondsPerStep: r.seconds / largeSteps }))
          .catch((error) => ({ error }));
      const softmax = await time('softmax', 0);
      const hpn = await time('hpn', 100);
      const ms = (r) => (r.error ? `failed (${r.error.message})` : `${(r.secondsPerStep * 1000).toFixed(1)} ms`);
      const times =
        !softmax.error && !hpn.error ? `: softmax takes ${(softmax.secondsPerStep / hpn.secondsPerStep).toFixed(1)}x the time of HPN` : '';
      console.log(`  C = ${classes.toLocaleString('en-US')}: softmax ${ms(softmax)}, HPN ${ms(hpn)} per step${times}`);
    }
    console.log('');
  }

  console.log(`summary (load average now ${loadAverage()})`);
  for (const { label, ratio, target, meets, floor } of summary) {
    const bound = floor === undefined ? '' : `  (at most ${floor.toFixed(2)} at this graph's floor)`;
    console.log(
      `  ${label.padEnd(36)} ratio: ${shownRatio(ratio, target).padEnd(5)}  target ${target.toFixed(2)}  ${meets ? 'meets ' : 'MISSES'}${bound}`,
    );
  }
  if (summary.some((s) => !s.meets)) process.exitCode = 1;
}

await main();
